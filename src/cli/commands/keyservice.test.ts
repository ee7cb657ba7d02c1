import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, it } from 'node:test';
import { createSimAttestation, type SimAttestation } from '../../../test/support/keyservice.js';
import {
  measureRuntime,
  runtimeCodeRoot,
  runtimeMeasuredConfig,
} from '../../attestation/measurement.js';
import { attestationConfig } from '../../config/attestation.js';
import { isSemirtError } from '../../errors.js';
import { userIdOf } from '../../crypto/id-key.js';
import { KeyServiceClient, WorkerKeyClient } from '../../keyservice/client.js';
import { REQUEST_TYPES } from '../../keyservice/messages.js';

// `semirt keyservice` as its own process in simulation mode: it attests itself with sim-dcap under
// its own measurement (role "keyservice") and verifies runtimes with the same authority.

const RUNTIME = '11'.repeat(32);
const OTHER_RUNTIME = '33'.repeat(32);
const dir = mkdtempSync(join(tmpdir(), 'semirt-cli-keyservice-'));
let sim: SimAttestation;

before(async () => {
  sim = await createSimAttestation(dir);
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

// The CLI entry: .ts when run from sources, .js when compiled.
const extension = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const mainPath = fileURLToPath(new URL(`../main${extension}`, import.meta.url));

function spawnKeyService(flags: string[]) {
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
      ...flags,
    ],
    { env, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      resolve(code);
    });
  });
  return { child, exited };
}

/** Starts `semirt keyservice` in simulation on free ports; resolves once it logged its ports. */
async function startKeyServiceProcess() {
  const { child, exited } = spawnKeyService([
    '--attestation-mode',
    'simulation',
    '--sim-dcap-dir',
    sim.dir,
  ]);
  const lines = createInterface({ input: child.stderr });
  let measurement: string | undefined;
  const ports = await new Promise<{ clientPort: number; workerPort: number }>((resolve, reject) => {
    lines.on('line', (line) => {
      const entry = JSON.parse(line) as {
        msg?: string;
        clientPort?: number;
        workerPort?: number;
        measurement?: string;
      };
      if (entry.msg === 'KeyService attested') measurement = entry.measurement;
      if (entry.msg === 'KeyService listening' && entry.clientPort && entry.workerPort)
        resolve({ clientPort: entry.clientPort, workerPort: entry.workerPort });
    });
    void exited.then((code) => {
      reject(new Error(`semirt keyservice exited with ${code}`));
    });
  });
  assert.ok(measurement !== undefined, 'the KeyService logged its measurement');
  return { child, exited, ...ports, measurement };
}

it('semirt keyservice in simulation attests as role "keyservice", releases keys by the runtime\'s verified measurement, and keeps its data across a restart', async () => {
  const first = await startKeyServiceProcess();
  const attestation = attestationConfig({ attestationMode: 'simulation' }, {});
  const [keyServiceRole, runtimeRole] = await Promise.all(
    (['keyservice', 'runtime'] as const).map(async (role) => {
      const config = runtimeMeasuredConfig(attestation, role);
      return (await measureRuntime({ codeRoot: runtimeCodeRoot(), config })).measurement;
    }),
  );
  assert.equal(first.measurement, keyServiceRole, 'what `semirt measure --role keyservice` prints');
  assert.notEqual(first.measurement, runtimeRole);

  const owner = randomBytes(16);
  const user = randomBytes(16);
  const modelId = `${userIdOf(owner)}-net`;
  const modelKey = randomBytes(16);
  const client = new KeyServiceClient({
    endpoint: { host: '127.0.0.1', port: first.clientPort },
    ...sim.check([first.measurement]),
  });
  try {
    await client.register(owner);
    await client.register(user);
    await client.send(owner, { type: REQUEST_TYPES.UPSERT_MODEL_KEY, modelId, modelKey });
    await client.send(owner, {
      type: REQUEST_TYPES.GRANT_MODEL_ACCESS,
      modelId,
      measurement: RUNTIME,
      userId: userIdOf(user),
    });
    await client.send(user, {
      type: REQUEST_TYPES.ADD_REQUEST_KEY,
      modelId,
      measurement: RUNTIME,
      requestKey: user,
    });
  } finally {
    client.close();
  }
  const worker = async (measurement: string) =>
    new WorkerKeyClient({
      endpoint: { host: '127.0.0.1', port: first.workerPort },
      credentials: await sim.credentials(measurement),
      ...sim.check([first.measurement]),
    });
  const granted = await worker(RUNTIME);
  const other = await worker(OTHER_RUNTIME);
  try {
    assert.deepEqual((await granted.fetchKeys(userIdOf(user), modelId)).modelKey, modelKey);
    await assert.rejects(other.fetchKeys(userIdOf(user), modelId), (e) =>
      isSemirtError(e, 'KEYSERVICE_DENIED'),
    );
  } finally {
    granted.close();
    other.close();
  }
  first.child.kill('SIGTERM');
  assert.equal(await first.exited, 0);
  assert.equal(existsSync(join(dir, 'sealing.key')), true);

  const second = await startKeyServiceProcess();
  const again = new KeyServiceClient({
    endpoint: { host: '127.0.0.1', port: second.clientPort },
    ...sim.check([second.measurement]),
  });
  try {
    await assert.rejects(
      again.register(owner),
      (e) => isSemirtError(e, 'KEYSERVICE_DENIED') && /already taken/.test(e.message),
    );
  } finally {
    again.close();
    second.child.kill('SIGTERM');
    assert.equal(await second.exited, 0);
  }
});

it('semirt keyservice in production mode (the default) refuses sim-dcap with a clear start-up error', async () => {
  const { child, exited } = spawnKeyService(['--attester', 'sim-dcap', '--sim-dcap-dir', sim.dir]);
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  assert.equal(await exited, 1);
  assert.match(stderr, /^semirt: Cannot start attestation: production mode refuses sim-dcap/m);
});
