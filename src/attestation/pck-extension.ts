import type { X509Certificate } from 'node:crypto';
import { SemirtError } from '../errors.js';
import {
  TAG_ENUMERATED,
  TAG_INTEGER,
  TAG_OCTET_STRING,
  TAG_SEQUENCE,
  decodeOid,
  decodeUint,
  encodeOid,
  findCertExtension,
  encodeSequence,
  encodeTlv,
  encodeUint,
  readChildren,
  readTlv,
} from './der.js';

/**
 * The Intel SGX extension of PCK certificates (OID 1.2.840.113741.1.13.1): a SEQUENCE of
 * (OID, value) pairs giving the platform's PPID, TCB (16 component SVNs, PCE SVN, CPU SVN), PCE id,
 * FMSPC and SGX type.
 */

export const SGX_EXTENSION_OID = '1.2.840.113741.1.13.1';
const PPID = `${SGX_EXTENSION_OID}.1`;
const TCB = `${SGX_EXTENSION_OID}.2`;
const PCEID = `${SGX_EXTENSION_OID}.3`;
const FMSPC = `${SGX_EXTENSION_OID}.4`;
const SGX_TYPE = `${SGX_EXTENSION_OID}.5`;
const PCESVN = `${TCB}.17`;
const CPUSVN = `${TCB}.18`;

export interface PckExtension {
  ppid: Buffer;
  /** The 16 SGX TCB component SVNs. */
  tcbComponents: number[];
  pceSvn: number;
  cpuSvn: Buffer;
  pceId: Buffer;
  fmspc: Buffer;
  sgxType: number;
}

function pairs(value: Uint8Array): Map<string, { tag: number; value: Uint8Array }> {
  const out = new Map<string, { tag: number; value: Uint8Array }>();
  for (const entry of readChildren(value)) {
    if (entry.tag !== TAG_SEQUENCE)
      throw new RangeError('an SGX extension entry is not a SEQUENCE');
    const [oid, inner] = readChildren(entry.value);
    if (!oid || !inner) throw new RangeError('an SGX extension entry is incomplete');
    out.set(decodeOid(oid.value), { tag: inner.tag, value: inner.value });
  }
  return out;
}

/** Reads the SGX extension of a PCK certificate; a missing or malformed field fails closed. */
export function readPckExtension(cert: X509Certificate): PckExtension {
  const fail = (detail: string, cause?: unknown): SemirtError =>
    new SemirtError(
      'ATTESTATION_QUOTE_MALFORMED',
      `Cannot read the PCK certificate's SGX extension: ${detail}`,
      {
        cause,
      },
    );
  try {
    const value = findCertExtension(cert.raw, SGX_EXTENSION_OID);
    if (!value) throw new RangeError('the extension is absent');
    const top = readTlv(value);
    const fields = pairs(top.value);
    const get = (id: string, tag: number, name: string): Uint8Array => {
      const field = fields.get(id);
      if (field?.tag !== tag) throw new RangeError(`${name} is missing`);
      return field.value;
    };
    const tcb = pairs(get(TCB, TAG_SEQUENCE, 'TCB'));
    const tcbComponents: number[] = [];
    for (let i = 1; i <= 16; i++) {
      const component = tcb.get(`${TCB}.${i}`);
      if (component?.tag !== TAG_INTEGER) throw new RangeError(`TCB component ${i} is missing`);
      tcbComponents.push(decodeUint(component.value));
    }
    const pceSvn = tcb.get(PCESVN);
    const cpuSvn = tcb.get(CPUSVN);
    if (pceSvn?.tag !== TAG_INTEGER || cpuSvn?.tag !== TAG_OCTET_STRING)
      throw new RangeError('PCESVN or CPUSVN is missing');
    return {
      ppid: Buffer.from(get(PPID, TAG_OCTET_STRING, 'PPID')),
      tcbComponents,
      pceSvn: decodeUint(pceSvn.value),
      cpuSvn: Buffer.from(cpuSvn.value),
      pceId: Buffer.from(get(PCEID, TAG_OCTET_STRING, 'PCE id')),
      fmspc: Buffer.from(get(FMSPC, TAG_OCTET_STRING, 'FMSPC')),
      sgxType: decodeUint(get(SGX_TYPE, TAG_ENUMERATED, 'SGX type')),
    };
  } catch (error) {
    if (error instanceof SemirtError) throw error;
    throw fail(error instanceof Error ? error.message : 'bad DER', error);
  }
}

/** Encodes the SGX extension value (the DER inside the OCTET STRING), for sim-dcap PCK certificates. */
export function encodePckExtension(ext: PckExtension): Uint8Array {
  const pair = (oid: string, value: Uint8Array): Uint8Array =>
    encodeSequence([encodeOid(oid), value]);
  const tcb = encodeSequence([
    ...ext.tcbComponents.map((svn, i) => pair(`${TCB}.${i + 1}`, encodeUint(svn))),
    pair(PCESVN, encodeUint(ext.pceSvn)),
    pair(CPUSVN, encodeTlv(TAG_OCTET_STRING, ext.cpuSvn)),
  ]);
  return encodeSequence([
    pair(PPID, encodeTlv(TAG_OCTET_STRING, ext.ppid)),
    pair(TCB, tcb),
    pair(PCEID, encodeTlv(TAG_OCTET_STRING, ext.pceId)),
    pair(FMSPC, encodeTlv(TAG_OCTET_STRING, ext.fmspc)),
    pair(SGX_TYPE, encodeUint(ext.sgxType, TAG_ENUMERATED)),
  ]);
}
