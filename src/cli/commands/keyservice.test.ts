import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, it } from 'node:test';
import { isSemirtError } from '../../errors.js';
import { KeyServiceClient } from '../../keyservice/client.js';
import { pinnedVerifier } from '../../keyservice/pins.js';
import { createTestIdentity } from '../../keyservice/testing.js';

// Pinned certificate fingerprints stand in for the attestation layer until integration.

const dir = mkdtempSync(join(tmpdir(), 'semirt-cli-keyservice-'));
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

// The CLI entry: .ts when run from sources, .js when compiled.
const extension = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const mainPath = fileURLToPath(new URL(`../main${extension}`, import.meta.url));

/** Starts `semirt keyservice` on free ports; resolves once it logged its ports. */
async function startKeyServiceProcess() {
  const env: NodeJS.ProcessEnv = { ...process.env, SEMIRT_KEYSERVICE_DB: join(dir, 'ks.db') };
  delete env['NODE_TEST_CONTEXT'];
  const child = spawn(
    process.execPath,
    [
      ...process.execArgv.filter((arg) => !arg.startsWith('--test')),
      mainPath,
      'keyservice',
      '--host',
      '127.0.0.1',
      '--client-port',
      '0',
      '--worker-port',
      '0',
      '--sealing-key-file',
      join(dir, 'sealing.key'),
      '--tls-cert',
      join(dir, 'ks.crt'),
      '--tls-key',
      join(dir, 'ks.key'),
      '--worker-pins',
      join(dir, 'pins.json'),
    ],
    { env, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      resolve(code);
    });
  });
  const lines = createInterface({ input: child.stderr });
  const clientPort = await new Promise<number>((resolve, reject) => {
    lines.on('line', (line) => {
      const entry = JSON.parse(line) as { msg?: string; clientPort?: number };
      if (entry.msg === 'KeyService listening' && entry.clientPort !== undefined)
        resolve(entry.clientPort);
    });
    void exited.then((code) => {
      reject(new Error(`semirt keyservice exited with ${code}`));
    });
  });
  return { child, exited, clientPort };
}

it('semirt keyservice serves, stops cleanly on SIGTERM and keeps its users across a restart', async () => {
  const identity = await createTestIdentity('cli-keyservice');
  writeFileSync(join(dir, 'ks.crt'), identity.cert);
  writeFileSync(join(dir, 'ks.key'), identity.key);
  writeFileSync(
    join(dir, 'pins.json'),
    JSON.stringify({ [identity.fingerprint]: 'ee'.repeat(32) }),
  );
  const verifyServer = pinnedVerifier(new Map([[identity.fingerprint, 'ee'.repeat(32)]]));
  const idKey = randomBytes(16);

  const first = await startKeyServiceProcess();
  const client = new KeyServiceClient({
    endpoint: { host: '127.0.0.1', port: first.clientPort },
    verifyServer,
  });
  try {
    await client.register(idKey);
  } finally {
    client.close();
  }
  first.child.kill('SIGTERM');
  assert.equal(await first.exited, 0);
  assert.equal(existsSync(join(dir, 'sealing.key')), true);

  const second = await startKeyServiceProcess();
  const again = new KeyServiceClient({
    endpoint: { host: '127.0.0.1', port: second.clientPort },
    verifyServer,
  });
  try {
    await assert.rejects(
      again.register(idKey),
      (e) => isSemirtError(e, 'KEYSERVICE_DENIED') && /already taken/.test(e.message),
    );
  } finally {
    again.close();
    second.child.kill('SIGTERM');
    assert.equal(await second.exited, 0);
  }
});
