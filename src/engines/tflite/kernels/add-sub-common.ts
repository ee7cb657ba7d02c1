import { Activation } from '../schema.js';
import { multiplyByQuantizedMultiplier, quantizeMultiplier } from '../quantization.js';
import {
  activation,
  activationRangeFloat,
  activationRangeQuantized,
  expectType,
  options,
  quantParams,
  type NodeInfo,
  type PreparedNode,
} from './kernel.js';
import { scratchLayout } from './conv-common.js';
import { binaryNode, prepareBinary } from './elementwise.js';

/**
 * ADD and SUB: float32/int32 directly; int8/int16 by rescaling both inputs to a common scale
 * with `left_shift` bits of headroom (20 for int8, 15 for int16), as TFLite's reference does.
 * SUB computes its multipliers in float where ADD uses double, as the two C kernels do.
 */
export function prepareAddSub(node: NodeInfo, sign: 1 | -1): PreparedNode {
  const bin = prepareBinary(node);
  const { a, b, y } = bin;
  expectType(node, y, 'output', ['float32', 'int32', 'int8', 'int16']);
  const act = activation(node, options(node).i8(0, Activation.NONE));
  if (y.dtype === 'float32' || y.dtype === 'int32') {
    const [lo, hi] = y.dtype === 'float32' ? activationRangeFloat(act) : [-2147483648, 2147483647];
    const isFloat = y.dtype === 'float32';
    const f = (p: number, q: number): number => {
      const r = isFloat ? Math.fround(p + sign * q) : (p + sign * q) | 0;
      return r < lo ? lo : r > hi ? hi : r;
    };
    return binaryNode(bin, f);
  }
  const qa = quantParams(node, a);
  const qb = quantParams(node, b);
  const qy = quantParams(node, y);
  const leftShift = y.dtype === 'int16' ? 15 : 20;
  let m1: number;
  let m2: number;
  let mo: number;
  if (sign === 1) {
    const twiceMax = 2 * Math.max(qa.scale, qb.scale);
    m1 = qa.scale / twiceMax;
    m2 = qb.scale / twiceMax;
    mo = twiceMax / (2 ** leftShift * qy.scale);
  } else {
    const twiceMax = Math.fround(2 * Math.max(qa.scale, qb.scale));
    m1 = Math.fround(qa.scale / twiceMax);
    m2 = Math.fround(qb.scale / twiceMax);
    mo = Math.fround(twiceMax / Math.fround(2 ** leftShift * qy.scale));
  }
  const q1 = quantizeMultiplier(m1);
  const q2 = quantizeMultiplier(m2);
  const qo = quantizeMultiplier(mo);
  const [actMin, actMax] = activationRangeQuantized(node, act, y);
  const off1 = -qa.zeroPoint;
  const off2 = -qb.zeroPoint;
  const outOff = qy.zeroPoint;
  const scale = 2 ** leftShift;
  const f = (p: number, q: number): number => {
    const s1 = multiplyByQuantizedMultiplier(((p + off1) * scale) | 0, q1.multiplier, q1.shift);
    const s2 = multiplyByQuantizedMultiplier(((q + off2) * scale) | 0, q2.multiplier, q2.shift);
    const r = multiplyByQuantizedMultiplier((s1 + sign * s2) | 0, qo.multiplier, qo.shift) + outOff;
    return r < actMin ? actMin : r > actMax ? actMax : r;
  };
  const simd = node.simd;
  if (y.dtype === 'int8' && bin.indexA === undefined && simd !== undefined) {
    // wasm: the same arithmetic with exact 64-bit products, over the whole tensor at once.
    const n = y.elements;
    const params = Int32Array.of(
      off1,
      off2,
      leftShift,
      q1.multiplier,
      q1.shift,
      q2.multiplier,
      q2.shift,
      qo.multiplier,
      qo.shift,
      outOff,
      actMin,
      actMax,
      sign,
    );
    const paramsOff = simd.reserve(new Uint8Array(params.buffer));
    const layout = scratchLayout([n, n, n]);
    simd.needScratch(layout.total);
    return {
      scratchBytes: 0,
      bind(v) {
        const s = v.simd!;
        const [aOff, bOff, outOffset] = layout.at(s.scratch);
        const ad = v.i8(a);
        const bd = v.i8(b);
        const yd = v.i8(y);
        const heapA = new Int8Array(s.memory, aOff, n);
        const heapB = new Int8Array(s.memory, bOff, n);
        const heapOut = new Int8Array(s.memory, outOffset, n);
        const { addq } = s.exports;
        return () => {
          heapA.set(ad);
          heapB.set(bd);
          addq(aOff, bOff, outOffset, n, paramsOff);
          yd.set(heapOut);
        };
      },
    };
  }
  return binaryNode(bin, f);
}
