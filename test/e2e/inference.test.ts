// The secure inference path end to end with real processes: a KeyService and a runtime
// (`semirt keyservice`, `semirt runtime --store`) on loopback with sim-dcap attested TLS, real
// models encrypted into a store, SeSeMI-format requests, and answers decrypted by the client.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { LocalStack, type Party } from '../../src/cli/local-stack.js';
import { encryptEnvelope } from '../../src/crypto/envelope.js';
import { createAesKey } from '../../src/crypto/id-key.js';
import { buildMobileNetV1 } from '../../src/engines/onnx/model-builder.js';
import { REPO_ROOT, SHARED_DATA } from '../support/paths.js';
import { helloWorldBundle, TVM_FIXTURES } from '../fixtures/tvm/bundles.js';
import { loadModel } from '../../src/engines/registry.js';
import { CLI } from '../support/runtime-process.js';

const dir = mkdtempSync(join(tmpdir(), 'semirt-e2e-'));
const tflite = (name: string): string => join(SHARED_DATA, 'tflite', 'models', `${name}.tflite`);
const PERSON_MODEL = tflite('person_detect_int8');
const HELLO_MODEL = tflite('hello_world_float');
const personImage = (name: string): Buffer =>
  readFileSync(join(REPO_ROOT, 'examples', 'models', `${name}.int8`));
const float = (x: number): Buffer => Buffer.from(new Float32Array([x]).buffer);

/** Plaintext `semirt infer` of one input: the reference for the encrypted path. */
function plainInfer(model: string, input: Uint8Array): Buffer {
  const work = mkdtempSync(join(tmpdir(), 'semirt-infer-'));
  writeFileSync(join(work, 'in.bin'), input);
  const result = spawnSync(
    process.execPath,
    [
      CLI,
      'infer',
      '--model',
      model,
      '--input',
      join(work, 'in.bin'),
      '--output',
      join(work, 'out.bin'),
    ],
    { encoding: 'utf8' },
  );
  assert.equal(result.status, 0, result.stderr);
  return readFileSync(join(work, 'out.bin'));
}

const errorCode = (body: unknown): string | undefined =>
  (body as { error?: { code?: string } }).error?.code;

let stack: LocalStack;
let owner: Party;
let userA: Party;
let userB: Party;
let person: string;
let hello: string;
let keyA: Buffer;
let keyB: Buffer;
const keysB = new Map<string, Buffer>();

before(async () => {
  stack = await LocalStack.start({ dir, runtimePort: 0, workers: 2 });
  owner = await stack.register();
  userA = await stack.register();
  userB = await stack.register();
  person = await stack.addModel(owner, 'person_detect', PERSON_MODEL);
  hello = await stack.addModel(owner, 'hello_world', HELLO_MODEL);
  for (const user of [userA, userB]) {
    await stack.grant(owner, person, user);
    await stack.grant(owner, hello, user);
  }
  keyA = await stack.addRequestKey(userA, person);
  await stack.addRequestKey(userA, hello, keyA);
  keyB = await stack.addRequestKey(userB, person);
  keysB.set(person, keyB);
  keysB.set(hello, await stack.addRequestKey(userB, hello));
});
after(async () => {
  await stack.stop();
});

/** A request that must succeed: proves the runtime still serves after whatever came before. */
async function succeeds(): Promise<void> {
  const answer = await stack.run(stack.request(userA, person, keyA, personImage('person')), keyA);
  assert.equal(answer.status, 200);
  assert.deepEqual(answer.output, plainInfer(PERSON_MODEL, personImage('person')));
}

describe('encrypted inference through the runtime', () => {
  test('64 concurrent requests across two models and two users decrypt to the plaintext answers', async () => {
    const cases = Array.from({ length: 64 }, (_, i) => {
      const user = i % 2 === 0 ? userA : userB;
      const onPerson = i % 4 < 2;
      const model = onPerson ? person : hello;
      const input = onPerson
        ? personImage(i % 8 < 4 ? 'person' : 'no_person')
        : float((i % 7) * 0.9);
      const key = user === userA ? keyA : keysB.get(model)!;
      return { user, model, file: onPerson ? PERSON_MODEL : HELLO_MODEL, input, key, id: `c${i}` };
    });
    const answers = await Promise.all(
      cases.map((c) => stack.run(stack.request(c.user, c.model, c.key, c.input), c.key, c.id)),
    );
    const expected = new Map<string, Buffer>();
    answers.forEach((answer, i) => {
      const c = cases[i]!;
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      const reference = `${c.file}:${c.input.toString('hex')}`;
      if (!expected.has(reference)) expected.set(reference, plainInfer(c.file, c.input));
      assert.deepEqual(answer.output, expected.get(reference), `request ${c.id}`);
      const aux = (answer.body as { msg: { aux: Record<string, unknown> } }).msg.aux;
      for (const phase of ['key_fetch', 'decrypt', 'queue', 'infer', 'encrypt'])
        assert.equal(typeof aux[phase], 'number');
    });
  });

  test("serves SeSeMI's own encrypted example request to an ONNX MobileNet", async () => {
    // SeSeMI's user id key and request key (one key in all its example files).
    const sesemiKey = Buffer.from('H4ZqO2W2ruqtVzRT0QOMAQ==', 'base64');
    const sesemi = await stack.register(sesemiKey);
    const request = JSON.parse(
      readFileSync(join(SHARED_DATA, 'sesemi-examples', 'ow_run_req.json'), 'utf8'),
    ) as {
      value: Record<string, unknown>;
    };
    const modelFile = join(dir, 'mobilenet.onnx');
    writeFileSync(modelFile, buildMobileNetV1({ alpha: 0.25, classes: 10 }));
    const modelId = await stack.addModel(sesemi, 'mobilenet', modelFile);
    assert.equal(modelId, request.value['model_type']);
    await stack.grant(sesemi, modelId, sesemi);
    await stack.addRequestKey(sesemi, modelId, Buffer.from(sesemiKey));
    // The value as SeSeMI's tools wrote it; only the KeyService's address is this machine's.
    const value = {
      ...request.value,
      key_service_address: stack.keyServiceHost,
      key_service_port: stack.keyServicePorts.worker,
    };
    const answer = await stack.run(value, sesemiKey, 'sesemi');
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const plain = JSON.parse(
      readFileSync(join(SHARED_DATA, 'sesemi-examples', 'inference_req_nenc.json'), 'utf8'),
    ) as {
      encrypted_sample: string;
    };
    const sample = Buffer.from(plain.encrypted_sample, 'base64');
    assert.equal(sample.length, 602_112);
    assert.deepEqual(answer.output, plainInfer(modelFile, sample));
  });

  test('serves a TVM bundle (graph, params, wasm operator library) from the store', async () => {
    const modelId = await stack.addBundle(owner, 'hello_tvm', {
      graphJson: join(TVM_FIXTURES, 'hello-world.graph.json'),
      params: join(TVM_FIXTURES, 'hello-world.params'),
      library: join(TVM_FIXTURES, 'hello-world.wasm'),
    });
    await stack.grant(owner, modelId, userA);
    await stack.addRequestKey(userA, modelId, keyA);
    const model = await loadModel(helloWorldBundle());
    const session = await model.createSession();
    for (const x of [0.5, 1, 3]) {
      const [expected] = await session.run([
        { dtype: 'float32', shape: [1, 1], data: new Uint8Array(float(x)) },
      ]);
      const answer = await stack.run(stack.request(userA, modelId, keyA, float(x)), keyA);
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.deepEqual(answer.output, Buffer.from(expected!.data));
    }
  });

  const failures: [string, () => Record<string, unknown>, string][] = [
    ['a malformed request', () => ({ model_type: person }), 'INFERENCE_REQUEST_INVALID'],
    [
      'bad base64',
      () => ({
        ...stack.request(userA, person, keyA, personImage('person')),
        encrypted_sample: '@@@',
      }),
      'INFERENCE_REQUEST_INVALID',
    ],
    [
      'a tampered ciphertext',
      () => {
        const value = stack.request(userA, person, keyA, personImage('person'));
        const bytes = Buffer.from(value['encrypted_sample'] as string, 'base64');
        bytes[10]! ^= 1;
        return { ...value, encrypted_sample: bytes.toString('base64') };
      },
      'ENVELOPE_AUTH_FAILED',
    ],
    [
      'a sample under the wrong key',
      () => stack.request(userA, person, createAesKey(), personImage('person')),
      'ENVELOPE_AUTH_FAILED',
    ],
    [
      'an input of the wrong size',
      () => stack.request(userA, person, keyA, Buffer.alloc(100)),
      'INPUT_MISMATCH',
    ],
    [
      'a user without access',
      () => stack.request(owner, person, keyA, personImage('person')),
      'KEYSERVICE_DENIED',
    ],
    [
      'an unknown model',
      () => stack.request(userA, `${owner.userId}-absent`, keyA, personImage('person')),
      'KEYSERVICE_DENIED',
    ],
  ];
  for (const [label, value, code] of failures) {
    test(`answers ${label} with 200 {"error": {"code": "${code}"}}, then serves the next request`, async () => {
      const answer = await stack.run(value());
      assert.equal(answer.status, 200);
      assert.equal(errorCode(answer.body), code, JSON.stringify(answer.body));
      await succeeds();
    });
  }

  test('answers a model missing from the store, then serves it once it is there', async () => {
    const modelId = await stack.addModel(owner, 'late', HELLO_MODEL);
    await stack.grant(owner, modelId, userA);
    const key = await stack.addRequestKey(userA, modelId);
    const storeFile = join(dir, 'store', modelId);
    const encrypted = readFileSync(storeFile);
    writeFileSync(storeFile, Buffer.alloc(0));
    const broken = await stack.run(stack.request(userA, modelId, key, float(1)), key);
    assert.equal(errorCode(broken.body), 'ENVELOPE_MALFORMED');
    writeFileSync(storeFile, encrypted);
    const fixed = await stack.run(stack.request(userA, modelId, key, float(1)), key);
    assert.deepEqual(fixed.output, plainInfer(HELLO_MODEL, float(1)));
  });

  test('answers an engine failure for a corrupt model, and nothing is cached', async () => {
    const garbage = join(dir, 'garbage.tflite');
    writeFileSync(
      garbage,
      Buffer.concat([Buffer.alloc(4), Buffer.from('TFL3'), Buffer.alloc(64, 7)]),
    );
    const modelId = await stack.addModel(owner, 'garbage', garbage);
    await stack.grant(owner, modelId, userA);
    const key = await stack.addRequestKey(userA, modelId);
    const answer = await stack.run(stack.request(userA, modelId, key, float(1)), key);
    assert.equal(answer.status, 200);
    assert.match(errorCode(answer.body) ?? '', /^MODEL_/);
    await succeeds();
  });

  test('keeps serving across a KeyService restart (a new connection after the kept-alive one resets)', async () => {
    await stack.restartKeyService();
    // A user the runtime has not fetched keys for yet goes to the restarted KeyService.
    const late = await stack.register();
    await stack.grant(owner, hello, late);
    const key = await stack.addRequestKey(late, hello);
    const answer = await stack.run(stack.request(late, hello, key, float(2)), key);
    assert.deepEqual(answer.output, plainInfer(HELLO_MODEL, float(2)));
  });

  test('encrypts every answer under a fresh IV', async () => {
    const value = stack.request(userA, hello, keyA, float(1));
    const [a, b] = await Promise.all([stack.run(value, keyA), stack.run(value, keyA)]);
    const hex = (x: unknown): string => (x as { msg: { output: string } }).msg.output;
    assert.notEqual(hex(a.body), hex(b.body));
    assert.deepEqual(a.output, b.output);
    assert.notDeepEqual(encryptEnvelope(keyA, float(1)), encryptEnvelope(keyA, float(1)));
  });

  test('SIGTERM lets in-flight requests finish, answers later ones 503, and exits 0', async () => {
    const value = stack.request(userA, person, keyA, personImage('person'));
    const expected = plainInfer(PERSON_MODEL, personImage('person'));
    let signalled = false;
    // A request that reaches the runtime only after it closed fails to connect (undefined).
    const inFlight = Array.from({ length: 24 }, (_, i) =>
      stack.run(value, keyA, `term-${i}`).then(
        (answer) => ({ answer, afterSignal: signalled }),
        () => ({ answer: undefined, afterSignal: signalled }),
      ),
    );
    // Once one answer is back the others are queued in the runtime (two workers, 24 requests).
    await Promise.race(inFlight);
    signalled = true;
    const exited = stack.runtime.stop('SIGTERM');
    const results = await Promise.all(inFlight);
    for (const { answer, afterSignal } of results) {
      if (answer === undefined)
        assert.ok(afterSignal, 'only requests after SIGTERM may find the runtime gone');
      else if (answer.status === 200) assert.deepEqual(answer.output, expected);
      else assert.equal(answer.status, 503);
    }
    assert.ok(
      results.some((r) => r.afterSignal && r.answer?.status === 200),
      'requests in flight at SIGTERM were answered',
    );
    assert.equal(await exited, 0);
  });
});
