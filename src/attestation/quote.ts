import { SemirtError } from '../errors.js';

/**
 * Intel DCAP quote layouts (ECDSA P-256 attestation key): SGX quotes version 3 and TDX quotes
 * version 4 (TD 1.0 report body). The signed part is the header plus the report body.
 */

export const HEADER_SIZE = 48;
export const SGX_REPORT_SIZE = 384;
export const TD10_REPORT_SIZE = 584;
export const TEE_TYPE_SGX = 0x00;
export const TEE_TYPE_TDX = 0x81;
export const ATTESTATION_KEY_ECDSA_P256 = 2;
/** Certification data types: 5 = PCK certificate chain (PEM), 6 = QE report certification data. */
export const CERT_DATA_PCK_CHAIN = 5;
export const CERT_DATA_QE_REPORT = 6;
/** Intel's QE vendor id. */
export const INTEL_QE_VENDOR_ID = Buffer.from('939a7233f79c4ca9940a0db3957f0607', 'hex');

/** An SGX enclave report (also the layout of the QE report). */
export interface SgxReport {
  cpuSvn: Uint8Array;
  miscSelect: number;
  attributes: Uint8Array;
  mrEnclave: Uint8Array;
  mrSigner: Uint8Array;
  isvProdId: number;
  isvSvn: number;
  reportData: Uint8Array;
}

/** A TD 1.0 report body. */
export interface Td10Report {
  teeTcbSvn: Uint8Array;
  mrSeam: Uint8Array;
  mrSignerSeam: Uint8Array;
  seamAttributes: Uint8Array;
  tdAttributes: Uint8Array;
  xfam: Uint8Array;
  mrTd: Uint8Array;
  mrConfigId: Uint8Array;
  mrOwner: Uint8Array;
  mrOwnerConfig: Uint8Array;
  rtmrs: Uint8Array[];
  reportData: Uint8Array;
}

export interface QuoteHeader {
  version: number;
  attestationKeyType: number;
  teeType: number;
  qeSvn: number;
  pceSvn: number;
  qeVendorId: Uint8Array;
  userData: Uint8Array;
}

export type QuoteBody = { type: 'sgx'; report: SgxReport } | { type: 'td10'; report: Td10Report };

export interface ParsedQuote {
  header: QuoteHeader;
  body: QuoteBody;
  /** Header ‖ report body: the bytes the attestation key signs. */
  signedBytes: Uint8Array;
  /** ECDSA P-256 signature, r ‖ s. */
  signature: Uint8Array;
  /** Attestation public key, x ‖ y. */
  attestationKey: Uint8Array;
  qeReportBytes: Uint8Array;
  qeReport: SgxReport;
  qeReportSignature: Uint8Array;
  qeAuthData: Uint8Array;
  /** PEM text of the PCK certificate chain (leaf first). */
  pckChainPem: string;
}

function malformed(what: string): SemirtError {
  return new SemirtError('ATTESTATION_QUOTE_MALFORMED', `Cannot parse quote: ${what}`);
}

/** Bounds-checked little-endian reader that reports truncation as a malformed quote. */
class Reader {
  #bytes: Uint8Array;
  #view: DataView;
  offset = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  #need(n: number, what: string): void {
    if (this.offset + n > this.#bytes.length) {
      throw malformed(
        `${what} is truncated (needs ${n} bytes at offset ${this.offset}, quote has ${this.#bytes.length})`,
      );
    }
  }

  u16(what: string): number {
    this.#need(2, what);
    const v = this.#view.getUint16(this.offset, true);
    this.offset += 2;
    return v;
  }

  u32(what: string): number {
    this.#need(4, what);
    const v = this.#view.getUint32(this.offset, true);
    this.offset += 4;
    return v;
  }

  bytes(n: number, what: string): Uint8Array {
    this.#need(n, what);
    const v = this.#bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }
}

/** Parses an SGX report (384 bytes); also the QE report layout. */
export function parseSgxReport(bytes: Uint8Array): SgxReport {
  if (bytes.length !== SGX_REPORT_SIZE)
    throw malformed(`an SGX report must be ${SGX_REPORT_SIZE} bytes, got ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    cpuSvn: bytes.subarray(0, 16),
    miscSelect: view.getUint32(16, true),
    attributes: bytes.subarray(48, 64),
    mrEnclave: bytes.subarray(64, 96),
    mrSigner: bytes.subarray(128, 160),
    isvProdId: view.getUint16(256, true),
    isvSvn: view.getUint16(258, true),
    reportData: bytes.subarray(320, 384),
  };
}

function parseTd10Report(bytes: Uint8Array): Td10Report {
  let o = 0;
  const take = (n: number): Uint8Array => bytes.subarray(o, (o += n));
  return {
    teeTcbSvn: take(16),
    mrSeam: take(48),
    mrSignerSeam: take(48),
    seamAttributes: take(8),
    tdAttributes: take(8),
    xfam: take(8),
    mrTd: take(48),
    mrConfigId: take(48),
    mrOwner: take(48),
    mrOwnerConfig: take(48),
    rtmrs: [take(48), take(48), take(48), take(48)],
    reportData: take(64),
  };
}

/** Parses a DCAP quote (SGX v3 or TDX v4); structure only, no signature is checked here. */
export function parseQuote(quote: Uint8Array): ParsedQuote {
  const r = new Reader(quote);
  const header: QuoteHeader = {
    version: r.u16('header version'),
    attestationKeyType: r.u16('header attestation key type'),
    teeType: r.u32('header TEE type'),
    qeSvn: r.u16('header QE SVN'),
    pceSvn: r.u16('header PCE SVN'),
    qeVendorId: r.bytes(16, 'header QE vendor id'),
    userData: r.bytes(20, 'header user data'),
  };
  const unsupported = (what: string): SemirtError =>
    new SemirtError('ATTESTATION_QUOTE_UNSUPPORTED', `Cannot verify quote: ${what}`);
  if (header.attestationKeyType !== ATTESTATION_KEY_ECDSA_P256) {
    throw unsupported(
      `attestation key type ${header.attestationKeyType} (expected 2, ECDSA P-256)`,
    );
  }
  let body: QuoteBody;
  if (header.version === 3 && header.teeType === TEE_TYPE_SGX) {
    body = { type: 'sgx', report: parseSgxReport(r.bytes(SGX_REPORT_SIZE, 'SGX report body')) };
  } else if (header.version === 4 && header.teeType === TEE_TYPE_TDX) {
    body = { type: 'td10', report: parseTd10Report(r.bytes(TD10_REPORT_SIZE, 'TD report body')) };
  } else {
    throw unsupported(
      `version ${header.version} with TEE type 0x${header.teeType.toString(16)} (expected SGX version 3 or TDX version 4)`,
    );
  }
  const signedBytes = quote.subarray(0, r.offset);
  const signatureDataLength = r.u32('signature data length');
  const sig = new Reader(r.bytes(signatureDataLength, 'signature data'));
  const signature = sig.bytes(64, 'quote signature');
  const attestationKey = sig.bytes(64, 'attestation key');
  let qe: Reader = sig;
  if (header.version === 4) {
    const type = sig.u16('certification data type');
    const size = sig.u32('certification data size');
    if (type !== CERT_DATA_QE_REPORT)
      throw unsupported(`outer certification data type ${type} (expected 6)`);
    qe = new Reader(sig.bytes(size, 'QE report certification data'));
  }
  const qeReportBytes = qe.bytes(SGX_REPORT_SIZE, 'QE report');
  const qeReportSignature = qe.bytes(64, 'QE report signature');
  const qeAuthData = qe.bytes(qe.u16('QE authentication data length'), 'QE authentication data');
  const certType = qe.u16('certification data type');
  const certSize = qe.u32('certification data size');
  const certData = qe.bytes(certSize, 'certification data');
  if (certType !== CERT_DATA_PCK_CHAIN) {
    throw unsupported(`certification data type ${certType} (expected 5, PCK certificate chain)`);
  }
  return {
    header,
    body,
    signedBytes,
    signature,
    attestationKey,
    qeReportBytes,
    qeReport: parseSgxReport(qeReportBytes),
    qeReportSignature,
    qeAuthData,
    pckChainPem: Buffer.from(certData).toString('latin1'),
  };
}

/** Fields of an SGX report to serialize; omitted ones are zero. */
export interface SgxReportFields {
  cpuSvn?: Uint8Array;
  miscSelect?: number;
  attributes?: Uint8Array;
  mrEnclave?: Uint8Array;
  mrSigner?: Uint8Array;
  isvProdId?: number;
  isvSvn?: number;
  reportData?: Uint8Array;
}

/** Serializes an SGX report (384 bytes), the inverse of parseSgxReport. */
export function encodeSgxReport(fields: SgxReportFields): Buffer {
  const out = Buffer.alloc(SGX_REPORT_SIZE);
  if (fields.cpuSvn) out.set(fields.cpuSvn.subarray(0, 16), 0);
  out.writeUInt32LE(fields.miscSelect ?? 0, 16);
  if (fields.attributes) out.set(fields.attributes.subarray(0, 16), 48);
  if (fields.mrEnclave) out.set(fields.mrEnclave.subarray(0, 32), 64);
  if (fields.mrSigner) out.set(fields.mrSigner.subarray(0, 32), 128);
  out.writeUInt16LE(fields.isvProdId ?? 0, 256);
  out.writeUInt16LE(fields.isvSvn ?? 0, 258);
  if (fields.reportData) out.set(fields.reportData.subarray(0, 64), 320);
  return out;
}

/** Serializes an SGX v3 quote header. */
export function encodeSgxHeader(qeSvn: number, pceSvn: number): Buffer {
  const out = Buffer.alloc(HEADER_SIZE);
  out.writeUInt16LE(3, 0);
  out.writeUInt16LE(ATTESTATION_KEY_ECDSA_P256, 2);
  out.writeUInt32LE(TEE_TYPE_SGX, 4);
  out.writeUInt16LE(qeSvn, 8);
  out.writeUInt16LE(pceSvn, 10);
  out.set(INTEL_QE_VENDOR_ID, 12);
  return out;
}

/** Serializes the signature data of a v3 quote (certification data type 5 inside). */
export function encodeSgxSignatureData(parts: {
  signature: Uint8Array;
  attestationKey: Uint8Array;
  qeReport: Uint8Array;
  qeReportSignature: Uint8Array;
  qeAuthData: Uint8Array;
  pckChainPem: string;
}): Buffer {
  const chain = Buffer.from(parts.pckChainPem, 'latin1');
  const authLength = Buffer.alloc(2);
  authLength.writeUInt16LE(parts.qeAuthData.length);
  const certHeader = Buffer.alloc(6);
  certHeader.writeUInt16LE(CERT_DATA_PCK_CHAIN, 0);
  certHeader.writeUInt32LE(chain.length, 2);
  const data = Buffer.concat([
    parts.signature,
    parts.attestationKey,
    parts.qeReport,
    parts.qeReportSignature,
    authLength,
    parts.qeAuthData,
    certHeader,
    chain,
  ]);
  const length = Buffer.alloc(4);
  length.writeUInt32LE(data.length);
  return Buffer.concat([length, data]);
}
