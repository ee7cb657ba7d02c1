// `semirt runtime --keyservice-allow`: a request naming another KeyService is refused before any
// connection is made, and the allowed one is served (real processes, as test/e2e/inference.test.ts).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { LocalStack } from '../../src/cli/local-stack.js';
import { REPO_ROOT } from '../support/paths.js';

let stack: LocalStack;
before(async () => {
  // The stack picks free KeyService ports, so the allow-list names the port found in its log
  // only after start: allow one fixed endpoint and point requests at both.
  stack = await LocalStack.start({
    dir: mkdtempSync(join(tmpdir(), 'semirt-allow-')),
    runtimePort: 0,
    workers: 1,
    runtimeArgs: ['--keyservice-allow', '127.0.0.1:1'],
  });
});
after(() => stack.stop());

test('refuses a KeyService outside --keyservice-allow with KEYSERVICE_NOT_ALLOWED', async () => {
  const owner = await stack.register();
  const user = await stack.register();
  const model = join(REPO_ROOT, 'examples', 'models', 'person_detect_int8.tflite');
  const modelId = await stack.addModel(owner, 'person', model);
  await stack.grant(owner, modelId, user);
  const key = await stack.addRequestKey(user, modelId);
  const input = readFileSync(join(REPO_ROOT, 'examples', 'models', 'person.int8'));
  const answer = await stack.run(stack.request(user, modelId, key, input), key);
  assert.equal(answer.status, 200);
  assert.deepEqual(
    (answer.body as { error: { code: string } }).error.code,
    'KEYSERVICE_NOT_ALLOWED',
  );
  assert.match(
    (answer.body as { error: { message: string } }).error.message,
    new RegExp(`127\\.0\\.0\\.1:${stack.keyServicePorts.worker}`),
  );
});
