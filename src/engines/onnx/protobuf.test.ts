import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ProtoFormatError, ProtoWriter, readFields, readPackedVarints } from './protobuf.js';

describe('ProtoWriter and readFields()', () => {
  test('round-trip varints (negative and beyond 2^53), bytes, strings, packed ints and floats', () => {
    const nested = new ProtoWriter().int(1, 5);
    const bytes = new ProtoWriter()
      .int(1, -1)
      .int(2, 2n ** 60n + 3n)
      .bytes(3, 'héllo')
      .bytes(4, nested)
      .packedInts(5, [1, 300, -2])
      .float(6, 1.5)
      .finish();
    const fields = [...readFields(bytes)];
    assert.deepEqual(
      fields.map((f) => [f.field, f.wireType]),
      [
        [1, 0],
        [2, 0],
        [3, 2],
        [4, 2],
        [5, 2],
        [6, 5],
      ],
    );
    assert.equal(BigInt.asIntN(64, fields[0]!.value as bigint), -1n);
    assert.equal(fields[1]!.value, 2n ** 60n + 3n);
    assert.equal(new TextDecoder().decode(fields[2]!.value as Uint8Array), 'héllo');
    assert.deepEqual(
      [...readFields(fields[3]!.value as Uint8Array)],
      [{ field: 1, wireType: 0, value: 5n }],
    );
    assert.deepEqual(
      readPackedVarints(fields[4]!).map((v) => BigInt.asIntN(64, v)),
      [1n, 300n, -2n],
    );
    const float = fields[5]!.value as Uint8Array;
    assert.equal(new DataView(float.buffer, float.byteOffset).getFloat32(0, true), 1.5);
  });

  test('readFields() rejects a length past the end, an unknown wire type and field number 0', () => {
    const read = (bytes: number[]) => [...readFields(Uint8Array.from(bytes))];
    assert.throws(() => read([0x0a, 0x05, 0x01]), ProtoFormatError);
    assert.throws(() => read([0x0b]), /wire type 3/);
    assert.throws(() => read([0x00, 0x01]), /field number 0/);
    assert.throws(() => read([0x08, 0x80]), /truncated/);
    assert.throws(() => read([0x0d, 0x01, 0x02]), /truncated/);
  });

  test('readPackedVarints() accepts one unpacked varint and rejects fixed-size fields', () => {
    assert.deepEqual(readPackedVarints({ field: 1, wireType: 0, value: 7n }), [7n]);
    assert.throws(
      () => readPackedVarints({ field: 1, wireType: 5, value: new Uint8Array(4) }),
      ProtoFormatError,
    );
  });
});
