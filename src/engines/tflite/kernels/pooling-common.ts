import { Activation, Padding } from '../schema.js';
import type { ConvGeometry } from './conv-common.js';
import {
  activation,
  activationRangeFloat,
  activationRangeQuantized,
  computePadding,
  expectArity,
  expectRank,
  expectShape,
  expectType,
  fail,
  input,
  options,
  output,
  paddingOption,
  quantParams,
  type NodeInfo,
  type PreparedNode,
} from './kernel.js';

/** Prepares AVERAGE_POOL_2D or MAX_POOL_2D (Pool2DOptions; window clipped to the image). */
export function preparePool(node: NodeInfo, kind: 'average' | 'max'): PreparedNode {
  expectArity(node, [1, 1], 1);
  const x = input(node, 0);
  const y = output(node, 0);
  expectRank(node, x, 'input', 4);
  expectType(node, x, 'input', ['float32', 'int8', 'int16']);
  expectType(node, y, 'output', [x.dtype]);
  const opts = options(node);
  const padding = paddingOption(node, opts.i8(0, Padding.SAME));
  const strideW = opts.i32(1, 1);
  const strideH = opts.i32(2, 1);
  const fW = opts.i32(3, 1);
  const fH = opts.i32(4, 1);
  const act = activation(node, opts.i8(5, Activation.NONE));
  if (strideW < 1 || strideH < 1 || fW < 1 || fH < 1)
    fail(node, 'strides and filter sizes must be positive');
  const [batches, inH, inW, depth] = x.shape as [number, number, number, number];
  const ph = computePadding(padding, inH, fH, strideH, 1);
  const pw = computePadding(padding, inW, fW, strideW, 1);
  expectShape(node, y, 'output', [batches, ph.out, pw.out, depth]);
  const outH = ph.out;
  const outW = pw.out;
  let lo: number;
  let hi: number;
  if (x.dtype === 'float32') {
    [lo, hi] = activationRangeFloat(act);
  } else {
    const inQ = quantParams(node, x);
    const outQ = quantParams(node, y);
    if (inQ.scale !== outQ.scale || inQ.zeroPoint !== outQ.zeroPoint) {
      fail(node, 'input and output quantization must be equal');
    }
    [lo, hi] = activationRangeQuantized(node, act, y);
  }
  const isFloat = x.dtype === 'float32';
  return {
    scratchBytes: 0,
    bind(v) {
      const xd = isFloat ? v.f32(x) : x.dtype === 'int8' ? v.i8(x) : v.i16(x);
      const yd = isFloat ? v.f32(y) : y.dtype === 'int8' ? v.i8(y) : v.i16(y);
      const g: ConvGeometry = {
        batches,
        inH,
        inW,
        inC: depth,
        outH,
        outW,
        outC: depth,
        fH,
        fW,
        strideH,
        strideW,
        dilH: 1,
        dilW: 1,
        padH: ph.pad,
        padW: pw.pad,
        mult: 1,
      };
      return () => {
        pool(g, xd, yd, kind === 'max', isFloat, lo, hi);
      };
    },
  };
}

/** The pooling loop nest (a top-level function, see ConvGeometry). */
function pool(
  g: ConvGeometry,
  xd: Float32Array | Int8Array | Int16Array,
  yd: Float32Array | Int8Array | Int16Array,
  isMax: boolean,
  isFloat: boolean,
  lo: number,
  hi: number,
): void {
  const { batches, inH, inW, outH, outW, outC: depth, fH, fW, strideH, strideW, padH, padW } = g;
  for (let n = 0; n < batches; n++) {
    for (let oy = 0; oy < outH; oy++) {
      const iy0 = oy * strideH - padH;
      const yStart = Math.max(0, -iy0);
      const yEnd = Math.min(fH, inH - iy0);
      for (let ox = 0; ox < outW; ox++) {
        const ix0 = ox * strideW - padW;
        const xStart = Math.max(0, -ix0);
        const xEnd = Math.min(fW, inW - ix0);
        const count = (yEnd - yStart) * (xEnd - xStart);
        for (let c = 0; c < depth; c++) {
          let r: number;
          if (isMax) {
            r = -Infinity;
            for (let fy = yStart; fy < yEnd; fy++) {
              for (let fx = xStart; fx < xEnd; fx++) {
                const value = xd[((n * inH + iy0 + fy) * inW + ix0 + fx) * depth + c]!;
                if (value > r) r = value;
              }
            }
          } else {
            let sum = 0;
            for (let fy = yStart; fy < yEnd; fy++) {
              for (let fx = xStart; fx < xEnd; fx++) {
                const value = xd[((n * inH + iy0 + fy) * inW + ix0 + fx) * depth + c]!;
                sum = isFloat ? Math.fround(sum + value) : sum + value;
              }
            }
            if (isFloat) r = Math.fround(sum / count);
            // Integer average rounds half away from zero with C's truncating division.
            else
              r =
                sum > 0
                  ? Math.trunc((sum + Math.trunc(count / 2)) / count)
                  : Math.trunc((sum - Math.trunc(count / 2)) / count);
          }
          yd[((n * outH + oy) * outW + ox) * depth + c] = r < lo ? lo : r > hi ? hi : r;
        }
      }
    }
  }
}
