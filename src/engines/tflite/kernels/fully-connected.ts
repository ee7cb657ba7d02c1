import { Activation } from '../schema.js';
import {
  multiplyByQuantizedMultiplier,
  multiplyByQuantizedMultiplier64,
  quantizeMultipliers,
} from '../quantization.js';
import {
  expectQuantWeighted,
  floatWeighted,
  int8HeapIo,
  reserveRequantSimd,
} from './conv-common.js';
import {
  activation,
  activationRangeQuantized,
  biasValues,
  expectArity,
  fail,
  input,
  intView,
  options,
  output,
  quantParams,
  type Kernel,
  type PreparedNode,
} from './kernel.js';

/** FULLY_CONNECTED: output[b, o] = act(sum_d input[b, d] * weights[o, d] + bias[o]). */
export const fullyConnected: Kernel = {
  name: 'FULLY_CONNECTED',
  versions: [1, 12],
  types: ['float32', 'int8', 'int16 (int8 weights)'],
  prepare(node): PreparedNode {
    expectArity(node, [2, 3], 1);
    const x = input(node, 0);
    const w = input(node, 1);
    const bias = node.inputs[2];
    const y = output(node, 0);
    const opts = options(node);
    const act = activation(node, opts.i8(0, Activation.NONE));
    if (opts.i8(1, 0) !== 0) fail(node, 'only the DEFAULT weights format is supported');
    if (w.shape.length !== 2)
      fail(node, `weights "${w.name}" must be 2-D, got [${w.shape.join(', ')}]`);
    const units = w.shape[0]!;
    const depth = w.shape[1]!;
    if (depth === 0 || x.elements % depth !== 0)
      fail(node, `input of ${x.elements} elements is not a multiple of depth ${depth}`);
    const batches = x.elements / depth;
    if (y.elements !== batches * units)
      fail(node, `output has ${y.elements} elements, expected ${batches * units}`);

    if (x.dtype === 'float32') {
      const { bias: b, lo, hi } = floatWeighted(node, w, y, bias, units, act, 'weights');
      return {
        scratchBytes: 0,
        bind(v) {
          const xd = v.f32(x);
          const wd = v.f32(w);
          const yd = v.f32(y);
          return () => {
            fcFloat(xd, wd, b, yd, batches, depth, units, lo, hi);
          };
        },
      };
    }

    expectQuantWeighted(node, x, w, y, bias, 'weights');
    const inQ = quantParams(node, x);
    const outQ = quantParams(node, y);
    const wq = w.quant;
    if (wq === undefined) fail(node, `weights "${w.name}" have no quantization parameters`);
    const perChannel = wq.scale.length > 1;
    if (perChannel && wq.scale.length !== units)
      fail(node, `weights have ${wq.scale.length} scales for ${units} units`);
    // Per-tensor: TFLite multiplies the two float scales in float before widening to double.
    const { multipliers, shifts } = quantizeMultipliers(units, (o) =>
      perChannel
        ? (inQ.scale * wq.scale[o]!) / outQ.scale
        : Math.fround(inQ.scale * wq.scale[0]!) / outQ.scale,
    );
    const inputOffset = -inQ.zeroPoint;
    const filterOffset = perChannel ? 0 : -(wq.zeroPoint[0] ?? 0);
    const outputOffset = outQ.zeroPoint;
    const [actMin, actMax] = activationRangeQuantized(node, act, y);
    const b = biasValues(node, bias, units);
    const wide = x.dtype === 'int16' && bias?.dtype !== 'int32';
    const simd = node.simd;
    if (x.dtype === 'int8' && filterOffset === 0 && simd !== undefined && w.data !== undefined) {
      // wasm SIMD: int8 × int16 dot products and requantization in the wasm heap.
      const rq = reserveRequantSimd(simd, w.data, { bias: b, multipliers, shifts }, [
        x.elements,
        x.elements * 2,
        units * 4,
        y.elements,
      ]);
      const wOff = rq.weights;
      return {
        scratchBytes: 0,
        bind(v) {
          const s = v.simd!;
          const [in8, xoOff, accOff, outOff] = rq.layout.at(s.scratch);
          const { xd, yd, heapIn, heapOut } = int8HeapIo(v, s, x, y, in8, outOff);
          const { matvec, widen8, requant8 } = s.exports;
          return () => {
            heapIn.set(xd);
            widen8(in8, xoOff, x.elements, inputOffset);
            for (let n = 0; n < batches; n++) {
              matvec(wOff, xoOff + n * depth * 2, depth, units, accOff);
              requant8(
                accOff,
                rq.bias,
                rq.mult,
                rq.shift,
                units,
                outOff + n * units,
                outputOffset,
                actMin,
                actMax,
              );
            }
            yd.set(heapOut);
          };
        },
      };
    }
    return {
      scratchBytes: 0,
      bind(v) {
        const xd = intView(v, x);
        const wd = v.i8(w);
        const yd = intView(v, y);
        // Folding the constant offsets into a per-unit term keeps the inner loop a pure dot product.
        const wsum = new Float64Array(units);
        for (let o = 0; o < units; o++) {
          let s = 0;
          for (let d = 0; d < depth; d++) s += wd[o * depth + d]! + filterOffset;
          wsum[o] = s;
        }
        return () => {
          for (let n = 0; n < batches; n++) {
            const xb = n * depth;
            let xsum = 0;
            if (filterOffset !== 0) for (let d = 0; d < depth; d++) xsum += xd[xb + d]!;
            for (let o = 0; o < units; o++) {
              const wb = o * depth;
              let acc = 0;
              for (let d = 0; d < depth; d++) acc += wd[wb + d]! * xd[xb + d]!;
              acc += inputOffset * wsum[o]! + filterOffset * xsum + b[o]!;
              let out = wide
                ? multiplyByQuantizedMultiplier64(acc, multipliers[o]!, shifts[o]!)
                : multiplyByQuantizedMultiplier(acc | 0, multipliers[o]!, shifts[o]!);
              out += outputOffset;
              yd[n * units + o] = out < actMin ? actMin : out > actMax ? actMax : out;
            }
          }
        };
      },
    };
  },
};

/** Float fully connected (float64 accumulation, one float32 rounding per output). */
function fcFloat(
  xd: Float32Array,
  wd: Float32Array,
  bias: Float32Array,
  yd: Float32Array,
  batches: number,
  depth: number,
  units: number,
  lo: number,
  hi: number,
): void {
  for (let n = 0; n < batches; n++) {
    const xb = n * depth;
    for (let o = 0; o < units; o++) {
      const wb = o * depth;
      let acc = 0;
      for (let d = 0; d < depth; d++) acc += xd[xb + d]! * wd[wb + d]!;
      const r = Math.fround(acc + bias[o]!);
      yd[n * units + o] = r < lo ? lo : r > hi ? hi : r;
    }
  }
}
