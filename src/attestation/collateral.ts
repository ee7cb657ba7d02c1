import { SemirtError } from '../errors.js';

/**
 * DCAP collateral in the layout of Intel's PCCS answers as the shared vectors store them
 * (`*_collateral.json`): signed JSON kept as the exact bytes that were signed, signatures and CRLs
 * in hex, issuer chains in PEM.
 */
export interface Collateral {
  tcb_info_issuer_chain: string;
  tcb_info: string;
  /** Hex r ‖ s. */
  tcb_info_signature: string;
  qe_identity_issuer_chain: string;
  qe_identity: string;
  qe_identity_signature: string;
  pck_crl_issuer_chain: string;
  /** Hex DER. */
  root_ca_crl: string;
  pck_crl: string;
}

const COLLATERAL_FIELDS = [
  'tcb_info_issuer_chain',
  'tcb_info',
  'tcb_info_signature',
  'qe_identity_issuer_chain',
  'qe_identity',
  'qe_identity_signature',
  'pck_crl_issuer_chain',
  'root_ca_crl',
  'pck_crl',
] as const satisfies readonly (keyof Collateral)[];

function malformed(detail: string, cause?: unknown): SemirtError {
  return new SemirtError('ATTESTATION_COLLATERAL_MALFORMED', `Cannot read collateral: ${detail}`, {
    cause,
  });
}

/** Validates parsed collateral JSON: every field present as a string, hex fields hex. */
export function parseCollateral(json: unknown): Collateral {
  if (typeof json !== 'object' || json === null) throw malformed('expected a JSON object');
  const record = json as Record<string, unknown>;
  const out: Partial<Collateral> = {};
  for (const field of COLLATERAL_FIELDS) {
    const value = record[field];
    if (typeof value !== 'string' || value === '')
      throw malformed(`field "${field}" must be a non-empty string`);
    out[field] = value;
  }
  for (const field of [
    'tcb_info_signature',
    'qe_identity_signature',
    'root_ca_crl',
    'pck_crl',
  ] as const) {
    if (!/^(?:[0-9a-fA-F]{2})+$/.test(out[field]!)) throw malformed(`field "${field}" must be hex`);
  }
  return out as Collateral;
}

export interface TcbComponent {
  svn: number;
}

export interface TcbLevel {
  tcb: { sgxtcbcomponents: TcbComponent[]; pcesvn: number; tdxtcbcomponents?: TcbComponent[] };
  tcbDate: string;
  tcbStatus: string;
  advisoryIDs: string[];
}

export interface TdxModuleIdentity {
  id: string;
  mrsigner: string;
  attributes: string;
  attributesMask: string;
  tcbLevels: { tcb: { isvsvn: number }; tcbStatus: string; advisoryIDs: string[] }[];
}

export interface TcbInfo {
  id: string;
  version: number;
  issueDate: Date;
  nextUpdate: Date;
  fmspc: string;
  pceId: string;
  tcbLevels: TcbLevel[];
  tdxModule?: { mrsigner: string; attributes: string; attributesMask: string };
  tdxModuleIdentities: TdxModuleIdentity[];
}

export interface QeIdentity {
  id: string;
  version: number;
  issueDate: Date;
  nextUpdate: Date;
  miscselect: number;
  miscselectMask: number;
  attributes: Buffer;
  attributesMask: Buffer;
  mrsigner: Buffer;
  isvprodid: number;
  tcbLevels: { tcb: { isvsvn: number }; tcbStatus: string; advisoryIDs: string[] }[];
}

type Json = Record<string, unknown>;

function obj(value: unknown, what: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw malformed(`${what} must be an object`);
  return value as Json;
}

function arr(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw malformed(`${what} must be an array`);
  return value;
}

function str(value: unknown, what: string): string {
  if (typeof value !== 'string') throw malformed(`${what} must be a string`);
  return value;
}

function int(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw malformed(`${what} must be a non-negative integer`);
  }
  return value;
}

function hex(value: unknown, bytes: number, what: string): Buffer {
  const text = str(value, what);
  if (!new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`).test(text))
    throw malformed(`${what} must be ${bytes} bytes of hex`);
  return Buffer.from(text, 'hex');
}

function date(value: unknown, what: string): Date {
  const d = new Date(str(value, what));
  if (Number.isNaN(d.getTime())) throw malformed(`${what} must be an ISO date`);
  return d;
}

function advisories(value: unknown, what: string): string[] {
  return value === undefined ? [] : arr(value, what).map((a, i) => str(a, `${what}[${i}]`));
}

function components(value: unknown, what: string): TcbComponent[] {
  const list = arr(value, what).map((c, i) => ({
    svn: int(obj(c, `${what}[${i}]`)['svn'], `${what}[${i}].svn`),
  }));
  if (list.length !== 16) throw malformed(`${what} must have 16 components`);
  return list;
}

function isvLevels(value: unknown, what: string): QeIdentity['tcbLevels'] {
  return arr(value, what).map((l, i) => {
    const level = obj(l, `${what}[${i}]`);
    return {
      tcb: {
        isvsvn: int(obj(level['tcb'], `${what}[${i}].tcb`)['isvsvn'], `${what}[${i}].tcb.isvsvn`),
      },
      tcbStatus: str(level['tcbStatus'], `${what}[${i}].tcbStatus`),
      advisoryIDs: advisories(level['advisoryIDs'], `${what}[${i}].advisoryIDs`),
    };
  });
}

function parseJson(text: string, what: string): Json {
  try {
    return obj(JSON.parse(text), what);
  } catch (error) {
    if (error instanceof SemirtError) throw error;
    throw malformed(`${what} is not JSON`, error);
  }
}

/** Parses the TCB info JSON text (the signed bytes themselves are verified separately). */
export function parseTcbInfo(text: string): TcbInfo {
  const j = parseJson(text, 'tcb_info');
  const tdxModule =
    j['tdxModule'] === undefined ? undefined : obj(j['tdxModule'], 'tcb_info.tdxModule');
  const info: TcbInfo = {
    id: str(j['id'], 'tcb_info.id'),
    version: int(j['version'], 'tcb_info.version'),
    issueDate: date(j['issueDate'], 'tcb_info.issueDate'),
    nextUpdate: date(j['nextUpdate'], 'tcb_info.nextUpdate'),
    fmspc: hex(j['fmspc'], 6, 'tcb_info.fmspc').toString('hex'),
    pceId: hex(j['pceId'], 2, 'tcb_info.pceId').toString('hex'),
    tcbLevels: arr(j['tcbLevels'], 'tcb_info.tcbLevels').map((l, i) => {
      const what = `tcb_info.tcbLevels[${i}]`;
      const level = obj(l, what);
      const tcb = obj(level['tcb'], `${what}.tcb`);
      const parsed: TcbLevel = {
        tcb: {
          sgxtcbcomponents: components(tcb['sgxtcbcomponents'], `${what}.tcb.sgxtcbcomponents`),
          pcesvn: int(tcb['pcesvn'], `${what}.tcb.pcesvn`),
        },
        tcbDate: str(level['tcbDate'], `${what}.tcbDate`),
        tcbStatus: str(level['tcbStatus'], `${what}.tcbStatus`),
        advisoryIDs: advisories(level['advisoryIDs'], `${what}.advisoryIDs`),
      };
      if (tcb['tdxtcbcomponents'] !== undefined) {
        parsed.tcb.tdxtcbcomponents = components(
          tcb['tdxtcbcomponents'],
          `${what}.tcb.tdxtcbcomponents`,
        );
      }
      return parsed;
    }),
    tdxModuleIdentities: (j['tdxModuleIdentities'] === undefined
      ? []
      : arr(j['tdxModuleIdentities'], 'tcb_info.tdxModuleIdentities')
    ).map((m, i) => {
      const what = `tcb_info.tdxModuleIdentities[${i}]`;
      const identity = obj(m, what);
      return {
        id: str(identity['id'], `${what}.id`),
        mrsigner: str(identity['mrsigner'], `${what}.mrsigner`),
        attributes: str(identity['attributes'], `${what}.attributes`),
        attributesMask: str(identity['attributesMask'], `${what}.attributesMask`),
        tcbLevels: isvLevels(identity['tcbLevels'], `${what}.tcbLevels`),
      };
    }),
  };
  if (tdxModule) {
    info.tdxModule = {
      mrsigner: str(tdxModule['mrsigner'], 'tcb_info.tdxModule.mrsigner'),
      attributes: str(tdxModule['attributes'], 'tcb_info.tdxModule.attributes'),
      attributesMask: str(tdxModule['attributesMask'], 'tcb_info.tdxModule.attributesMask'),
    };
  }
  return info;
}

/** Parses the QE identity JSON text. */
export function parseQeIdentity(text: string): QeIdentity {
  const j = parseJson(text, 'qe_identity');
  return {
    id: str(j['id'], 'qe_identity.id'),
    version: int(j['version'], 'qe_identity.version'),
    issueDate: date(j['issueDate'], 'qe_identity.issueDate'),
    nextUpdate: date(j['nextUpdate'], 'qe_identity.nextUpdate'),
    miscselect: hex(j['miscselect'], 4, 'qe_identity.miscselect').readUInt32LE(0),
    miscselectMask: hex(j['miscselectMask'], 4, 'qe_identity.miscselectMask').readUInt32LE(0),
    attributes: hex(j['attributes'], 16, 'qe_identity.attributes'),
    attributesMask: hex(j['attributesMask'], 16, 'qe_identity.attributesMask'),
    mrsigner: hex(j['mrsigner'], 32, 'qe_identity.mrsigner'),
    isvprodid: int(j['isvprodid'], 'qe_identity.isvprodid'),
    tcbLevels: isvLevels(j['tcbLevels'], 'qe_identity.tcbLevels'),
  };
}
