import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { SHARED_DATA } from '../../test/support/paths.js';
import { parseInferenceRequest } from './request.js';

const sesemi = JSON.parse(
  readFileSync(join(SHARED_DATA, 'sesemi-examples', 'inference_req.json'), 'utf8'),
) as Record<string, unknown>;

describe('parseInferenceRequest()', () => {
  test("reads SeSeMI's example request unchanged", () => {
    const request = parseInferenceRequest(sesemi);
    assert.equal(request.modelId, sesemi['model_type']);
    assert.equal(
      request.userId,
      '2c984d551a5ababe621790aeb8bdd90bf679ce895f784ab3374ef02528c85b59',
    );
    assert.equal(request.sample.length, 602_112 + 32);
  });

  test('accepts the port as a number or a numeric string', () => {
    const asNumber = parseInferenceRequest({ ...sesemi, key_service_port: 13571 });
    const asString = parseInferenceRequest({ ...sesemi, key_service_port: '13571' });
    assert.equal(asNumber.keyService.port, 13571);
    assert.equal(asString.keyService.port, 13571);
  });

  const cases: [string, unknown, RegExp][] = [
    ['a non-object value', [1, 2], /the value must be a JSON object/],
    [
      'a missing model_type',
      { ...sesemi, model_type: undefined },
      /"model_type" must be a non-empty string/,
    ],
    [
      'a model_type with a path',
      { ...sesemi, model_type: '../etc/passwd' },
      /Invalid "model_type"/,
    ],
    ['a short user_id', { ...sesemi, user_id: 'abc' }, /Invalid "user_id": expected 64 hex digits/],
    [
      'a URL as address',
      { ...sesemi, key_service_address: 'https://x/y' },
      /Invalid "key_service_address"/,
    ],
    ['port 0', { ...sesemi, key_service_port: 0 }, /Invalid "key_service_port"/],
    ['a port with letters', { ...sesemi, key_service_port: '80a' }, /Invalid "key_service_port"/],
    [
      'bad base64',
      { ...sesemi, encrypted_sample: 'not base64!' },
      /Invalid "encrypted_sample": expected standard padded base64/,
    ],
  ];
  for (const [label, value, message] of cases) {
    test(`refuses ${label}, naming the field`, () => {
      assert.throws(() => parseInferenceRequest(value), {
        code: 'INFERENCE_REQUEST_INVALID',
        message,
      });
    });
  }
});
