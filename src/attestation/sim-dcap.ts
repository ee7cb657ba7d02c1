import {
  createHash,
  createPrivateKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  X509Certificate,
  type KeyObject,
} from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SemirtError, isSemirtError } from '../errors.js';
import { parseCollateral, parseTcbInfo, type Collateral } from './collateral.js';
import { DcapVerifier } from './dcap.js';
import { SGX_EXTENSION_OID, encodePckExtension, type PckExtension } from './pck-extension.js';
import { encodeSgxHeader, encodeSgxReport, encodeSgxSignatureData } from './quote.js';
import type { Attester, Verifier } from './types.js';
import {
  ECDSA_SHA256,
  generateP256,
  importPrivateKeyPem,
  privateKeyPem,
  randomSerial,
  x509,
} from './x509.js';

/**
 * sim-dcap: a local test attestation authority. It has Intel's PKI shape (a test root CA, a PCK
 * platform CA, a PCK leaf certificate with the SGX extension, a TCB signing certificate, CRLs and
 * signed TCB info / QE identity) and mints quotes in the genuine SGX DCAP v3 format, so the
 * unchanged DCAP verifier checks them with the test root pinned. It proves nothing about the
 * hardware: production mode refuses it (see setup.ts).
 *
 * Folder layout (created once by `semirt up`, loaded by the KeyService and the runtime):
 * - `root.der`: the test root certificate, the value verifiers pin;
 * - `collateral.json`: signed collateral in the layout of Intel's PCCS answers;
 * - `authority.json` (mode 0600): certificates and private keys, to mint quotes and re-sign.
 */

const FORMAT = 'semirt-sim-dcap/1';
const DAY_MS = 24 * 60 * 60 * 1000;
const SIM_FMSPC = '00906ed50000';
const SIM_PCE_ID = '0000';
const PLATFORM_COMPONENTS = [4, 4, 2, 2, 3, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0];
const PLATFORM_PCE_SVN = 13;
const QE_PROD_ID = 1;
const QE_SVN = 8;
/** The QE attributes as Intel's QE identity states them (INIT | MODE64BIT). */
const QE_ATTRIBUTES = Buffer.from('11000000000000000000000000000000', 'hex');
/** Attributes of a minted enclave report: INIT | MODE64BIT, plus DEBUG when asked. */
const ENCLAVE_ATTRIBUTES = 0x05;
const DEBUG_BIT = 0x02;
/** Advisory id the authority attaches to a TCB level that is not UpToDate. */
export const SIM_ADVISORY = 'SIM-SA-00001';

/** The identity of an enclave a sim-dcap attester speaks for. */
export interface SimEnclaveIdentity {
  /** Hex MRENCLAVE, 32 bytes (e.g. a runtime measurement). */
  measurement: string;
  /** Hex MRSIGNER, 32 bytes; defaults to SIM_SIGNER. */
  signer?: string;
  productId?: number;
  svn?: number;
  debug?: boolean;
}

/** The default MRSIGNER of sim-dcap enclaves. */
export const SIM_SIGNER = createHash('sha256')
  .update('semirt sim-dcap enclave signer')
  .digest('hex');
const QE_SIGNER = createHash('sha256').update('semirt sim-dcap quoting enclave').digest();

/** Options for creating an authority; the defaults give an UpToDate platform and 90 days of collateral. */
export interface SimDcapCreateOptions {
  /** The clock of issue (tests pass past dates to get expired collateral). */
  now?: Date;
  /** How long TCB info, QE identity and CRLs stay current. */
  collateralDays?: number;
  /** The TCB status the TCB info gives this platform. */
  tcbStatus?: string;
}

interface AuthorityFile {
  format: typeof FORMAT;
  rootCert: string;
  rootKey: string;
  pckCaCert: string;
  pckCaKey: string;
  pckCert: string;
  pckKey: string;
  tcbSignerCert: string;
  tcbSignerKey: string;
  tcbStatus: string;
  revokedSerials: string[];
}

function hexBytes(value: string, bytes: number, what: string): Buffer {
  if (!new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`).test(value)) {
    throw new SemirtError(
      'INVALID_OPTION',
      `Invalid ${what} "${value}": expected ${bytes} bytes of hex`,
    );
  }
  return Buffer.from(value, 'hex');
}

function u16(value: number | undefined, what: string): number {
  const n = value ?? 0;
  if (!Number.isInteger(n) || n < 0 || n > 0xffff)
    throw new SemirtError('INVALID_OPTION', `Invalid ${what} ${n}: expected 0 to 65535`);
  return n;
}

function tcbInfoJson(issueDate: Date, nextUpdate: Date, status: string): string {
  const level = (components: number[], tcbStatus: string): unknown => ({
    tcb: { sgxtcbcomponents: components.map((svn) => ({ svn })), pcesvn: PLATFORM_PCE_SVN },
    tcbDate: '2025-01-01T00:00:00Z',
    tcbStatus,
    advisoryIDs: tcbStatus === 'UpToDate' ? [] : [SIM_ADVISORY],
  });
  return JSON.stringify({
    id: 'SGX',
    version: 3,
    issueDate: issueDate.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    nextUpdate: nextUpdate.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    fmspc: SIM_FMSPC.toUpperCase(),
    pceId: SIM_PCE_ID,
    tcbType: 0,
    tcbEvaluationDataNumber: 1,
    tcbLevels: [
      level(PLATFORM_COMPONENTS, status),
      level(
        PLATFORM_COMPONENTS.map(() => 0),
        'OutOfDate',
      ),
    ],
  });
}

function qeIdentityJson(issueDate: Date, nextUpdate: Date): string {
  return JSON.stringify({
    id: 'QE',
    version: 2,
    issueDate: issueDate.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    nextUpdate: nextUpdate.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    tcbEvaluationDataNumber: 1,
    miscselect: '00000000',
    miscselectMask: 'FFFFFFFF',
    attributes: QE_ATTRIBUTES.toString('hex').toUpperCase(),
    attributesMask: 'FBFFFFFFFFFFFFFF0000000000000000',
    mrsigner: QE_SIGNER.toString('hex').toUpperCase(),
    isvprodid: QE_PROD_ID,
    tcbLevels: [
      { tcb: { isvsvn: QE_SVN }, tcbDate: '2025-01-01T00:00:00Z', tcbStatus: 'UpToDate' },
    ],
  });
}

function signP1363(data: string | Uint8Array, key: KeyObject): Buffer {
  return sign('sha256', typeof data === 'string' ? Buffer.from(data, 'utf8') : data, {
    key,
    dsaEncoding: 'ieee-p1363',
  });
}

async function writeCrl(
  issuerName: string,
  keyPem: string,
  revoked: readonly string[],
  from: Date,
  to: Date,
): Promise<string> {
  const crl = await x509.X509CrlGenerator.create({
    issuer: issuerName,
    thisUpdate: from,
    nextUpdate: to,
    entries: revoked.map((serialNumber) => ({ serialNumber, revocationDate: from })),
    signingAlgorithm: ECDSA_SHA256,
    signingKey: await importPrivateKeyPem(keyPem),
  });
  return Buffer.from(crl.rawData).toString('hex');
}

/** Signs fresh collateral (TCB info, QE identity, both CRLs) for the authority's current state. */
async function signCollateral(file: AuthorityFile, from: Date, days: number): Promise<Collateral> {
  const to = new Date(from.getTime() + days * DAY_MS);
  const root = new X509Certificate(file.rootCert);
  const pckCa = new X509Certificate(file.pckCaCert);
  const tcbSigner = new X509Certificate(file.tcbSignerCert);
  const signerKey = createPrivateKey(file.tcbSignerKey);
  const tcbInfo = tcbInfoJson(from, to, file.tcbStatus);
  const qeIdentity = qeIdentityJson(from, to);
  const rootName = root.subject.replace(/\n/g, ', ');
  const pckCaName = pckCa.subject.replace(/\n/g, ', ');
  const pckCaSerial = pckCa.serialNumber;
  return {
    tcb_info_issuer_chain: tcbSigner.toString() + root.toString(),
    tcb_info: tcbInfo,
    tcb_info_signature: signP1363(tcbInfo, signerKey).toString('hex'),
    qe_identity_issuer_chain: tcbSigner.toString() + root.toString(),
    qe_identity: qeIdentity,
    qe_identity_signature: signP1363(qeIdentity, signerKey).toString('hex'),
    pck_crl_issuer_chain: pckCa.toString() + root.toString(),
    root_ca_crl: await writeCrl(
      rootName,
      file.rootKey,
      file.revokedSerials.filter((s) => s === pckCaSerial),
      from,
      to,
    ),
    pck_crl: await writeCrl(
      pckCaName,
      file.pckCaKey,
      file.revokedSerials.filter((s) => s !== pckCaSerial),
      from,
      to,
    ),
  };
}

type WebCryptoKey = Parameters<typeof privateKeyPem>[0];

async function issue(params: {
  subject: string;
  issuer: string;
  publicKey: WebCryptoKey;
  signingKey: WebCryptoKey;
  ca: boolean;
  from: Date;
  years: number;
  extensions?: x509.Extension[];
}): Promise<string> {
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: params.subject,
    issuer: params.issuer,
    notBefore: params.from,
    notAfter: new Date(params.from.getTime() + params.years * 365 * DAY_MS),
    publicKey: params.publicKey,
    signingKey: params.signingKey,
    signingAlgorithm: ECDSA_SHA256,
    extensions: [
      new x509.BasicConstraintsExtension(params.ca, params.ca ? 1 : undefined, true),
      new x509.KeyUsagesExtension(
        // A union of flags is a plain number to TypeScript; the library takes it as the flag set.
        // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment
        params.ca
          ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign
          : x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      ...(params.extensions ?? []),
    ],
  });
  return cert.toString('pem') + '\n';
}

function paths(dir: string): { root: string; collateral: string; authority: string } {
  return {
    root: join(dir, 'root.der'),
    collateral: join(dir, 'collateral.json'),
    authority: join(dir, 'authority.json'),
  };
}

/** A loaded sim-dcap authority: mints quotes and provides the matching verifier. */
export class SimDcapAuthority {
  readonly dir: string;
  readonly rootDer: Buffer;
  readonly collateral: Collateral;
  #file: AuthorityFile;

  private constructor(dir: string, file: AuthorityFile, collateral: Collateral) {
    this.dir = dir;
    this.#file = file;
    this.rootDer = new X509Certificate(file.rootCert).raw;
    this.collateral = collateral;
  }

  /** Creates a new authority in `dir` (which must not exist yet) and returns it. */
  static async create(dir: string, options: SimDcapCreateOptions = {}): Promise<SimDcapAuthority> {
    const now = options.now ?? new Date();
    const from = new Date(now.getTime() - 60 * 1000);
    const [rootKeys, pckCaKeys, pckKeys, signerKeys] = await Promise.all([
      generateP256(),
      generateP256(),
      generateP256(),
      generateP256(),
    ]);
    const rootName = 'CN=semirt sim-dcap Root CA, O=semirt simulation (not Intel), C=ZZ';
    const pckCaName = 'CN=semirt sim-dcap PCK Platform CA, O=semirt simulation (not Intel), C=ZZ';
    const pck: PckExtension = {
      ppid: randomBytes(16),
      tcbComponents: PLATFORM_COMPONENTS,
      pceSvn: PLATFORM_PCE_SVN,
      cpuSvn: Buffer.from(PLATFORM_COMPONENTS),
      pceId: Buffer.from(SIM_PCE_ID, 'hex'),
      fmspc: Buffer.from(SIM_FMSPC, 'hex'),
      sgxType: 0,
    };
    const file: AuthorityFile = {
      format: FORMAT,
      rootCert: await issue({
        subject: rootName,
        issuer: rootName,
        publicKey: rootKeys.publicKey,
        signingKey: rootKeys.privateKey,
        ca: true,
        from,
        years: 20,
      }),
      rootKey: await privateKeyPem(rootKeys.privateKey),
      pckCaCert: await issue({
        subject: pckCaName,
        issuer: rootName,
        publicKey: pckCaKeys.publicKey,
        signingKey: rootKeys.privateKey,
        ca: true,
        from,
        years: 15,
      }),
      pckCaKey: await privateKeyPem(pckCaKeys.privateKey),
      pckCert: await issue({
        subject: 'CN=semirt sim-dcap PCK Certificate, O=semirt simulation (not Intel), C=ZZ',
        issuer: pckCaName,
        publicKey: pckKeys.publicKey,
        signingKey: pckCaKeys.privateKey,
        ca: false,
        from,
        years: 7,
        extensions: [new x509.Extension(SGX_EXTENSION_OID, false, encodePckExtension(pck))],
      }),
      pckKey: await privateKeyPem(pckKeys.privateKey),
      tcbSignerCert: await issue({
        subject: 'CN=semirt sim-dcap TCB Signing, O=semirt simulation (not Intel), C=ZZ',
        issuer: rootName,
        publicKey: signerKeys.publicKey,
        signingKey: rootKeys.privateKey,
        ca: false,
        from,
        years: 7,
      }),
      tcbSignerKey: await privateKeyPem(signerKeys.privateKey),
      tcbStatus: options.tcbStatus ?? 'UpToDate',
      revokedSerials: [],
    };
    const collateral = await signCollateral(file, from, options.collateralDays ?? 90);
    // Write into a fresh folder and rename it into place, so that concurrent starters never see half an authority.
    const staging = `${dir}.staging-${process.pid}-${randomBytes(4).toString('hex')}`;
    await mkdir(staging, { recursive: true, mode: 0o700 });
    const p = paths(staging);
    await writeFile(p.authority, JSON.stringify(file, null, 2), { mode: 0o600 });
    await writeFile(p.collateral, JSON.stringify(collateral, null, 2));
    await writeFile(p.root, new X509Certificate(file.rootCert).raw);
    try {
      await rename(staging, dir);
    } catch (error) {
      await rm(staging, { recursive: true, force: true });
      throw new SemirtError(
        'ATTESTATION_SIM_AUTHORITY',
        `Cannot create the sim-dcap authority in "${dir}": the folder exists already`,
        { cause: error },
      );
    }
    return new SimDcapAuthority(dir, file, collateral);
  }

  /** Loads the authority of `dir`. */
  static async load(dir: string): Promise<SimDcapAuthority> {
    const p = paths(dir);
    let file: AuthorityFile;
    let collateral: Collateral;
    try {
      file = JSON.parse(await readFile(p.authority, 'utf8')) as AuthorityFile;
      const format: unknown = (file as { format?: unknown }).format;
      if (format !== FORMAT) throw new TypeError(`authority.json is not of format "${FORMAT}"`);
      collateral = parseCollateral(JSON.parse(await readFile(p.collateral, 'utf8')));
    } catch (error) {
      throw new SemirtError(
        'ATTESTATION_SIM_AUTHORITY',
        `Cannot load the sim-dcap authority from "${dir}": authority.json or collateral.json is missing or invalid`,
        {
          cause: error,
        },
      );
    }
    return new SimDcapAuthority(dir, file, collateral);
  }

  /** Loads the authority of `dir`, creating it first when the folder does not exist (`semirt up`). */
  static async ensure(dir: string, options: SimDcapCreateOptions = {}): Promise<SimDcapAuthority> {
    try {
      const loaded = await SimDcapAuthority.load(dir);
      // Re-sign collateral that expires within a day, so a long-lived local stack keeps working.
      const now = options.now ?? new Date();
      const nextUpdate = parseTcbInfo(loaded.collateral.tcb_info).nextUpdate;
      if (nextUpdate.getTime() - now.getTime() < DAY_MS) {
        return await loaded.refreshCollateral({
          now,
          ...(options.collateralDays === undefined
            ? {}
            : { collateralDays: options.collateralDays }),
        });
      }
      return loaded;
    } catch (error) {
      if (!isSemirtError(error, 'ATTESTATION_SIM_AUTHORITY')) throw error;
    }
    try {
      return await SimDcapAuthority.create(dir, options);
    } catch (error) {
      // Another process created it between our load and create.
      if (isSemirtError(error, 'ATTESTATION_SIM_AUTHORITY')) return SimDcapAuthority.load(dir);
      throw error;
    }
  }

  /** Revokes the PCK certificate and re-signs the collateral (for tests of revocation). */
  async revokePck(
    options: { now?: Date; collateralDays?: number } = {},
  ): Promise<SimDcapAuthority> {
    const file = {
      ...this.#file,
      revokedSerials: [
        ...this.#file.revokedSerials,
        new X509Certificate(this.#file.pckCert).serialNumber,
      ],
    };
    return this.#rewrite(file, options);
  }

  /** Re-signs the collateral with a new validity window (e.g. when it expired). */
  async refreshCollateral(
    options: { now?: Date; collateralDays?: number } = {},
  ): Promise<SimDcapAuthority> {
    return this.#rewrite(this.#file, options);
  }

  async #rewrite(
    file: AuthorityFile,
    options: { now?: Date; collateralDays?: number },
  ): Promise<SimDcapAuthority> {
    const from = new Date((options.now ?? new Date()).getTime() - 60 * 1000);
    const collateral = await signCollateral(file, from, options.collateralDays ?? 90);
    const p = paths(this.dir);
    // Unique temporary names: several processes may re-sign at once; each rename is atomic.
    const tmp = `.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    await writeFile(p.authority + tmp, JSON.stringify(file, null, 2), { mode: 0o600 });
    await writeFile(p.collateral + tmp, JSON.stringify(collateral, null, 2));
    await rename(p.authority + tmp, p.authority);
    await rename(p.collateral + tmp, p.collateral);
    return new SimDcapAuthority(this.dir, file, collateral);
  }

  /** The DCAP verifier with this authority's root pinned and its collateral (scheme sim-dcap). */
  verifier(): Verifier {
    const collateral = this.collateral;
    return new DcapVerifier({
      scheme: 'sim-dcap',
      rootDer: this.rootDer,
      collateral: () => collateral,
    });
  }

  /** An attester that quotes as the given enclave on this authority's simulated platform. */
  attester(identity: SimEnclaveIdentity): Attester {
    return new SimDcapAttester(this.#file, identity);
  }
}

/** Mints SGX DCAP v3 quotes for one enclave identity; the attestation key lives as long as the attester. */
class SimDcapAttester implements Attester {
  readonly scheme = 'sim-dcap' as const;
  #attestationKey: KeyObject;
  #signatureParts: Omit<Parameters<typeof encodeSgxSignatureData>[0], 'signature'>;
  #header: Buffer;
  #report: Parameters<typeof encodeSgxReport>[0];

  constructor(file: AuthorityFile, identity: SimEnclaveIdentity) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.#attestationKey = privateKey;
    // The raw x ‖ y point: the SPKI DER of a P-256 key ends with 04 ‖ x ‖ y.
    const attestationKey = publicKey.export({ format: 'der', type: 'spki' }).subarray(-64);
    const qeAuthData = randomBytes(32);
    const qeReport = encodeSgxReport({
      cpuSvn: Buffer.from(PLATFORM_COMPONENTS),
      attributes: QE_ATTRIBUTES,
      mrEnclave: createHash('sha256').update('semirt sim-dcap QE enclave').digest(),
      mrSigner: QE_SIGNER,
      isvProdId: QE_PROD_ID,
      isvSvn: QE_SVN,
      reportData: createHash('sha256').update(attestationKey).update(qeAuthData).digest(),
    });
    this.#signatureParts = {
      attestationKey,
      qeReport,
      qeReportSignature: signP1363(qeReport, createPrivateKey(file.pckKey)),
      qeAuthData,
      pckChainPem: file.pckCert + file.pckCaCert + file.rootCert,
    };
    this.#header = encodeSgxHeader(QE_SVN, PLATFORM_PCE_SVN);
    const attributes = Buffer.alloc(16);
    attributes[0] = ENCLAVE_ATTRIBUTES | (identity.debug === true ? DEBUG_BIT : 0);
    attributes[8] = 0x03; // XFRM: x87 | SSE
    this.#report = {
      cpuSvn: Buffer.from(PLATFORM_COMPONENTS),
      attributes,
      mrEnclave: hexBytes(identity.measurement, 32, 'measurement'),
      mrSigner: hexBytes(identity.signer ?? SIM_SIGNER, 32, 'signer'),
      isvProdId: u16(identity.productId, 'productId'),
      isvSvn: u16(identity.svn, 'svn'),
    };
  }

  /** Mints a quote whose report data is `reportData` (exactly 64 bytes). */
  attest(reportData: Uint8Array): Promise<Uint8Array> {
    if (reportData.length !== 64) {
      return Promise.reject(
        new SemirtError(
          'INVALID_OPTION',
          `Invalid report data: expected 64 bytes, got ${reportData.length}`,
        ),
      );
    }
    const signed = Buffer.concat([this.#header, encodeSgxReport({ ...this.#report, reportData })]);
    const signatureData = encodeSgxSignatureData({
      ...this.#signatureParts,
      signature: signP1363(signed, this.#attestationKey),
    });
    return Promise.resolve(Buffer.concat([signed, signatureData]));
  }
}
