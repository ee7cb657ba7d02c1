/**
 * The ONNX conformance sweep: runs the backend test cases of the ONNX project (Debian package
 * `libonnx-testdata`: one folder per case with `model.onnx` and `test_data_set_*` folders of
 * TensorProto files) through the ONNX engine and compares every output with the reference.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isSemirtError } from '../../errors.js';
import type { Tensor } from '../engine.js';
import { onnxEngine } from './onnx-engine.js';
import { ProtoFormatError } from './protobuf.js';
import { decodeTensorProto } from './tensor-proto.js';

/** Where Debian's libonnx-testdata installs the cases. */
export const ONNX_TESTDATA_DIR = '/usr/share/libonnx-testdata/data';

/** The outcome of one case: passed, or why it was not run or did not pass. */
export type CaseOutcome =
  | { readonly status: 'pass' }
  | { readonly status: 'unsupported'; readonly reason: string }
  | { readonly status: 'fail'; readonly reason: string };

export interface CaseResult {
  /** `<suite>/<case>`, e.g. `node/test_abs`. */
  readonly name: string;
  readonly outcome: CaseOutcome;
}

// The ONNX backend test runner's defaults for floating-point outputs.
const RTOL = 1e-3;
const ATOL = 1e-7;

/** Lists case folders (`<suite>/<case>`) that hold a model. */
export function listCases(root: string = ONNX_TESTDATA_DIR): string[] {
  return readdirSync(root, { withFileTypes: true })
    .filter((suite) => suite.isDirectory())
    .flatMap((suite) =>
      readdirSync(join(root, suite.name))
        .filter((c) => existsSync(join(root, suite.name, c, 'model.onnx')))
        .map((c) => `${suite.name}/${c}`),
    )
    .sort();
}

function elements(tensor: Tensor): ArrayLike<number | bigint> {
  const { buffer, byteOffset, byteLength } = new Uint8Array(tensor.data);
  switch (tensor.dtype) {
    case 'float32':
      return new Float32Array(buffer, byteOffset, byteLength / 4);
    case 'float64':
      return new Float64Array(buffer, byteOffset, byteLength / 8);
    case 'int64':
      return new BigInt64Array(buffer, byteOffset, byteLength / 8);
    case 'int32':
      return new Int32Array(buffer, byteOffset, byteLength / 4);
    case 'uint32':
      return new Uint32Array(buffer, byteOffset, byteLength / 4);
    case 'int16':
      return new Int16Array(buffer, byteOffset, byteLength / 2);
    case 'uint16':
    case 'float16':
      return new Uint16Array(buffer, byteOffset, byteLength / 2);
    case 'int8':
      return new Int8Array(buffer, byteOffset, byteLength);
    case 'uint8':
    case 'bool':
      return new Uint8Array(buffer, byteOffset, byteLength);
  }
}

/** Decodes IEEE half-precision bits. */
function halfToNumber(bits: number): number {
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  const sign = bits & 0x8000 ? -1 : 1;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction === 0 ? sign * Infinity : NaN;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/** Describes how `actual` differs from `expected`, or answers undefined when they agree. */
export function compareTensors(actual: Tensor, expected: Tensor): string | undefined {
  if (actual.dtype !== expected.dtype) return `dtype ${actual.dtype}, expected ${expected.dtype}`;
  if (actual.shape.join() !== expected.shape.join()) {
    return `shape [${actual.shape.join(', ')}], expected [${expected.shape.join(', ')}]`;
  }
  const a = elements(actual);
  const e = elements(expected);
  const float =
    actual.dtype === 'float32' || actual.dtype === 'float64' || actual.dtype === 'float16';
  for (let i = 0; i < e.length; i++) {
    let x = a[i]!;
    let y = e[i]!;
    if (actual.dtype === 'float16') {
      x = halfToNumber(Number(x));
      y = halfToNumber(Number(y));
    }
    const agree = float
      ? (Number.isNaN(x) && Number.isNaN(y)) ||
        x === y ||
        Math.abs(Number(x) - Number(y)) <= ATOL + RTOL * Math.abs(Number(y))
      : x === y;
    if (!agree) return `element ${i} is ${String(x)}, expected ${String(y)}`;
  }
  return undefined;
}

function readTensors(dir: string, prefix: 'input' | 'output'): Tensor[] {
  const tensors: Tensor[] = [];
  for (let i = 0; existsSync(join(dir, `${prefix}_${i}.pb`)); i++) {
    tensors.push(decodeTensorProto(readFileSync(join(dir, `${prefix}_${i}.pb`))).tensor);
  }
  return tensors;
}

const UNSUPPORTED_CODES = new Set([
  'UNSUPPORTED_OPS',
  'ONNX_OPSET_UNSUPPORTED',
  'ONNX_IO_UNSUPPORTED',
]);

/** Runs one case through the ONNX engine. */
export async function runCase(name: string, root: string = ONNX_TESTDATA_DIR): Promise<CaseResult> {
  const dir = join(root, name);
  let model;
  try {
    model = await onnxEngine.load({ kind: 'single', bytes: readFileSync(join(dir, 'model.onnx')) });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const unsupported = isSemirtError(error) && UNSUPPORTED_CODES.has(error.code);
    return { name, outcome: { status: unsupported ? 'unsupported' : 'fail', reason } };
  }
  const session = await model.createSession();
  try {
    const sets = readdirSync(dir)
      .filter((d) => d.startsWith('test_data_set_'))
      .sort();
    for (const set of sets) {
      let inputs: Tensor[];
      let expected: Tensor[];
      try {
        inputs = readTensors(join(dir, set), 'input');
        expected = readTensors(join(dir, set), 'output');
      } catch (error) {
        // Sequences, optionals and strings are not semirt tensors.
        if (error instanceof ProtoFormatError)
          return { name, outcome: { status: 'unsupported', reason: error.message } };
        throw error;
      }
      let actual: Tensor[];
      try {
        actual = await session.run(inputs);
      } catch (error) {
        return {
          name,
          outcome: {
            status: 'fail',
            reason: `${set}: ${error instanceof Error ? error.message : String(error)}`,
          },
        };
      }
      for (const [i, want] of expected.entries()) {
        const got = actual[i];
        const difference = got === undefined ? 'missing' : compareTensors(got, want);
        if (difference !== undefined)
          return { name, outcome: { status: 'fail', reason: `${set} output ${i}: ${difference}` } };
      }
    }
    return { name, outcome: { status: 'pass' } };
  } finally {
    await session.dispose();
    await model.dispose();
  }
}
