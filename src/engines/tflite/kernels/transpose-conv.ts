import { multiplyByQuantizedMultiplier, multiplyByQuantizedMultiplier64 } from '../quantization.js';
import { convOperands, convQuant, floatWeighted, type ConvLayout } from './conv-common.js';
import {
  computePadding,
  constantInts,
  expectRank,
  expectShape,
  fail,
  intView,
  input,
  type Kernel,
  type PreparedNode,
} from './kernel.js';

/** TRANSPOSE_CONV's operand positions and TransposeConvOptions slots (input 0 is the output shape). */
const LAYOUT: ConvLayout = { input: 2, filter: 1, bias: 3, activation: 3 };

/** TRANSPOSE_CONV: scatters each input pixel through the OHWI filter into the output (inputs: shape, filter, input, bias). */
export const transposeConv: Kernel = {
  name: 'TRANSPOSE_CONV',
  versions: [1, 5],
  types: ['float32', 'int8 (per-channel)', 'int16 (int8 weights)'],
  prepare(node): PreparedNode {
    const operands = convOperands(node, LAYOUT);
    const { x, w, bias, y } = operands;
    const { padding, strideW, strideH, act } = operands.opts;
    const shapeT = input(node, 0);
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
      const { bias: b, lo, hi } = floatWeighted(node, w, y, bias, outC, act, 'filter');
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
    const q = convQuant(node, operands, outC, 0);
    const { wide, bias: b } = q;
    const is8 = x.dtype === 'int8';
    const inputOffset = is8 ? q.inputOffset : 0;
    const outputOffset = is8 ? q.outputOffset : 0;
    return {
      scratchBytes: total * 8,
      bind(v) {
        const xd = intView(v, x);
        const wd = v.i8(w);
        const yd = intView(v, y);
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
