import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, it } from 'node:test';
import Database from 'better-sqlite3';
import { userIdOf } from '../crypto/id-key.js';
import { Sealer } from '../crypto/seal.js';
import { createSimAttestation } from '../../test/support/keyservice.js';
import { KeyServiceClient } from './client.js';
import { REQUEST_TYPES } from './messages.js';
import { KeyStore } from './store.js';

const dir = mkdtempSync(join(tmpdir(), 'semirt-crash-'));
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

// The child is test support (never shipped): .ts when run from sources, .js when compiled.
const extension = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const childPath = fileURLToPath(
  new URL(`../../test/support/keyservice-crash-child${extension}`, import.meta.url),
);
const KEYSERVICE = 'ee'.repeat(32);

it('KeyStore loses no acknowledged write and keeps no half-written record when the KeyService is killed with SIGKILL mid-write', async () => {
  const sim = await createSimAttestation(dir);
  const identity = await sim.credentials(KEYSERVICE);
  const sealingKey = randomBytes(32);
  const dbPath = join(dir, 'crash.db');
  const configPath = join(dir, 'child.json');
  writeFileSync(
    configPath,
    JSON.stringify({
      dbPath,
      sealingKey: sealingKey.toString('base64'),
      simDir: sim.dir,
      key: identity.key,
      cert: identity.cert,
    }),
  );
  const env = { ...process.env };
  delete env['NODE_TEST_CONTEXT'];
  const child = spawn(
    process.execPath,
    [...process.execArgv.filter((arg) => !arg.startsWith('--test')), childPath, configPath],
    { env, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.once('exit', (_code, signal) => {
      resolve(signal);
    }),
  );
  const lines = createInterface({ input: child.stdout });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', () => {
      reject(new Error('the KeyService child exited before listening'));
    });
  });
  lines.close();
  const { clientPort } = JSON.parse(first) as { clientPort: number };

  const acknowledged = new Map<string, { idKey: Buffer; modelKey: Buffer }>();
  const attempted = new Map<string, { idKey: Buffer; modelKey: Buffer }>();
  const keyServiceCheck = sim.check([KEYSERVICE]);
  const KILL_AFTER = 40;
  let killed = false;
  // Eight independent writers, each registering users and uploading their model keys, so that
  // several transactions are in flight when the process dies.
  const writer = async (): Promise<void> => {
    const client = new KeyServiceClient({
      endpoint: { host: '127.0.0.1', port: clientPort },
      ...keyServiceCheck,
    });
    try {
      while (!killed) {
        const idKey = randomBytes(16);
        const modelKey = randomBytes(32);
        const userId = userIdOf(idKey);
        attempted.set(userId, { idKey, modelKey });
        await client.register(idKey);
        await client.send(idKey, {
          type: REQUEST_TYPES.UPSERT_MODEL_KEY,
          modelId: `${userId}-m`,
          modelKey,
        });
        acknowledged.set(userId, { idKey, modelKey });
        if (acknowledged.size >= KILL_AFTER) {
          killed = true;
          child.kill('SIGKILL');
        }
      }
    } catch {
      // Requests in flight when the process dies fail; only acknowledged ones are checked.
    } finally {
      client.close();
    }
  };
  await Promise.all(Array.from({ length: 8 }, writer));
  assert.equal(await exited, 'SIGKILL');
  assert.ok(acknowledged.size >= KILL_AFTER);

  const raw = new Database(dbPath, { readonly: true });
  assert.equal(raw.pragma('integrity_check', { simple: true }), 'ok');
  const userIds = (raw.prepare('SELECT user_id FROM users').all() as { user_id: string }[]).map(
    (r) => r.user_id,
  );
  const modelIds = (
    raw.prepare('SELECT model_id FROM model_keys').all() as { model_id: string }[]
  ).map((r) => r.model_id);
  raw.close();

  const store = KeyStore.open(dbPath, new Sealer(sealingKey));
  try {
    for (const [userId, { idKey, modelKey }] of acknowledged) {
      assert.deepEqual(store.getUser(userId)?.idKey, idKey);
      assert.deepEqual(store.getModelKey(`${userId}-m`), modelKey);
    }
    // Every record present (acknowledged or not) unseals whole and holds what was sent.
    for (const userId of userIds) {
      assert.deepEqual(store.getUser(userId)?.idKey, attempted.get(userId)?.idKey);
    }
    for (const modelId of modelIds) {
      assert.deepEqual(store.getModelKey(modelId), attempted.get(modelId.slice(0, 64))?.modelKey);
    }
  } finally {
    store.close();
  }
});
