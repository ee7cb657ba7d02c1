import 'reflect-metadata';
import { X509Certificate, randomBytes, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import type { TlsCredentials } from './peer.js';

/**
 * Test support only. Until the attestation layer is integrated, tests and the benchmark give
 * each party a self-signed certificate and pin its fingerprint to a measurement (pins.ts): that
 * table stands in for `verifyAttestedPeer` and proves nothing about the peer's code.
 */

/** Self-signed credentials and their SHA-256 fingerprint (Node's format). */
export interface TestIdentity extends TlsCredentials {
  readonly fingerprint: string;
}

/** Generates a P-256 key pair and a self-signed certificate for `commonName`. */
export async function createTestIdentity(commonName: string): Promise<TestIdentity> {
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
  const now = Date.now();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomBytes(8).toString('hex'),
      name: `CN=${commonName}`,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 24 * 3600_000),
      signingAlgorithm: algorithm,
      keys: keys as never,
    },
    webcrypto,
  );
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const cert = certificate.toString('pem');
  const key = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END PRIVATE KEY-----\n`;
  return { key, cert, fingerprint: new X509Certificate(cert).fingerprint256 };
}
