import { join } from 'node:path';
import {
  createAttestedCredentials,
  type AttestedCredentials,
  type PeerCheck,
} from '../../src/attestation/ra-tls.js';
import { SimDcapAuthority } from '../../src/attestation/sim-dcap.js';

/**
 * Test support for KeyService tests: a sim-dcap authority that attests every party (KeyService,
 * runtimes) with RA-TLS certificates, and the checks each side applies to the other. The same
 * verifier code as in production checks the quotes; only the root is the test authority's.
 */
export interface SimAttestation {
  readonly authority: SimDcapAuthority;
  /** The authority's folder (what `--sim-dcap-dir` names). */
  readonly dir: string;
  /** RA-TLS credentials whose evidence carries `measurement` (made once per measurement). */
  credentials(measurement: string): Promise<AttestedCredentials>;
  /** Accepts sim-dcap peers with one of `measurements` (any measurement when omitted). */
  check(measurements?: readonly string[]): PeerCheck;
}

/** Creates a sim-dcap authority in `<parent>/authority`. */
export async function createSimAttestation(parent: string): Promise<SimAttestation> {
  const dir = join(parent, 'authority');
  const authority = await SimDcapAuthority.create(dir);
  const made = new Map<string, Promise<AttestedCredentials>>();
  return {
    authority,
    dir,
    credentials(measurement) {
      let credentials = made.get(measurement);
      if (credentials === undefined) {
        credentials = createAttestedCredentials(authority.attester({ measurement }));
        made.set(measurement, credentials);
      }
      return credentials;
    },
    check(measurements) {
      return {
        verifiers: [authority.verifier()],
        policy: {
          acceptedTcbStatuses: ['UpToDate'],
          allowDebug: false,
          ...(measurements === undefined ? {} : { allowedMeasurements: measurements }),
        },
      };
    },
  };
}
