/**
 * A minimal DER reader and writer: enough for the SGX PCK extension (nested SEQUENCEs of OID and
 * value) and the RA-TLS certificate extensions. Definite lengths only, as DER requires.
 */

export interface Tlv {
  readonly tag: number;
  /** The value bytes (a view into the input). */
  readonly value: Uint8Array;
  /** The whole element, tag and length included. */
  readonly raw: Uint8Array;
  /** Offset just after this element. */
  readonly end: number;
}

export const TAG_INTEGER = 0x02;
export const TAG_OCTET_STRING = 0x04;
export const TAG_OID = 0x06;
export const TAG_ENUMERATED = 0x0a;
export const TAG_BIT_STRING = 0x03;
export const TAG_UTC_TIME = 0x17;
export const TAG_GENERALIZED_TIME = 0x18;
export const TAG_SEQUENCE = 0x30;

/** Reads one TLV at `offset`; throws a RangeError when it is truncated or not DER. */
export function readTlv(bytes: Uint8Array, offset = 0): Tlv {
  if (offset + 2 > bytes.length) throw new RangeError('DER element is truncated');
  const tag = bytes[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new RangeError('DER multi-byte tags are not supported');
  let length = bytes[offset + 1]!;
  let pos = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4) throw new RangeError('DER length is indefinite or too large');
    if (pos + count > bytes.length) throw new RangeError('DER length is truncated');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + bytes[pos + i]!;
    pos += count;
  }
  if (pos + length > bytes.length) throw new RangeError('DER value is truncated');
  return {
    tag,
    value: bytes.subarray(pos, pos + length),
    raw: bytes.subarray(offset, pos + length),
    end: pos + length,
  };
}

/** Reads every TLV inside a constructed value. */
export function readChildren(value: Uint8Array): Tlv[] {
  const children: Tlv[] = [];
  for (let offset = 0; offset < value.length;) {
    const child = readTlv(value, offset);
    children.push(child);
    offset = child.end;
  }
  return children;
}

/** Decodes an OBJECT IDENTIFIER value to dotted form. */
export function decodeOid(value: Uint8Array): string {
  if (value.length === 0 || value[value.length - 1]! & 0x80)
    throw new RangeError('DER OID is empty or truncated');
  const subidentifiers: number[] = [];
  let n = 0;
  for (const b of value) {
    n = n * 128 + (b & 0x7f);
    if (n > Number.MAX_SAFE_INTEGER) throw new RangeError('DER OID arc is too large');
    if (!(b & 0x80)) {
      subidentifiers.push(n);
      n = 0;
    }
  }
  // The first subidentifier packs the first two arcs as 40 * a + b (a is 2 from 80 up).
  const first = subidentifiers[0]!;
  const head = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80];
  return [...head, ...subidentifiers.slice(1)].join('.');
}

/** Decodes a non-negative INTEGER or ENUMERATED value of up to 6 bytes. */
export function decodeUint(value: Uint8Array): number {
  // Up to 6 value bytes (plus a leading zero byte), which stays within Number.MAX_SAFE_INTEGER.
  if (value.length === 0 || value.length > 7 || (value.length === 7 && value[0] !== 0)) {
    throw new RangeError('DER integer is empty or too large');
  }
  if (value[0]! & 0x80) throw new RangeError('DER integer is negative');
  let n = 0;
  for (const b of value) n = n * 256 + b;
  return n;
}

function encodeLength(length: number): Uint8Array {
  if (length < 0x80) return Uint8Array.of(length);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

/** Encodes one TLV. */
export function encodeTlv(tag: number, value: Uint8Array): Uint8Array {
  const length = encodeLength(value.length);
  const out = new Uint8Array(1 + length.length + value.length);
  out[0] = tag;
  out.set(length, 1);
  out.set(value, 1 + length.length);
  return out;
}

/** Encodes a SEQUENCE of already-encoded elements. */
export function encodeSequence(elements: readonly Uint8Array[]): Uint8Array {
  return encodeTlv(TAG_SEQUENCE, Buffer.concat(elements));
}

/** Encodes a dotted OBJECT IDENTIFIER. */
export function encodeOid(oid: string): Uint8Array {
  const [a = 0, b = 0, ...rest] = oid.split('.').map(Number);
  const bytes: number[] = [];
  for (const subidentifier of [a * 40 + b, ...rest]) {
    const group: number[] = [subidentifier & 0x7f];
    for (let n = Math.floor(subidentifier / 128); n > 0; n = Math.floor(n / 128)) {
      group.unshift(0x80 | (n & 0x7f));
    }
    bytes.push(...group);
  }
  return encodeTlv(TAG_OID, Uint8Array.from(bytes));
}

/** Encodes a non-negative INTEGER (or ENUMERATED with `tag`). */
export function encodeUint(n: number, tag = TAG_INTEGER): Uint8Array {
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  if (bytes.length === 0 || bytes[0]! & 0x80) bytes.unshift(0);
  return encodeTlv(tag, Uint8Array.from(bytes));
}

/** Decodes a UTCTime or GeneralizedTime (UTC, "Z" form as DER requires). */
export function decodeTime(tlv: Tlv): Date {
  const text = Buffer.from(tlv.value).toString('latin1');
  const match =
    tlv.tag === TAG_UTC_TIME
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
      : tlv.tag === TAG_GENERALIZED_TIME
        ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
        : null;
  if (!match) throw new RangeError(`DER time "${text}" is not a UTC time`);
  const [, y = '', mo = '', d = '', h = '', mi = '', s = ''] = match;
  // RFC 5280: two-digit years 50-99 are 19xx, 00-49 are 20xx.
  const year = y.length === 2 ? (Number(y) >= 50 ? 1900 : 2000) + Number(y) : Number(y);
  return new Date(Date.UTC(year, Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)));
}

/** Finds an extension's value (the OCTET STRING contents) in a DER X.509 certificate, or undefined. */
export function findCertExtension(certDer: Uint8Array, oid: string): Uint8Array | undefined {
  const cert = readTlv(certDer);
  const tbs = readChildren(cert.value)[0];
  if (tbs?.tag !== TAG_SEQUENCE) throw new RangeError('not an X.509 certificate');
  const wrapper = readChildren(tbs.value).find((field) => field.tag === 0xa3);
  if (!wrapper) return undefined;
  const list = readTlv(wrapper.value);
  for (const extension of readChildren(list.value)) {
    const [id, second, third] = readChildren(extension.value);
    if (!id || id.tag !== TAG_OID || decodeOid(id.value) !== oid) continue;
    const value = third ?? second;
    if (value?.tag !== TAG_OCTET_STRING)
      throw new RangeError(`extension ${oid} has no OCTET STRING value`);
    return value.value;
  }
  return undefined;
}
