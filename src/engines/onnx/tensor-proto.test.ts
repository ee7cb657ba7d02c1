import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ProtoFormatError, ProtoWriter } from './protobuf.js';
import { decodeTensorProto, ONNX_DATA_TYPE } from './tensor-proto.js';

// TensorProto: dims = 1, data_type = 2, float_data = 4, int32_data = 5, int64_data = 7, name = 8, raw_data = 9.
const tensorProto = (dims: number[], dataType: number) =>
  new ProtoWriter().packedInts(1, dims).int(2, dataType).bytes(8, 't');

describe('decodeTensorProto()', () => {
  test('reads raw_data as little-endian element bytes', () => {
    const raw = new Uint8Array(Float32Array.of(1, -2, 3.5, 0).buffer);
    const { name, tensor } = decodeTensorProto(
      tensorProto([2, 2], ONNX_DATA_TYPE.float32).bytes(9, raw).finish(),
    );
    assert.equal(name, 't');
    assert.deepEqual(tensor, { dtype: 'float32', shape: [2, 2], data: raw });
  });

  test('reads float_data packed or one value per field', () => {
    const packed = new ProtoWriter();
    const inner = new Uint8Array(Float32Array.of(0.5, 2).buffer);
    packed.bytes(4, inner);
    const one = tensorProto([2], ONNX_DATA_TYPE.float32).bytes(4, inner).finish();
    const split = tensorProto([2], ONNX_DATA_TYPE.float32).float(4, 0.5).float(4, 2).finish();
    assert.deepEqual(decodeTensorProto(one).tensor.data, inner);
    assert.deepEqual(decodeTensorProto(split).tensor.data, inner);
  });

  test('narrows int32_data for int8, bool and float16, and reads int64_data', () => {
    const int8 = tensorProto([3], ONNX_DATA_TYPE.int8).packedInts(5, [-1, 2, -128]).finish();
    assert.deepEqual([...new Int8Array(decodeTensorProto(int8).tensor.data.buffer)], [-1, 2, -128]);
    const bool = tensorProto([2], ONNX_DATA_TYPE.bool).packedInts(5, [1, 0]).finish();
    assert.deepEqual([...decodeTensorProto(bool).tensor.data], [1, 0]);
    const half = tensorProto([1], ONNX_DATA_TYPE.float16).packedInts(5, [0x3c00]).finish();
    assert.deepEqual([...decodeTensorProto(half).tensor.data], [0x00, 0x3c]);
    const int64 = tensorProto([2], ONNX_DATA_TYPE.int64)
      .packedInts(7, [-5, 2 ** 40])
      .finish();
    assert.deepEqual(
      [...new BigInt64Array(decodeTensorProto(int64).tensor.data.buffer)],
      [-5n, 2n ** 40n],
    );
  });

  test('rejects a data size that does not match the shape, and string tensors', () => {
    const short = tensorProto([3], ONNX_DATA_TYPE.float32).bytes(9, new Uint8Array(8)).finish();
    assert.throws(() => decodeTensorProto(short), /holds 8 bytes; shape \[3\] of float32 needs 12/);
    assert.throws(() => decodeTensorProto(tensorProto([1], 8).finish()), ProtoFormatError);
  });
});
