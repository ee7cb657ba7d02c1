import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { isSemirtError } from '../errors.js';
import {
  REQUEST_TYPES,
  checkModelId,
  parseClientEnvelope,
  parsePayload,
  parseWorkerRequest,
  payloadObject,
  type UserRequest,
} from './messages.js';

const USER = 'Ab'.repeat(32);
const MEASUREMENT = 'CD'.repeat(32);

describe('payloadObject() / parsePayload()', () => {
  const requests: UserRequest[] = [
    {
      type: REQUEST_TYPES.ADD_REQUEST_KEY,
      modelId: 'm-1',
      measurement: MEASUREMENT.toLowerCase(),
      requestKey: randomBytes(16),
    },
    { type: REQUEST_TYPES.UPSERT_MODEL_KEY, modelId: 'm-2', modelKey: randomBytes(32) },
    {
      type: REQUEST_TYPES.GRANT_MODEL_ACCESS,
      modelId: 'm.3',
      measurement: 'ef'.repeat(48),
      userId: 'ab'.repeat(32),
    },
    {
      type: REQUEST_TYPES.REVOKE_MODEL_ACCESS,
      modelId: 'm_4',
      measurement: 'ef'.repeat(32),
      userId: 'ab'.repeat(32),
    },
  ];
  for (const request of requests) {
    it(`round-trip a type ${request.type} request with its counter`, () => {
      const json: unknown = JSON.parse(JSON.stringify(payloadObject(request, 42)));
      const parsed = parsePayload(request.type, json);
      assert.equal(parsed.counter, 42);
      assert.deepEqual(
        JSON.stringify(payloadObject(parsed.request, 42)),
        JSON.stringify(payloadObject(request, 42)),
      );
    });
  }

  it('parsePayload() lower-cases hex ids and accepts SeSeMI payloads without counter', () => {
    const { request, counter } = parsePayload(REQUEST_TYPES.GRANT_MODEL_ACCESS, {
      model_id: 'm',
      mrenclave: MEASUREMENT,
      user_id: USER,
    });
    assert.equal(counter, undefined);
    assert.deepEqual(request, {
      type: 3,
      modelId: 'm',
      measurement: MEASUREMENT.toLowerCase(),
      userId: USER.toLowerCase(),
    });
  });

  it('parsePayload() refuses a counter without the matching type, and bad counters', () => {
    const base = { model_id: 'm', decrypt_key: randomBytes(16).toString('base64') };
    for (const extra of [
      { counter: 5 },
      { counter: 5, type: 3 },
      { counter: 0, type: 2 },
      { counter: 1.5, type: 2 },
      { counter: '7', type: 2 },
    ]) {
      assert.throws(
        () => parsePayload(REQUEST_TYPES.UPSERT_MODEL_KEY, { ...base, ...extra }),
        (e) => isSemirtError(e, 'KEYSERVICE_BAD_REQUEST'),
        JSON.stringify(extra),
      );
    }
  });

  it('parsePayload() never echoes a malformed key', () => {
    const secretish = 'c2VjcmV0LWJ1dC13cm9uZy1sZW5ndGg=';
    assert.throws(
      () => parsePayload(REQUEST_TYPES.UPSERT_MODEL_KEY, { model_id: 'm', decrypt_key: secretish }),
      (e) => isSemirtError(e, 'KEYSERVICE_BAD_REQUEST') && !e.message.includes(secretish),
    );
  });
});

describe('parseClientEnvelope()', () => {
  it('reads a register request, whose user_id carries the id key', () => {
    const key = randomBytes(16);
    const parsed = parseClientEnvelope({ type: 0, user_id: key.toString('base64') });
    assert.equal(parsed.type, 0);
    assert.deepEqual(parsed.idKey, key);
  });

  it('refuses unknown types, non-integer types and missing fields, naming what is wrong', () => {
    const cases: [unknown, RegExp][] = [
      [{ type: 5, user_id: USER, payload: '' }, /unknown type "5"/],
      [{ type: '1', user_id: USER, payload: '' }, /unknown type/],
      [{ user_id: USER, payload: '' }, /unknown type "undefined"/],
      [{ type: 1, payload: '' }, /"user_id" must be a string/],
      [{ type: 1, user_id: USER }, /"payload" must be a string/],
      [null, /expected a JSON object/],
    ];
    for (const [json, pattern] of cases) {
      assert.throws(
        () => parseClientEnvelope(json),
        (e) => isSemirtError(e, 'KEYSERVICE_BAD_REQUEST') && pattern.test(e.message),
        JSON.stringify(json),
      );
    }
  });
});

describe('checkModelId() / parseWorkerRequest()', () => {
  it('accept SeSeMI model ids and refuse path-like or oversized ones', () => {
    assert.equal(checkModelId(`${'a'.repeat(64)}-mobilenet1.0`), `${'a'.repeat(64)}-mobilenet1.0`);
    for (const bad of ['', '../x', 'a/b', '.hidden', '-x', 'x'.repeat(256), 'a b']) {
      assert.throws(
        () => checkModelId(bad),
        (e) => isSemirtError(e, 'KEYSERVICE_BAD_REQUEST'),
        bad,
      );
    }
  });

  it('parseWorkerRequest() shortens an absurd value in its message', () => {
    assert.throws(
      () => parseWorkerRequest({ user_id: 'f'.repeat(10_000), model_id: 'm' }),
      (e) => isSemirtError(e, 'KEYSERVICE_BAD_REQUEST') && e.message.length < 300,
    );
  });
});
