import { X509Certificate, createHash, verify as cryptoVerify } from 'node:crypto';
import { SemirtError } from '../errors.js';
import {
  TAG_BIT_STRING,
  TAG_INTEGER,
  TAG_SEQUENCE,
  decodeOid,
  decodeTime,
  readChildren,
  readTlv,
  type Tlv,
} from './der.js';

/**
 * Certificate chains and CRLs of the DCAP collateral, checked with node:crypto alone. A CRL is
 * tied to its issuer by signature verification (the key is the identity), and every certificate
 * below the root must be covered by a CRL of its issuer: a missing CRL fails closed.
 */

const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';

/** A CRL whose signature has been checked against the key `issuerSpki` (DER SubjectPublicKeyInfo). */
export interface VerifiedCrl {
  readonly issuerSpki: Buffer;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  /** Revoked serial numbers, lowercase hex without leading zeros. */
  readonly revoked: ReadonlySet<string>;
}

/** Normalizes a serial number for comparison: lowercase hex, no leading zeros. */
export function normalizeSerial(hex: string): string {
  return hex.toLowerCase().replace(/^0+(?=.)/, '');
}

const PARSED_CACHE_LIMIT = 256;
const VERIFIED_CACHE_LIMIT = 1024;
/**
 * Signatures already found valid, per signer certificate object (certificates come from the parse
 * cache or are pinned, so the object stands for exact bytes). Only successes are remembered, keyed
 * by the digests of the exact data and signature: a hit is the same check with the same answer.
 * The collateral and the PCK chain recur on every connection; this leaves about one signature
 * check per new quote.
 */
const verifiedSignatures = new WeakMap<X509Certificate, Set<string>>();

/** Verifies an ECDSA-SHA256 signature by `signer`'s key (DER or IEEE P1363 encoding), remembering successes. */
export function signatureValid(
  signer: X509Certificate,
  data: Uint8Array,
  signature: Uint8Array,
  encoding: 'der' | 'ieee-p1363',
): boolean {
  const key = `${encoding}:${createHash('sha256').update(data).digest('hex')}:${createHash('sha256').update(signature).digest('hex')}`;
  let known = verifiedSignatures.get(signer);
  if (known?.has(key)) return true;
  if (!cryptoVerify('sha256', data, { key: signer.publicKey, dsaEncoding: encoding }, signature))
    return false;
  if (!known) verifiedSignatures.set(signer, (known = new Set()));
  if (known.size >= VERIFIED_CACHE_LIMIT) known.clear();
  known.add(key);
  return true;
}

const spkis = new WeakMap<X509Certificate, Buffer>();

/** The DER SubjectPublicKeyInfo of a certificate (computed once per object). */
function spkiOf(cert: X509Certificate): Buffer {
  let spki = spkis.get(cert);
  if (!spki) spkis.set(cert, (spki = cert.publicKey.export({ type: 'spki', format: 'der' })));
  return spki;
}

const issuedBy = new WeakMap<X509Certificate, WeakSet<X509Certificate>>();

/** Tells whether `issuer` issued and signed `cert`, remembering successes per certificate pair. */
function certificateIssuedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  if (issuedBy.get(cert)?.has(issuer) === true) return true;
  if (!(cert.checkIssued(issuer) && cert.verify(issuer.publicKey))) return false;
  let issuers = issuedBy.get(cert);
  if (!issuers) issuedBy.set(cert, (issuers = new WeakSet()));
  issuers.add(issuer);
  return true;
}
/** Parsed certificates by exact PEM block: the same text always parses to the same certificate. */
const parsedCertificates = new Map<string, X509Certificate>();

/** Parses the certificates of a PEM bundle, leaf first; `what` names the chain in errors. */
export function parsePemChain(pem: string, what: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) {
    throw new SemirtError(
      'ATTESTATION_COLLATERAL_MALFORMED',
      `Cannot read ${what}: no PEM certificate found`,
    );
  }
  return blocks.map((block, i) => {
    const cached = parsedCertificates.get(block);
    if (cached) return cached;
    try {
      const cert = new X509Certificate(block);
      // Parsing dominates quote verification; the same few chains recur on every connection.
      if (parsedCertificates.size >= PARSED_CACHE_LIMIT) parsedCertificates.clear();
      parsedCertificates.set(block, cert);
      return cert;
    } catch (error) {
      throw new SemirtError(
        'ATTESTATION_COLLATERAL_MALFORMED',
        `Cannot read ${what}: certificate ${i} is not valid X.509`,
        { cause: error },
      );
    }
  });
}

function crlMalformed(what: string, detail: string, cause?: unknown): SemirtError {
  return new SemirtError('ATTESTATION_CRL_INVALID', `Cannot read ${what}: ${detail}`, { cause });
}

/** Parses a DER CRL, checks its signature with the issuer's key and that it is current at `now`. */
export function verifyCrl(
  der: Uint8Array,
  issuer: X509Certificate,
  now: Date,
  what: string,
): VerifiedCrl {
  let tbs: Tlv;
  let tbsFields: Tlv[];
  let algorithm: string;
  let signature: Uint8Array;
  try {
    const top = readTlv(der);
    if (top.tag !== TAG_SEQUENCE || top.end !== der.length)
      throw new RangeError('not one DER SEQUENCE');
    const [tbsTlv, algTlv, sigTlv] = readChildren(top.value);
    if (!tbsTlv || !algTlv || sigTlv?.tag !== TAG_BIT_STRING)
      throw new RangeError('not a CertificateList');
    tbs = tbsTlv;
    tbsFields = readChildren(tbsTlv.value);
    const algOid = readChildren(algTlv.value)[0];
    if (!algOid) throw new RangeError('no signature algorithm');
    algorithm = decodeOid(algOid.value);
    signature = sigTlv.value.subarray(1);
  } catch (error) {
    if (error instanceof SemirtError) throw error;
    throw crlMalformed(what, 'not a DER CRL', error);
  }
  if (algorithm !== ECDSA_WITH_SHA256) {
    throw crlMalformed(what, `signature algorithm ${algorithm} (expected ecdsa-with-SHA256)`);
  }
  if (!signatureValid(issuer, tbs.raw, signature, 'der')) {
    throw new SemirtError(
      'ATTESTATION_CRL_INVALID',
      `Cannot verify ${what}: its signature does not verify with the key of "${issuer.subject.replace(/\n/g, ', ')}"`,
    );
  }
  // TBSCertList: version? signature issuer thisUpdate nextUpdate? revokedCertificates? [0] extensions?
  let i = tbsFields[0]?.tag === TAG_INTEGER ? 1 : 0;
  i += 2;
  let thisUpdate: Date;
  let nextUpdate: Date;
  const revoked = new Set<string>();
  try {
    const thisTlv = tbsFields[i++];
    const nextTlv = tbsFields[i++];
    if (!thisTlv || !nextTlv) throw new RangeError('thisUpdate or nextUpdate is missing');
    thisUpdate = decodeTime(thisTlv);
    nextUpdate = decodeTime(nextTlv);
    const list = tbsFields[i];
    if (list?.tag === TAG_SEQUENCE) {
      for (const entry of readChildren(list.value)) {
        const serial = readChildren(entry.value)[0];
        if (serial?.tag !== TAG_INTEGER)
          throw new RangeError('a revoked entry has no serial number');
        revoked.add(normalizeSerial(Buffer.from(serial.value).toString('hex')));
      }
    }
  } catch (error) {
    throw crlMalformed(what, 'bad TBSCertList', error);
  }
  if (now < thisUpdate || now > nextUpdate) {
    throw new SemirtError(
      'ATTESTATION_COLLATERAL_EXPIRED',
      `Cannot use ${what}: it is current from ${thisUpdate.toISOString()} to ${nextUpdate.toISOString()}, not at ${now.toISOString()}`,
    );
  }
  return { issuerSpki: spkiOf(issuer), thisUpdate, nextUpdate, revoked };
}

function describe(cert: X509Certificate): string {
  return `"${cert.subject.split('\n').find((line) => line.startsWith('CN=')) ?? cert.subject}"`;
}

function checkValidity(cert: X509Certificate, now: Date, what: string): void {
  const from = new Date(cert.validFrom);
  const to = new Date(cert.validTo);
  if (!(now >= from && now <= to)) {
    throw new SemirtError(
      'ATTESTATION_CERT_EXPIRED',
      `Cannot verify ${what}: certificate ${describe(cert)} is valid from ${from.toISOString()} to ${to.toISOString()}, not at ${now.toISOString()}`,
    );
  }
}

/**
 * Verifies the path of `chain` (leaf first; it may end with the root itself) up to the pinned
 * `root`: signatures, issuer names, CA flags and validity at `now`. Returns the certificates below
 * the root, leaf first, for checkRevocation once the CRLs are known.
 */
export function verifyPath(
  chain: readonly X509Certificate[],
  root: X509Certificate,
  now: Date,
  what: string,
): X509Certificate[] {
  const certs = [...chain];
  while (certs.length > 0 && certs.at(-1)!.raw.equals(root.raw)) certs.pop();
  if (certs.length === 0) {
    throw new SemirtError(
      'ATTESTATION_COLLATERAL_MALFORMED',
      `Cannot verify ${what}: it holds no certificate below the root`,
    );
  }
  for (let i = 0; i < certs.length; i++) {
    const cert = certs[i]!;
    const issuer = certs[i + 1] ?? root;
    const signedBy = certificateIssuedBy(cert, issuer);
    if (!signedBy) {
      if (issuer === root) {
        throw new SemirtError(
          'ATTESTATION_UNTRUSTED_ROOT',
          `Cannot verify ${what}: ${describe(cert)} is not issued by the pinned root ${describe(root)}`,
        );
      }
      throw new SemirtError(
        'ATTESTATION_CERT_CHAIN_INVALID',
        `Cannot verify ${what}: ${describe(cert)} is not signed by ${describe(issuer)}`,
      );
    }
    if (!issuer.ca) {
      throw new SemirtError(
        'ATTESTATION_CERT_CHAIN_INVALID',
        `Cannot verify ${what}: issuer ${describe(issuer)} is not a CA`,
      );
    }
  }
  // Validity after the signatures, so that a foreign chain is reported as such, not as expired.
  checkValidity(root, now, what);
  for (const cert of certs) checkValidity(cert, now, what);
  return certs;
}

/** Checks each certificate of a verified path (leaf first, root excluded) against its issuer's CRL. */
export function checkRevocation(
  path: readonly X509Certificate[],
  root: X509Certificate,
  crls: readonly VerifiedCrl[],
  what: string,
): void {
  for (let i = 0; i < path.length; i++) {
    const cert = path[i]!;
    const issuer = path[i + 1] ?? root;
    const issuerSpki = spkiOf(issuer);
    const crl = crls.find((c) => c.issuerSpki.equals(issuerSpki));
    if (!crl) {
      throw new SemirtError(
        'ATTESTATION_CRL_INVALID',
        `Cannot verify ${what}: no CRL of ${describe(issuer)} is given to check ${describe(cert)}`,
      );
    }
    if (crl.revoked.has(normalizeSerial(cert.serialNumber))) {
      throw new SemirtError(
        'ATTESTATION_CERT_REVOKED',
        `Cannot verify ${what}: certificate ${describe(cert)} (serial ${cert.serialNumber}) is revoked`,
      );
    }
  }
}
