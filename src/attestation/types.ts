/** Attestation schemes: sim-dcap (local test authority), SGX DCAP and TDX DCAP on real hardware. */
export type Scheme = 'sim-dcap' | 'sgx-dcap' | 'tdx-dcap';

/** What a verifier established from evidence; `measurement` is MRENCLAVE (SGX) or MRTD (TDX). */
export interface VerifiedEvidence {
  scheme: Scheme;
  /** Lowercase hex MRENCLAVE / MRTD. */
  measurement: string;
  /** Lowercase hex MRSIGNER (SGX) or MRSIGNERSEAM (TDX). */
  signer: string;
  productId: number;
  svn: number;
  debug: boolean;
  tcbStatus: string;
  advisoryIds: string[];
  reportData: Uint8Array;
}

/** Produces evidence (a quote) whose report data is the given 64 bytes. */
export interface Attester {
  readonly scheme: Scheme;
  attest(reportData: Uint8Array): Promise<Uint8Array>;
}

/** Checks evidence cryptographically; fails closed with a distinct SemirtError code per check. */
export interface Verifier {
  readonly scheme: Scheme;
  verify(evidence: Uint8Array, options: { now: Date }): Promise<VerifiedEvidence>;
}

/** What a relying party accepts once evidence has verified. */
export interface Policy {
  allowedMeasurements?: readonly string[];
  allowedSigners?: readonly string[];
  productId?: number;
  minSvn?: number;
  acceptedTcbStatuses: readonly string[];
  allowDebug: boolean;
}
