import type { TensorDef } from '../model-reader.js';
import { expectArity, fail, input, output, type NodeInfo, type PreparedNode } from './kernel.js';

/** Operands of a two-input elementwise op and, when shapes differ, per-output source indices. */
export interface Binary {
  readonly a: TensorDef;
  readonly b: TensorDef;
  readonly y: TensorDef;
  /** Source element of `a` and `b` for each output element; undefined when no broadcast is needed. */
  readonly indexA: Int32Array | undefined;
  readonly indexB: Int32Array | undefined;
}

/** Validates a two-input op and precomputes numpy-style broadcasting as index maps (done once). */
export function prepareBinary(node: NodeInfo): Binary {
  expectArity(node, [2, 2], 1);
  const a = input(node, 0);
  const b = input(node, 1);
  const y = output(node, 0);
  if (a.dtype !== b.dtype || a.dtype !== y.dtype) {
    fail(node, `operand types ${a.dtype}, ${b.dtype} → ${y.dtype} must be equal`);
  }
  const rank = Math.max(a.shape.length, b.shape.length);
  const pad = (s: readonly number[]): number[] => [
    ...new Array<number>(rank - s.length).fill(1),
    ...s,
  ];
  const sa = pad(a.shape);
  const sb = pad(b.shape);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = sa[i]!;
    const db = sb[i]!;
    if (da !== db && da !== 1 && db !== 1)
      fail(node, `shapes [${a.shape.join(', ')}] and [${b.shape.join(', ')}] do not broadcast`);
    out.push(da === 1 ? db : da);
  }
  const total = out.reduce((p, d) => p * d, 1);
  if (total !== y.elements)
    fail(
      node,
      `output has ${y.elements} elements, expected ${total} for shape [${out.join(', ')}]`,
    );
  if (a.elements === total && b.elements === total)
    return { a, b, y, indexA: undefined, indexB: undefined };
  const map = (s: number[]): Int32Array => {
    const strides = new Array<number>(rank).fill(0);
    let stride = 1;
    for (let i = rank - 1; i >= 0; i--) {
      strides[i] = s[i] === 1 ? 0 : stride;
      stride *= s[i]!;
    }
    const idx = new Int32Array(total);
    const coord = new Array<number>(rank).fill(0);
    for (let n = 0; n < total; n++) {
      let src = 0;
      for (let i = 0; i < rank; i++) src += coord[i]! * strides[i]!;
      idx[n] = src;
      for (let i = rank - 1; i >= 0; i--) {
        coord[i] = coord[i]! + 1;
        if (coord[i]! < out[i]!) break;
        coord[i] = 0;
      }
    }
    return idx;
  };
  return { a, b, y, indexA: map(sa), indexB: map(sb) };
}

/** A view over numbers that elementwise loops read and write. */
export type NumArray = Float32Array | Int8Array | Int16Array | Int32Array;

/** Runs `f` over every output element, resolving broadcast indices. */
export function binaryLoop(
  bin: Binary,
  ad: NumArray,
  bd: NumArray,
  yd: NumArray,
  f: (x: number, y: number) => number,
): void {
  const n = bin.y.elements;
  const ia = bin.indexA;
  const ib = bin.indexB;
  if (ia === undefined || ib === undefined) {
    for (let i = 0; i < n; i++) yd[i] = f(ad[i]!, bd[i]!);
  } else {
    for (let i = 0; i < n; i++) yd[i] = f(ad[ia[i]!]!, bd[ib[i]!]!);
  }
}

/** Typed views of a binary op's operands for its dtype. */
export function binaryViews(
  bin: Binary,
  v: {
    f32(t: TensorDef): Float32Array;
    i8(t: TensorDef): Int8Array;
    i16(t: TensorDef): Int16Array;
    i32(t: TensorDef): Int32Array;
  },
): [NumArray, NumArray, NumArray] {
  const pick = (t: TensorDef): NumArray => {
    if (t.dtype === 'float32') return v.f32(t);
    if (t.dtype === 'int8') return v.i8(t);
    if (t.dtype === 'int16') return v.i16(t);
    return v.i32(t);
  };
  return [pick(bin.a), pick(bin.b), pick(bin.y)];
}

/** The prepared node of a binary op computing y = f(a, b) elementwise (with broadcasting). */
export function binaryNode(bin: Binary, f: (x: number, y: number) => number): PreparedNode {
  return {
    scratchBytes: 0,
    bind(v) {
      const [ad, bd, yd] = binaryViews(bin, v);
      return () => {
        binaryLoop(bin, ad, bd, yd, f);
      };
    },
  };
}
