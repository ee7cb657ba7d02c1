import { SemirtError } from '../errors.js';
import type { Policy, VerifiedEvidence } from './types.js';

function normalizeHex(value: string): string {
  return value.trim().toLowerCase();
}

/** Applies a relying party's policy to verified evidence; each refusal has its own code. */
export function applyPolicy(evidence: VerifiedEvidence, policy: Policy): VerifiedEvidence {
  if (evidence.debug && !policy.allowDebug) {
    throw new SemirtError(
      'POLICY_DEBUG',
      `Peer refused: the ${evidence.scheme} evidence comes from a debug enclave and debug is not allowed`,
    );
  }
  if (
    policy.allowedMeasurements !== undefined &&
    !policy.allowedMeasurements.some((m) => normalizeHex(m) === evidence.measurement)
  ) {
    throw new SemirtError(
      'POLICY_MEASUREMENT',
      `Peer refused: measurement "${evidence.measurement}" is not in the allowed list`,
    );
  }
  if (
    policy.allowedSigners !== undefined &&
    !policy.allowedSigners.some((s) => normalizeHex(s) === evidence.signer)
  ) {
    throw new SemirtError(
      'POLICY_SIGNER',
      `Peer refused: signer "${evidence.signer}" is not in the allowed list`,
    );
  }
  if (policy.productId !== undefined && evidence.productId !== policy.productId) {
    throw new SemirtError(
      'POLICY_PRODUCT_ID',
      `Peer refused: product id ${evidence.productId} is not ${policy.productId}`,
    );
  }
  if (policy.minSvn !== undefined && evidence.svn < policy.minSvn) {
    throw new SemirtError(
      'POLICY_SVN',
      `Peer refused: SVN ${evidence.svn} is below the minimum ${policy.minSvn}`,
    );
  }
  if (!policy.acceptedTcbStatuses.includes(evidence.tcbStatus)) {
    throw new SemirtError(
      'POLICY_TCB_STATUS',
      `Peer refused: TCB status "${evidence.tcbStatus}" is not accepted (accepted: ${policy.acceptedTcbStatuses.join(', ') || 'none'})`,
    );
  }
  return evidence;
}
