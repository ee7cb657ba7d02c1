import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { helloWorldBundle } from '../../../test/fixtures/tvm/bundles.js';
import { isSemirtError } from '../../errors.js';
import { decodeParams, encodeParams } from './params.js';

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

/** One float32 param "a" = [1, -2], written byte by byte from TVM's format description. */
const ONE_PARAM = hex(`
  b79c04054f8de5f7 0000000000000000
  0100000000000000 0100000000000000 61
  0100000000000000
  3fa1b496f0405edd 0000000000000000
  01000000 00000000 01000000 02200100
  0200000000000000
  0800000000000000 0000803f000000c0`);

function rejects(bytes: Uint8Array, message: RegExp): void {
  assert.throws(
    () => decodeParams(bytes),
    (err: unknown) => isSemirtError(err, 'TVM_PARAMS_INVALID') && message.test(err.message),
  );
}

/** ONE_PARAM with bytes replaced at an offset. */
function patched(offset: number, bytes: string): Uint8Array {
  const copy = ONE_PARAM.slice();
  copy.set(hex(bytes), offset);
  return copy;
}

describe('decodeParams()', () => {
  it('reads a param written by hand from the format description', () => {
    const params = decodeParams(ONE_PARAM);
    assert.deepEqual([...params.keys()], ['a']);
    const a = params.get('a')!;
    assert.equal(a.dtype, 'float32');
    assert.deepEqual(a.shape, [2]);
    assert.deepEqual([...new Float32Array(a.data.slice().buffer)], [1, -2]);
  });

  it('reads the six hello_world params', () => {
    const params = decodeParams(helloWorldBundle().params);
    assert.deepEqual(
      [...params].map(([name, p]) => [name, p.dtype, p.shape]),
      [
        ['p0', 'float32', [16, 1]],
        ['p1', 'float32', [16]],
        ['p2', 'float32', [16, 16]],
        ['p3', 'float32', [16]],
        ['p4', 'float32', [1, 16]],
        ['p5', 'float32', [1]],
      ],
    );
  });

  it('reads newer TVM booleans (code 6, 8 bits)', () => {
    const head = ONE_PARAM.slice(0, 0x51);
    head.set(hex('06080100'), 0x45);
    const bools = new Uint8Array([...head, ...hex('0200000000000000 0100')]);
    assert.equal(decodeParams(bools).get('a')!.dtype, 'bool');
  });

  it('rejects every truncation of the hello_world params', () => {
    const bytes = helloWorldBundle().params;
    for (let n = 0; n < bytes.length; n++)
      rejects(bytes.subarray(0, n), /truncated|more than the file can hold/);
  });

  it('rejects a wrong list magic', () => {
    rejects(patched(0, '0000000000000000'), /not the NDArray-list magic/);
  });

  it('rejects a wrong array magic', () => {
    rejects(patched(0x29, '0000000000000000'), /magic of param "a" is not the NDArray magic/);
  });

  it('rejects a name count larger than the file', () => {
    rejects(
      patched(0x10, 'ffffffffffffffff'),
      /the name count is 18446744073709551615, more than the file can hold/,
    );
  });

  it('rejects a name count that differs from the array count', () => {
    rejects(patched(0x21, '0200000000000000'), /1 names but 2 arrays|more than the file can hold/);
  });

  it('rejects a GPU tensor', () => {
    rejects(patched(0x39, '02000000'), /saved for device type 2/);
  });

  it('rejects a negative ndim and too many dimensions', () => {
    rejects(patched(0x41, 'ffffffff'), /ndim -1/);
    rejects(patched(0x41, '21000000'), /ndim 33/);
  });

  it('rejects an unsupported dtype and vector lanes', () => {
    rejects(patched(0x45, '02080100'), /unsupported dtype \(code 2, bits 8, lanes 1\)/);
    rejects(patched(0x45, '02200400'), /lanes 4/);
  });

  it('rejects a negative dimension', () => {
    rejects(patched(0x49, 'feffffffffffffff'), /negative dimension -2/);
  });

  it('rejects a data size that disagrees with shape and dtype', () => {
    rejects(
      patched(0x51, '0c00000000000000'),
      /declares 12 data bytes, but its shape and dtype need 8/,
    );
  });

  it('rejects an element count above 2^32', () => {
    rejects(patched(0x49, '0000000002000000'), /more than 2\^32 elements/);
  });

  it('rejects bytes after the last array', () => {
    rejects(new Uint8Array([...ONE_PARAM, 0]), /1 unexpected bytes after the last array/);
  });

  it('rejects a name that appears twice', () => {
    const a = { dtype: 'float32' as const, shape: [1], data: new Uint8Array(4) };
    const bytes = encodeParams(
      new Map([
        ['a', a],
        ['b', a],
      ]),
    );
    bytes[bytes.indexOf(0x62)] = 0x61;
    rejects(bytes, /param "a" appears twice/);
  });

  it('accepts a params file over a SharedArrayBuffer', () => {
    const shared = new Uint8Array(new SharedArrayBuffer(ONE_PARAM.byteLength));
    shared.set(ONE_PARAM);
    assert.deepEqual(decodeParams(shared).get('a')!.shape, [2]);
  });
});

describe('encodeParams()', () => {
  it('writes the bytes of the format description', () => {
    const data = new Uint8Array(new Float32Array([1, -2]).buffer);
    assert.deepEqual(
      encodeParams(new Map([['a', { dtype: 'float32', shape: [2], data }]])),
      ONE_PARAM,
    );
  });

  it('round-trips the hello_world params', () => {
    const bytes = helloWorldBundle().params;
    assert.deepEqual(encodeParams(decodeParams(bytes)), bytes);
  });
});
