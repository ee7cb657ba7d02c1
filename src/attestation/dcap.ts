import {
  X509Certificate,
  createHash,
  createPublicKey,
  timingSafeEqual,
  verify as cryptoVerify,
} from 'node:crypto';
import { SemirtError } from '../errors.js';
import {
  parseCollateral,
  parseQeIdentity,
  parseTcbInfo,
  type Collateral,
  type TcbInfo,
} from './collateral.js';
import { readPckExtension, type PckExtension } from './pck-extension.js';
import {
  checkRevocation,
  parsePemChain,
  signatureValid,
  verifyCrl,
  verifyPath,
  type VerifiedCrl,
} from './pki.js';
import {
  TEE_TYPE_SGX,
  TEE_TYPE_TDX,
  parseQuote,
  type ParsedQuote,
  type Td10Report,
} from './quote.js';
import type { Scheme, VerifiedEvidence, Verifier } from './types.js';

/**
 * Intel DCAP quote verification with node:crypto: the quote's PCK chain, the CRLs, the QE report
 * and its binding to the attestation key, the quote signature, and the TCB info and QE identity
 * collateral, ending in a TCB status with advisory ids. Each failed check throws its own code.
 */

/** What a DCAP quote proves once verified (the scheme is added by the verifier that ran it). */
export type DcapResult = Omit<VerifiedEvidence, 'scheme'> & {
  teeType: 'sgx' | 'tdx';
  fmspc: string;
};

const SPKI_P256_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');

function checkWindow(what: string, issueDate: Date, nextUpdate: Date, now: Date): void {
  if (now < issueDate || now > nextUpdate) {
    throw new SemirtError(
      'ATTESTATION_COLLATERAL_EXPIRED',
      `Cannot use ${what}: it is current from ${issueDate.toISOString()} to ${nextUpdate.toISOString()}, not at ${now.toISOString()}`,
    );
  }
}

/** Verifies a signed collateral document's issuer chain and its signature over the exact bytes. */
function verifySignedJson(
  what: 'tcb_info' | 'qe_identity',
  text: string,
  signatureHex: string,
  chainPem: string,
  root: X509Certificate,
  crls: readonly VerifiedCrl[],
  now: Date,
): void {
  const path = verifyPath(
    parsePemChain(chainPem, `${what}_issuer_chain`),
    root,
    now,
    `${what}_issuer_chain`,
  );
  checkRevocation(path, root, crls, `${what}_issuer_chain`);
  if (
    !signatureValid(
      path[0]!,
      Buffer.from(text, 'utf8'),
      Buffer.from(signatureHex, 'hex'),
      'ieee-p1363',
    )
  ) {
    throw new SemirtError(
      what === 'tcb_info' ? 'ATTESTATION_TCB_INFO_SIGNATURE' : 'ATTESTATION_QE_IDENTITY_SIGNATURE',
      `Cannot verify ${what}: its signature does not verify with the TCB signing certificate`,
    );
  }
}

/** Intel's rule for folding the QE's (or TDX module's) status into the platform's. */
function converge(platform: string, other: string): string {
  if (other === 'Revoked') return 'Revoked';
  if (other !== 'OutOfDate') return platform;
  if (platform === 'UpToDate' || platform === 'SWHardeningNeeded') return 'OutOfDate';
  if (platform === 'ConfigurationNeeded' || platform === 'ConfigurationAndSWHardeningNeeded') {
    return 'OutOfDateConfigurationNeeded';
  }
  return platform;
}

function union(a: readonly string[], b: readonly string[]): string[] {
  return [...new Set([...a, ...b])];
}

function maskedEqual(a: Uint8Array, b: Uint8Array, mask: Uint8Array): boolean {
  if (a.length < mask.length || b.length < mask.length) return false;
  return mask.every((m, i) => (a[i]! & m) === (b[i]! & m));
}

interface Status {
  status: string;
  advisoryIds: string[];
}

function matchPlatformLevel(info: TcbInfo, pck: PckExtension, td: Td10Report | undefined): Status {
  // The first two TDX components describe the module itself when a module identity applies.
  const tdxStart = td && td.teeTcbSvn[1]! > 0 && info.tdxModuleIdentities.length > 0 ? 2 : 0;
  for (const level of info.tcbLevels) {
    const sgxOk =
      pck.pceSvn >= level.tcb.pcesvn &&
      level.tcb.sgxtcbcomponents.every((c, i) => pck.tcbComponents[i]! >= c.svn);
    if (!sgxOk) continue;
    if (td) {
      const tdx = level.tcb.tdxtcbcomponents;
      if (!tdx) continue;
      if (!tdx.every((c, i) => i < tdxStart || td.teeTcbSvn[i]! >= c.svn)) continue;
    }
    return { status: level.tcbStatus, advisoryIds: level.advisoryIDs };
  }
  throw new SemirtError(
    'ATTESTATION_TCB_UNMATCHED',
    `Cannot verify quote: no TCB level of the TCB info matches the platform (PCE SVN ${pck.pceSvn}, components ${pck.tcbComponents.join('.')})`,
  );
}

function matchTdxModule(info: TcbInfo, td: Td10Report): Status | undefined {
  const version = td.teeTcbSvn[1]!;
  const mismatch = (detail: string): SemirtError =>
    new SemirtError('ATTESTATION_TCB_INFO_MISMATCH', `Cannot verify TDX quote: ${detail}`);
  if (version === 0 || info.tdxModuleIdentities.length === 0) {
    const module = info.tdxModule;
    if (!module) throw mismatch('the TCB info has no tdxModule');
    if (
      !Buffer.from(module.mrsigner, 'hex').equals(td.mrSignerSeam) ||
      !maskedEqual(
        td.seamAttributes,
        Buffer.from(module.attributes, 'hex'),
        Buffer.from(module.attributesMask, 'hex'),
      )
    ) {
      throw mismatch('the TDX module signer or attributes differ from the TCB info');
    }
    return undefined;
  }
  const id = `TDX_${version.toString(16).toUpperCase().padStart(2, '0')}`;
  const identity = info.tdxModuleIdentities.find((m) => m.id === id);
  if (!identity) throw mismatch(`the TCB info has no module identity "${id}"`);
  if (
    !Buffer.from(identity.mrsigner, 'hex').equals(td.mrSignerSeam) ||
    !maskedEqual(
      td.seamAttributes,
      Buffer.from(identity.attributes, 'hex'),
      Buffer.from(identity.attributesMask, 'hex'),
    )
  ) {
    throw mismatch(`the TDX module signer or attributes differ from identity "${id}"`);
  }
  const level = identity.tcbLevels.find((l) => td.teeTcbSvn[0]! >= l.tcb.isvsvn);
  if (!level) {
    throw new SemirtError(
      'ATTESTATION_TCB_UNMATCHED',
      `Cannot verify TDX quote: module SVN ${td.teeTcbSvn[0]} matches no level of "${id}"`,
    );
  }
  return { status: level.tcbStatus, advisoryIds: level.advisoryIDs };
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** Verifies a DCAP quote against collateral with `root` pinned; fails closed with distinct codes. */
export function verifyDcapQuote(
  quoteBytes: Uint8Array,
  collateral: Collateral,
  options: { root: X509Certificate; now: Date },
): DcapResult {
  const { root, now } = options;
  const quote: ParsedQuote = parseQuote(quoteBytes);
  const teeType = quote.body.type === 'sgx' ? 'sgx' : 'tdx';

  // 1. The PCK chain carried by the quote must lead to the pinned root.
  const pckPath = verifyPath(
    parsePemChain(quote.pckChainPem, 'the PCK certificate chain'),
    root,
    now,
    'the PCK certificate chain',
  );
  const pckLeaf = pckPath[0]!;

  // 2. CRLs: the root CA's, then the PCK CA's (with its own issuer chain); both must be current.
  const rootCrl = verifyCrl(Buffer.from(collateral.root_ca_crl, 'hex'), root, now, 'root_ca_crl');
  const pckCrlPath = verifyPath(
    parsePemChain(collateral.pck_crl_issuer_chain, 'pck_crl_issuer_chain'),
    root,
    now,
    'pck_crl_issuer_chain',
  );
  checkRevocation(pckCrlPath, root, [rootCrl], 'pck_crl_issuer_chain');
  const pckCrl = verifyCrl(Buffer.from(collateral.pck_crl, 'hex'), pckCrlPath[0]!, now, 'pck_crl');
  const crls = [rootCrl, pckCrl];
  checkRevocation(pckPath, root, crls, 'the PCK certificate chain');

  // 3. Signed collateral: TCB info and QE identity.
  const tcbInfo = parseTcbInfo(collateral.tcb_info);
  const qeIdentity = parseQeIdentity(collateral.qe_identity);
  verifySignedJson(
    'tcb_info',
    collateral.tcb_info,
    collateral.tcb_info_signature,
    collateral.tcb_info_issuer_chain,
    root,
    crls,
    now,
  );
  verifySignedJson(
    'qe_identity',
    collateral.qe_identity,
    collateral.qe_identity_signature,
    collateral.qe_identity_issuer_chain,
    root,
    crls,
    now,
  );
  checkWindow('tcb_info', tcbInfo.issueDate, tcbInfo.nextUpdate, now);
  checkWindow('qe_identity', qeIdentity.issueDate, qeIdentity.nextUpdate, now);

  // 4. The QE report is signed by the PCK key and binds the attestation key.
  if (!signatureValid(pckLeaf, quote.qeReportBytes, quote.qeReportSignature, 'ieee-p1363')) {
    throw new SemirtError(
      'ATTESTATION_QE_REPORT_SIGNATURE',
      'Cannot verify quote: the QE report signature does not verify with the PCK key',
    );
  }
  const binding = createHash('sha256')
    .update(quote.attestationKey)
    .update(quote.qeAuthData)
    .digest();
  const qeData = quote.qeReport.reportData;
  if (
    !timingSafeEqual(binding, qeData.subarray(0, 32)) ||
    qeData.subarray(32).some((b) => b !== 0)
  ) {
    throw new SemirtError(
      'ATTESTATION_QE_REPORT_BINDING',
      'Cannot verify quote: the QE report data is not SHA-256(attestation key ‖ QE authentication data)',
    );
  }

  // 5. The QE matches Intel's (or the sim authority's) QE identity.
  const expectedQeId = teeType === 'sgx' ? 'QE' : 'TD_QE';
  const qe = quote.qeReport;
  const qeMismatch = (detail: string): SemirtError =>
    new SemirtError(
      'ATTESTATION_QE_IDENTITY_MISMATCH',
      `Cannot verify quote: the quoting enclave ${detail}`,
    );
  if (qeIdentity.id !== expectedQeId || qeIdentity.version !== 2) {
    throw qeMismatch(
      `identity is "${qeIdentity.id}" version ${qeIdentity.version} (expected "${expectedQeId}" version 2)`,
    );
  }
  if (!qeIdentity.mrsigner.equals(qe.mrSigner))
    throw qeMismatch(`MRSIGNER ${hex(qe.mrSigner)} is not ${hex(qeIdentity.mrsigner)}`);
  if (qe.isvProdId !== qeIdentity.isvprodid)
    throw qeMismatch(`product id ${qe.isvProdId} is not ${qeIdentity.isvprodid}`);
  if (((qe.miscSelect ^ qeIdentity.miscselect) & qeIdentity.miscselectMask) !== 0)
    throw qeMismatch('MISCSELECT differs');
  if (!maskedEqual(qe.attributes, qeIdentity.attributes, qeIdentity.attributesMask))
    throw qeMismatch('attributes differ');
  const qeLevel = qeIdentity.tcbLevels.find((l) => qe.isvSvn >= l.tcb.isvsvn);
  if (!qeLevel) throw qeMismatch(`ISV SVN ${qe.isvSvn} is below every QE identity TCB level`);

  // 6. The quote is signed by the attestation key.
  const attestationKey = createPublicKey({
    key: Buffer.concat([SPKI_P256_PREFIX, Buffer.of(4), quote.attestationKey]),
    format: 'der',
    type: 'spki',
  });
  if (
    !cryptoVerify(
      'sha256',
      quote.signedBytes,
      { key: attestationKey, dsaEncoding: 'ieee-p1363' },
      quote.signature,
    )
  ) {
    throw new SemirtError(
      'ATTESTATION_QUOTE_SIGNATURE',
      'Cannot verify quote: the quote signature does not verify with the attestation key',
    );
  }

  // 7. The TCB info describes this platform; the platform's SVNs select a TCB level.
  const pck = readPckExtension(pckLeaf);
  const infoMismatch = (detail: string): SemirtError =>
    new SemirtError('ATTESTATION_TCB_INFO_MISMATCH', `Cannot verify quote: ${detail}`);
  const expectedInfoId = teeType === 'sgx' ? 'SGX' : 'TDX';
  if (tcbInfo.id !== expectedInfoId || tcbInfo.version < (teeType === 'sgx' ? 2 : 3)) {
    throw infoMismatch(
      `the TCB info is "${tcbInfo.id}" version ${tcbInfo.version}, not for an ${expectedInfoId} quote`,
    );
  }
  if (pck.fmspc.toString('hex') !== tcbInfo.fmspc) {
    throw infoMismatch(
      `the PCK FMSPC ${pck.fmspc.toString('hex')} is not the TCB info's ${tcbInfo.fmspc}`,
    );
  }
  if (pck.pceId.toString('hex') !== tcbInfo.pceId) {
    throw infoMismatch(
      `the PCK PCE id ${pck.pceId.toString('hex')} is not the TCB info's ${tcbInfo.pceId}`,
    );
  }
  const td = quote.body.type === 'td10' ? quote.body.report : undefined;
  let status: Status = matchPlatformLevel(tcbInfo, pck, td);
  const moduleStatus = td ? matchTdxModule(tcbInfo, td) : undefined;
  for (const other of [
    moduleStatus,
    { status: qeLevel.tcbStatus, advisoryIds: qeLevel.advisoryIDs },
  ]) {
    if (other)
      status = {
        status: converge(status.status, other.status),
        advisoryIds: union(status.advisoryIds, other.advisoryIds),
      };
  }
  if (status.status === 'Revoked') {
    throw new SemirtError(
      'ATTESTATION_TCB_REVOKED',
      'Cannot verify quote: the TCB level of the platform or quoting enclave is revoked',
    );
  }

  const common = {
    tcbStatus: status.status,
    advisoryIds: status.advisoryIds,
    teeType,
    fmspc: tcbInfo.fmspc,
  } as const;
  if (quote.body.type === 'sgx') {
    const report = quote.body.report;
    return {
      ...common,
      measurement: hex(report.mrEnclave),
      signer: hex(report.mrSigner),
      productId: report.isvProdId,
      svn: report.isvSvn,
      debug: (report.attributes[0]! & 0x02) !== 0,
      reportData: Uint8Array.from(report.reportData),
    };
  }
  const report = quote.body.report;
  return {
    ...common,
    measurement: hex(report.mrTd),
    signer: hex(report.mrSignerSeam),
    productId: 0,
    svn: 0,
    debug: (report.tdAttributes[0]! & 0x01) !== 0,
    reportData: Uint8Array.from(report.reportData),
  };
}

/** Where a verifier gets collateral for a quote's platform (a PCCS cache, a file, the sim authority). */
export type CollateralSource = (teeType: 'sgx' | 'tdx') => Collateral | Promise<Collateral>;

/** Options of a DCAP verifier: the pinned root (DER) and where collateral comes from. */
export interface DcapVerifierOptions {
  scheme: Scheme;
  rootDer: Uint8Array;
  collateral: CollateralSource;
}

/** A Verifier for DCAP quotes of one scheme: SGX v3 quotes for sgx-dcap and sim-dcap, TDX v4 for tdx-dcap. */
export class DcapVerifier implements Verifier {
  readonly scheme: Scheme;
  readonly root: X509Certificate;
  #collateral: CollateralSource;

  constructor(options: DcapVerifierOptions) {
    this.scheme = options.scheme;
    try {
      this.root = new X509Certificate(options.rootDer);
    } catch (error) {
      throw new SemirtError(
        'ATTESTATION_SETUP',
        'Cannot create a DCAP verifier: the pinned root is not a DER certificate',
        { cause: error },
      );
    }
    this.#collateral = options.collateral;
  }

  /** Verifies a quote with collateral from the source; the result carries this verifier's scheme. */
  async verify(evidence: Uint8Array, options: { now: Date }): Promise<VerifiedEvidence> {
    const teeType = quoteTeeType(evidence);
    const expected = this.scheme === 'tdx-dcap' ? 'tdx' : 'sgx';
    if (teeType !== expected) {
      throw new SemirtError(
        'ATTESTATION_NO_VERIFIER',
        `Cannot verify evidence: the ${this.scheme} verifier does not take ${teeType.toUpperCase()} quotes`,
      );
    }
    const collateral = parseCollateral(await this.#collateral(teeType));
    const r = verifyDcapQuote(evidence, collateral, { root: this.root, now: options.now });
    return {
      scheme: this.scheme,
      measurement: r.measurement,
      signer: r.signer,
      productId: r.productId,
      svn: r.svn,
      debug: r.debug,
      tcbStatus: r.tcbStatus,
      advisoryIds: r.advisoryIds,
      reportData: r.reportData,
    };
  }
}

/** Tells an SGX quote from a TDX quote by its header, without verifying anything. */
export function quoteTeeType(evidence: Uint8Array): 'sgx' | 'tdx' {
  if (evidence.length < 8)
    throw new SemirtError(
      'ATTESTATION_QUOTE_MALFORMED',
      `Cannot parse quote: ${evidence.length} bytes is shorter than a header`,
    );
  const view = new DataView(evidence.buffer, evidence.byteOffset, evidence.byteLength);
  const teeType = view.getUint32(4, true);
  if (teeType === TEE_TYPE_SGX) return 'sgx';
  if (teeType === TEE_TYPE_TDX) return 'tdx';
  throw new SemirtError(
    'ATTESTATION_QUOTE_UNSUPPORTED',
    `Cannot verify quote: TEE type 0x${teeType.toString(16)} is neither SGX nor TDX`,
  );
}
