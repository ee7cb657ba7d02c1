import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createSimAttestation, type SimAttestation } from '../../../test/support/keyservice.js';
import { SHARED_DATA } from '../../../test/support/paths.js';
import { isSemirtError } from '../../errors.js';
import { decryptEnvelope } from '../../crypto/envelope.js';
import { userIdOf } from '../../crypto/id-key.js';
import { readKeyFile } from '../../crypto/key-file.js';
import { Sealer } from '../../crypto/seal.js';
import { silentLogger } from '../../log/logger.js';
import { WorkerKeyClient } from '../../keyservice/client.js';
import { startKeyServiceServer, type RunningKeyService } from '../../keyservice/server.js';
import { KeyService } from '../../keyservice/service.js';
import { KeyStore } from '../../keyservice/store.js';
import { buildProgram } from '../program.js';

// The KeyService and the worker hold sim-dcap RA-TLS credentials; `semirt access` verifies the
// KeyService's evidence in simulation mode against the measurement given on its command line.

const dir = mkdtempSync(join(tmpdir(), 'semirt-cli-tooling-'));
const at = (name: string): string => join(dir, name);
const MEASUREMENT = 'ab'.repeat(32);
const KEYSERVICE_MEASUREMENT = 'cd'.repeat(32);

async function semirt(...args: string[]): Promise<void> {
  await buildProgram().parseAsync(args, { from: 'user' });
}

/** How `semirt access` reaches and verifies the test KeyService (sim-dcap, simulation mode). */
function connectionFlags(keyServiceMeasurement: string, mode = 'simulation'): string[] {
  return [
    '--keyservice',
    `127.0.0.1:${running.clientPort}`,
    '--keyservice-measurement',
    keyServiceMeasurement,
    '--attestation-mode',
    mode,
    '--accept-schemes',
    'sim-dcap',
    '--sim-dcap-dir',
    sim.dir,
  ];
}

/** Runs a command that must fail; returns what it printed on stderr. */
async function semirtFails(...args: string[]): Promise<string> {
  const write = process.stderr.write.bind(process.stderr);
  let printed = '';
  process.stderr.write = (chunk: string) => {
    printed += chunk;
    return true;
  };
  try {
    await semirt(...args);
  } finally {
    process.stderr.write = write;
  }
  assert.equal(process.exitCode, 1, printed);
  process.exitCode = 0;
  return printed;
}

let sim: SimAttestation;
let store: KeyStore;
let running: RunningKeyService;

before(async () => {
  sim = await createSimAttestation(dir);
  store = KeyStore.open(at('ks.db'), new Sealer(randomBytes(32)));
  const logger = silentLogger();
  running = await startKeyServiceServer(new KeyService(store, { sesemiCompat: false, logger }), {
    host: '127.0.0.1',
    clientPort: 0,
    workerPort: 0,
    credentials: await sim.credentials(KEYSERVICE_MEASUREMENT),
    workerCheck: sim.check(),
    maxClientBodyBytes: 65536,
    maxWorkerBodyBytes: 4096,
    maxConnections: 16,
    logger,
  });
});

after(async () => {
  await running.close();
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('semirt key / encrypt / decrypt / model', () => {
  it('key create writes a 0600 base64 key that key id and the crypto functions read', async () => {
    await semirt('key', 'create', '--out', at('k32.key'), '--bytes', '32');
    const key = await readKeyFile(at('k32.key'), 'key');
    assert.equal(key.length, 32);
    assert.equal(readFileSync(at('k32.key'), 'utf8').trim(), key.toString('base64'));
  });

  for (const encoding of ['base64', 'hex', 'binary']) {
    it(`encrypt then decrypt round-trips a file in ${encoding}`, async () => {
      await semirt('key', 'create', '--out', at(`${encoding}.key`));
      const plain = randomBytes(5000);
      writeFileSync(at(`${encoding}.plain`), plain);
      const common = ['--key', at(`${encoding}.key`), '--encoding', encoding];
      await semirt(
        'encrypt',
        ...common,
        '--in',
        at(`${encoding}.plain`),
        '--out',
        at(`${encoding}.enc`),
      );
      await semirt(
        'decrypt',
        ...common,
        '--in',
        at(`${encoding}.enc`),
        '--out',
        at(`${encoding}.dec`),
      );
      assert.deepEqual(readFileSync(at(`${encoding}.dec`)), plain);
    });
  }

  it("decrypt reads SeSeMI's encrypted sample (base64) with its key", async () => {
    const request = JSON.parse(
      readFileSync(join(SHARED_DATA, 'sesemi-examples', 'inference_req.json'), 'utf8'),
    ) as { encrypted_sample: string };
    writeFileSync(at('sample.b64'), request.encrypted_sample);
    writeFileSync(at('sesemi.key'), 'H4ZqO2W2ruqtVzRT0QOMAQ==\n');
    await semirt(
      'decrypt',
      '--key',
      at('sesemi.key'),
      '--encoding',
      'base64',
      '--in',
      at('sample.b64'),
      '--out',
      at('sample.raw'),
    );
    assert.equal(readFileSync(at('sample.raw')).length, 602_112);
  });

  it('model encrypt places the files of a bundle as <model_id>.<ext>', async () => {
    await semirt('key', 'create', '--out', at('bundle.key'));
    const key = await readKeyFile(at('bundle.key'), 'key');
    const files = { 'mb.graph_json': randomBytes(100), 'mb.params_data': randomBytes(2000) };
    for (const [name, bytes] of Object.entries(files)) writeFileSync(at(name), bytes);
    await semirt(
      'model',
      'encrypt',
      '--key',
      at('bundle.key'),
      '--store',
      at('bundle-store'),
      '--model-id',
      'tvm-mb',
      at('mb.graph_json'),
      at('mb.params_data'),
    );
    assert.deepEqual(
      decryptEnvelope(key, readFileSync(join(at('bundle-store'), 'tvm-mb.graph_json'))),
      files['mb.graph_json'],
    );
    assert.deepEqual(
      decryptEnvelope(key, readFileSync(join(at('bundle-store'), 'tvm-mb.params_data'))),
      files['mb.params_data'],
    );
  });

  it('a failing tool command prints one line and sets exit code 1 instead of throwing', async () => {
    await semirt('key', 'id', at('does-not-exist.key'));
    assert.equal(process.exitCode, 1);
    process.exitCode = 0;
  });
});

describe('semirt model encrypt + semirt access, against a live KeyService', () => {
  it('encrypts a model into the store and publishes its key so that only the granted worker gets it', async () => {
    for (const name of ['owner', 'user', 'model', 'request']) {
      await semirt('key', 'create', '--out', at(`${name}.key`));
    }
    const owner = await readKeyFile(at('owner.key'), 'key');
    const userId = userIdOf(await readKeyFile(at('user.key'), 'key'));
    const modelId = `${userIdOf(owner)}-net`;
    const model = randomBytes(3 * 1024 * 1024 + 3);
    writeFileSync(at('model.tflite'), model);
    await semirt(
      'model',
      'encrypt',
      '--key',
      at('model.key'),
      '--store',
      at('store'),
      '--model-id',
      modelId,
      at('model.tflite'),
    );
    const modelKey = await readKeyFile(at('model.key'), 'key');
    assert.deepEqual(decryptEnvelope(modelKey, readFileSync(join(at('store'), modelId))), model);

    const connection = connectionFlags(KEYSERVICE_MEASUREMENT);
    await semirt('access', 'register', '--id-key', at('owner.key'), ...connection);
    await semirt('access', 'register', '--id-key', at('user.key'), ...connection);
    await semirt(
      'access',
      'upload-model-key',
      '--id-key',
      at('owner.key'),
      '--model-id',
      modelId,
      '--model-key',
      at('model.key'),
      ...connection,
    );
    await semirt(
      'access',
      'grant',
      '--id-key',
      at('owner.key'),
      '--model-id',
      modelId,
      '--measurement',
      MEASUREMENT,
      '--user',
      userId,
      ...connection,
    );
    await semirt(
      'access',
      'add-request-key',
      '--id-key',
      at('user.key'),
      '--model-id',
      modelId,
      '--measurement',
      MEASUREMENT,
      '--request-key',
      at('request.key'),
      ...connection,
    );
    assert.equal(process.exitCode ?? 0, 0);

    const worker = new WorkerKeyClient({
      endpoint: { host: '127.0.0.1', port: running.workerPort },
      credentials: await sim.credentials(MEASUREMENT),
      ...sim.check([KEYSERVICE_MEASUREMENT]),
    });
    try {
      const keys = await worker.fetchKeys(userId, modelId);
      assert.deepEqual(keys.modelKey, modelKey);
      assert.deepEqual(keys.inputKey, await readKeyFile(at('request.key'), 'key'));
      await semirt(
        'access',
        'revoke',
        '--id-key',
        at('owner.key'),
        '--model-id',
        modelId,
        '--measurement',
        MEASUREMENT,
        '--user',
        userId,
        ...connection,
      );
      await assert.rejects(worker.fetchKeys(userId, modelId), (e) =>
        isSemirtError(e, 'KEYSERVICE_DENIED'),
      );
    } finally {
      worker.close();
    }
  });

  it("access send delivers request files unchanged (SeSeMI's register request)", async () => {
    await semirt(
      'access',
      'send',
      ...connectionFlags(KEYSERVICE_MEASUREMENT),
      join(SHARED_DATA, 'sesemi-examples', 'register_req.json'),
    );
    assert.notEqual(
      store.getUser(userIdOf(Buffer.from('H4ZqO2W2ruqtVzRT0QOMAQ==', 'base64'))),
      undefined,
    );
  });

  it('access refuses, before sending anything, a KeyService whose attestation names another measurement', async () => {
    await semirt('key', 'create', '--out', at('wary.key'));
    const idKey = await readKeyFile(at('wary.key'), 'key');
    const printed = await semirtFails(
      'access',
      'register',
      '--id-key',
      at('wary.key'),
      ...connectionFlags(MEASUREMENT),
    );
    assert.match(printed, /Cannot trust the KeyService .*POLICY_MEASUREMENT/);
    assert.equal(store.getUser(userIdOf(idKey)), undefined);
  });

  it('access in production mode (the default) refuses to accept sim-dcap evidence at start-up', async () => {
    const printed = await semirtFails(
      'access',
      'register',
      '--id-key',
      at('wary.key'),
      ...connectionFlags(KEYSERVICE_MEASUREMENT, 'production'),
    );
    assert.match(printed, /production mode refuses sim-dcap/);
  });
});
