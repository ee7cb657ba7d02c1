import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { activationStorage, contextFromRunBody } from './activation-context.js';
import { installEnvShim } from './env-shim.js';

installEnvShim(activationStorage);

describe('installEnvShim()', () => {
  test('answers __OW_* reads from the current activation, even when interleaved', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const read = (id: string): Promise<string | undefined> =>
      activationStorage.run(contextFromRunBody({ activation_id: id }), async () => {
        await gate;
        return process.env['__OW_ACTIVATION_ID'];
      });
    const pending = [read('first'), read('second'), read('third')];
    release();
    assert.deepEqual(await Promise.all(pending), ['first', 'second', 'third']);
  });

  test('lists the activation variables among the keys and answers `in`', () => {
    activationStorage.run(contextFromRunBody({ namespace: 'ns' }), () => {
      assert.ok(Object.keys(process.env).includes('__OW_NAMESPACE'));
      assert.ok('__OW_NAMESPACE' in process.env);
      assert.equal({ ...process.env }['__OW_NAMESPACE'], 'ns');
    });
  });

  test('writes to the real environment and falls back to it outside activations', () => {
    process.env['SEMIRT_SHIM_TEST'] = 'written';
    assert.equal(process.env['SEMIRT_SHIM_TEST'], 'written');
    delete process.env['SEMIRT_SHIM_TEST'];
    assert.equal(process.env['SEMIRT_SHIM_TEST'], undefined);
    assert.equal(process.env['__OW_NAMESPACE'], undefined);
  });

  test('installs once', () => {
    const shim = process.env;
    installEnvShim(activationStorage);
    assert.equal(process.env, shim);
  });
});
