import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { activation, activationStorage, contextFromRunBody } from './activation-context.js';

describe('contextFromRunBody()', () => {
  test('exports every top-level string field but value as __OW_<FIELD>', () => {
    const context = contextFromRunBody({
      value: { secret: 'not exported' },
      activation_id: 'a1',
      deadline: '1700000000000',
      foo_bar: 'baz',
      numfield: 5,
      obj: {},
    });
    assert.deepEqual(context.env, {
      __OW_ACTIVATION_ID: 'a1',
      __OW_DEADLINE: '1700000000000',
      __OW_FOO_BAR: 'baz',
    });
    assert.equal(context.deadline, 1_700_000_000_000);
    assert.equal(context.activationId, 'a1');
    assert.equal('apiKey' in context, false);
  });

  test('reads a numeric deadline and marks a missing one as NaN', () => {
    assert.equal(contextFromRunBody({ deadline: 5 }).deadline, 5);
    assert.ok(Number.isNaN(contextFromRunBody({}).deadline));
  });
});

describe('activation()', () => {
  test('answers the context of the running activation and undefined outside', async () => {
    assert.equal(activation(), undefined);
    const seen = await Promise.all(
      ['x', 'y'].map((id) =>
        activationStorage.run(contextFromRunBody({ activation_id: id }), async () => {
          await new Promise((resolve) => setImmediate(resolve));
          return activation()?.activationId;
        }),
      ),
    );
    assert.deepEqual(seen, ['x', 'y']);
  });
});
