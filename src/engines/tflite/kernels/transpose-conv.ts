import { Activation, Padding } from '../schema.js';
import { multiplyByQuantizedMultiplier, multiplyByQuantizedMultiplier64 } from '../quantization.js';
import { convQuant } from './conv-common.js';
import {
  activation,
  activationRangeFloat,
  biasValues,
  computePadding,
  constantInts,
  expectArity,
  expectRank,
  expectShape,
  expectType,
  fail,
  floatBias,
  input,
  options,
  output,
  paddingOption,
  type Kernel,
  type PreparedNode,
} from './kernel.js';

/** TRANSPOSE_CONV: scatters each input pixel through the OHWI filter into the output (inputs: shape, filter, input, bias). */
export const transposeConv: Kernel = {
  name: 'TRANSPOSE_CONV',
  versions: [1, 5],
  types: ['float32', 'int8 (per-channel)', 'int16 (int8 weights)'],
  prepare(node): PreparedNode {
    expectArity(node, [3, 4], 1);
    const shapeT = input(node, 0);
    const w = input(node, 1);
    const x = input(node, 2);
    const bias = node.inputs[3];
    const y = output(node, 0);
    expectRank(node, x, 'input', 4);
    expectRank(node, w, 'filter', 4);
    const opts = options(node);
    const padding = paddingOption(node, opts.i8(0, Padding.SAME));
    const strideW = opts.i32(1, 1);
    const strideH = opts.i32(2, 1);
    const act = activation(node, opts.i8(3, Activation.NONE));
    if (strideW < 1 || strideH < 1) fail(node, 'strides must be positive');
    // TFLM sizes the output from the output tensor itself; a constant shape operand must agree.
    if (shapeT.data !== undefined) expectShape(node, y, 'output', constantInts(node, shapeT));
    const [batches, inH, inW, inC] = x.shape as [number, number, number, number];
    const [outC, fH, fW, fC] = w.shape as [number, number, number, number];
    if (fC !== inC) fail(node, `filter depth ${fC} does not match input depth ${inC}`);
    expectRank(node, y, 'output', 4);
    const [, outH, outW, yC] = y.shape as [number, number, number, number];
    if (yC !== outC || y.shape[0] !== batches)
      fail(node, 'output shape does not match filter and input');
    const padH = computePadding(padding, outH, fH, strideH, 1).pad;
    const padW = computePadding(padding, outW, fW, strideW, 1).pad;
    const total = y.elements;

    /** Scatter-accumulates input·filter products into acc (as the reference kernel does). */
    const scatter = (
      xd: ArrayLike<number>,
      wd: ArrayLike<number>,
      acc: Float64Array,
      inputOffset: number,
    ): void => {
      acc.fill(0);
      for (let n = 0; n < batches; n++) {
        for (let iy = 0; iy < inH; iy++) {
          for (let ix = 0; ix < inW; ix++) {
            const oy0 = iy * strideH - padH;
            const ox0 = ix * strideW - padW;
            const xBase = ((n * inH + iy) * inW + ix) * inC;
            for (let fy = 0; fy < fH; fy++) {
              const oy = oy0 + fy;
              if (oy < 0 || oy >= outH) continue;
              for (let fx = 0; fx < fW; fx++) {
                const ox = ox0 + fx;
                if (ox < 0 || ox >= outW) continue;
                const yBase = ((n * outH + oy) * outW + ox) * outC;
                for (let oc = 0; oc < outC; oc++) {
                  const wBase = ((oc * fH + fy) * fW + fx) * inC;
                  let s = acc[yBase + oc]!;
                  for (let ic = 0; ic < inC; ic++) {
                    s += (xd[xBase + ic]! + inputOffset) * wd[wBase + ic]!;
                  }
                  acc[yBase + oc] = s;
                }
              }
            }
          }
        }
      }
    };

    if (x.dtype === 'float32') {
      expectType(node, w, 'filter', ['float32']);
      expectType(node, y, 'output', ['float32']);
      const b = floatBias(node, bias, outC);
      const [lo, hi] = activationRangeFloat(act);
      return {
        scratchBytes: total * 8,
        bind(v) {
          const xd = v.f32(x);
          const wd = v.f32(w);
          const yd = v.f32(y);
          const acc = new Float64Array(v.scratch, 0, total);
          return () => {
            scatter(xd, wd, acc, 0);
            for (let i = 0; i < total; i++) {
              const r = Math.fround(acc[i]! + b[i % outC]!);
              yd[i] = r < lo ? lo : r > hi ? hi : r;
            }
          };
        },
      };
    }
    expectType(node, x, 'input', ['int8', 'int16']);
    expectType(node, w, 'filter', ['int8']);
    expectType(node, y, 'output', [x.dtype]);
    if (bias !== undefined)
      expectType(node, bias, 'bias', x.dtype === 'int8' ? ['int32'] : ['int64', 'int32']);
    const q = convQuant(node, x, w, y, act, outC, 0);
    const b = biasValues(node, bias, outC);
    const is8 = x.dtype === 'int8';
    const wide = !is8 && bias?.dtype !== 'int32';
    const inputOffset = is8 ? q.inputOffset : 0;
    const outputOffset = is8 ? q.outputOffset : 0;
    return {
      scratchBytes: total * 8,
      bind(v) {
        const xd = is8 ? v.i8(x) : v.i16(x);
        const wd = v.i8(w);
        const yd = is8 ? v.i8(y) : v.i16(y);
        const acc = new Float64Array(v.scratch, 0, total);
        return () => {
          scatter(xd, wd, acc, inputOffset);
          for (let i = 0; i < total; i++) {
            const oc = i % outC;
            const sum = acc[i]! + b[oc]!;
            let r = wide
              ? multiplyByQuantizedMultiplier64(sum, q.multipliers[oc]!, q.shifts[oc]!)
              : multiplyByQuantizedMultiplier(sum | 0, q.multipliers[oc]!, q.shifts[oc]!);
            r += outputOffset;
            yd[i] = r < q.actMin ? q.actMin : r > q.actMax ? q.actMax : r;
          }
        };
      },
    };
  },
};
