import { readFileSync } from 'node:fs';
import { SemirtError } from '../errors.js';
import { checkMeasurement } from './messages.js';
import type { VerifyPeer } from './peer.js';

/**
 * Pinned-certificate verification: a table from certificate SHA-256 fingerprints to the
 * measurement an administrator vouches for. It proves nothing about the peer's code; it stands in
 * for the attestation layer (verifyAttestedPeer) in tests, benchmarks and development setups.
 */
export function pinnedVerifier(table: ReadonlyMap<string, string>): VerifyPeer {
  const normalized = new Map([...table].map(([fp, m]) => [normalizeFingerprint(fp), m]));
  return (cert) => {
    const measurement = normalized.get(normalizeFingerprint(cert.fingerprint256));
    return measurement === undefined
      ? Promise.reject(
          new SemirtError(
            'KEYSERVICE_PEER_REJECTED',
            `certificate ${cert.fingerprint256} is not pinned`,
          ),
        )
      : Promise.resolve({ measurement });
  };
}

/** Upper-case hex without separators, so pins may be written with or without colons. */
function normalizeFingerprint(fingerprint: string): string {
  return fingerprint.replace(/:/g, '').toUpperCase();
}

/** Reads a pins file: a JSON object from certificate fingerprints to measurements (hex). */
export function readPinsFile(path: string): Map<string, string> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw new SemirtError(
      'INVALID_OPTION',
      `Cannot read pins file "${path}": ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new SemirtError('INVALID_OPTION', `Invalid pins file "${path}": expected a JSON object`);
  }
  const table = new Map<string, string>();
  for (const [fingerprint, measurement] of Object.entries(json)) {
    if (
      !/^(?:[0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$/.test(fingerprint) ||
      typeof measurement !== 'string'
    ) {
      throw new SemirtError(
        'INVALID_OPTION',
        `Invalid pins file "${path}": entry ${JSON.stringify(fingerprint)} must map a SHA-256 fingerprint to a measurement string`,
      );
    }
    try {
      table.set(fingerprint, checkMeasurement(measurement, `measurement of pin ${fingerprint}`));
    } catch (cause) {
      throw new SemirtError(
        'INVALID_OPTION',
        `Invalid pins file "${path}": ${(cause as Error).message}`,
      );
    }
  }
  return table;
}
