import { multiplyByQuantizedMultiplier, multiplyByQuantizedMultiplier64 } from '../quantization.js';
import {
  convGeometry,
  convOperands,
  type ConvLayout,
  convQuant,
  depthwiseFloat,
  floatWeighted,
  int8HeapIo,
  reserveRequantSimd,
} from './conv-common.js';
import { fail, intView, type Kernel, type PreparedNode } from './kernel.js';

/** DEPTHWISE_CONV_2D's operand positions and DepthwiseConv2DOptions slots (slot 3, depth_multiplier, is implied by the filter shape). */
const LAYOUT: ConvLayout = { input: 0, filter: 1, bias: 2, activation: 4, dilation: 5 };

/** DEPTHWISE_CONV_2D: each input channel convolved with `depth_multiplier` filters of shape [1, H, W, C·m]. */
export const depthwiseConv2d: Kernel = {
  name: 'DEPTHWISE_CONV_2D',
  versions: [1, 7],
  types: ['float32', 'int8 (per-channel)', 'int16 (int8 weights)'],
  prepare(node): PreparedNode {
    const operands = convOperands(node, LAYOUT);
    const { x, w, bias, y, opts } = operands;
    const inC = x.shape[3]!;
    const [one, fH, fW, outC] = w.shape as [number, number, number, number];
    if (one !== 1 || inC === 0 || outC % inC !== 0)
      fail(node, `filter shape [${w.shape.join(', ')}] does not fit input depth ${inC}`);
    const mult = outC / inC;
    const geometry = convGeometry(node, x, y, opts, { fH, fW, outC, mult });
    const { batches, inH, inW, outH, outW, strideH, strideW, dilH, dilW, padH, padW } = geometry;

    if (x.dtype === 'float32') {
      const { bias: b, lo, hi } = floatWeighted(node, w, y, bias, outC, opts.act, 'filter');
      return {
        scratchBytes: outC * 8,
        bind(v) {
          const xd = v.f32(x);
          const wd = v.f32(w);
          const yd = v.f32(y);
          const acc = new Float64Array(v.scratch, 0, outC);
          return () => {
            depthwiseFloat(geometry, xd, wd, b, yd, lo, hi, acc);
          };
        },
      };
    }

    const q = convQuant(node, operands, outC, 3);
    const { multipliers, shifts, actMin, actMax, wide, bias: b } = q;
    const is8 = x.dtype === 'int8';
    const inputOffset = is8 ? q.inputOffset : 0;
    const outputOffset = is8 ? q.outputOffset : 0;
    const simd = node.simd;
    if (is8 && simd !== undefined && w.data !== undefined && dilH === 1 && dilW === 1) {
      // wasm SIMD: per output pixel, acc[c] += w[tap][c] · (x[pixel][c / m] + offset) for each
      // tap, then requantization in wasm. With a depth multiplier m > 1 the offset input is
      // written with each channel repeated m times, so channels line up with the filter.
      const pixels = x.elements / inC;
      const rq = reserveRequantSimd(simd, w.data, q, [
        x.elements,
        pixels * outC * 2,
        outC * 4,
        y.elements,
      ]);
      const wOff = rq.weights;
      return {
        scratchBytes: 0,
        bind(v) {
          const s = v.simd!;
          const [in8, xoOff, accOff, outOff] = rq.layout.at(s.scratch);
          const { xd, yd, heapIn, heapOut } = int8HeapIo(v, s, x, y, in8, outOff);
          const acc = new Int32Array(s.memory, accOff, outC);
          const xo = new Int16Array(s.memory, xoOff, pixels * outC);
          const { dwacc, widen8, requant8 } = s.exports;
          return () => {
            if (mult === 1) {
              heapIn.set(xd);
              widen8(in8, xoOff, x.elements, inputOffset);
            } else {
              for (let p = 0; p < pixels; p++) {
                for (let c = 0; c < outC; c++)
                  xo[p * outC + c] = xd[p * inC + ((c / mult) | 0)]! + inputOffset;
              }
            }
            for (let n = 0; n < batches; n++) {
              for (let oy = 0; oy < outH; oy++) {
                const iy0 = oy * strideH - padH;
                const fyMin = Math.max(0, -iy0);
                const fyMax = Math.min(fH, inH - iy0);
                for (let ox = 0; ox < outW; ox++) {
                  const ix0 = ox * strideW - padW;
                  const fxMin = Math.max(0, -ix0);
                  const fxMax = Math.min(fW, inW - ix0);
                  acc.fill(0);
                  for (let fy = fyMin; fy < fyMax; fy++) {
                    const row = (n * inH + iy0 + fy) * inW + ix0;
                    for (let fx = fxMin; fx < fxMax; fx++) {
                      dwacc(
                        accOff,
                        wOff + (fy * fW + fx) * outC,
                        xoOff + (row + fx) * outC * 2,
                        outC,
                      );
                    }
                  }
                  const yBase = ((n * outH + oy) * outW + ox) * outC;
                  requant8(
                    accOff,
                    rq.bias,
                    rq.mult,
                    rq.shift,
                    outC,
                    outOff + yBase,
                    outputOffset,
                    actMin,
                    actMax,
                  );
                }
              }
            }
            yd.set(heapOut);
          };
        },
      };
    }
    return {
      // int32 accumulators per output channel, then the input pre-offset (x + input_offset) as int32.
      scratchBytes: outC * 4 + x.elements * 4,
      bind(v) {
        const xd = intView(v, x);
        const wd = v.i8(w);
        const yd = intView(v, y);
        const acc = new Int32Array(v.scratch, 0, outC);
        const xo = new Int32Array(v.scratch, outC * 4, x.elements);
        const wide64 = wide ? new Float64Array(outC) : undefined;
        return () => {
          for (let i = 0; i < xo.length; i++) xo[i] = xd[i]! + inputOffset;
          for (let n = 0; n < batches; n++) {
            for (let oy = 0; oy < outH; oy++) {
              const iy0 = oy * strideH - padH;
              const fyMin = Math.max(0, Math.ceil(-iy0 / dilH));
              const fyMax = Math.min(fH, Math.ceil((inH - iy0) / dilH));
              for (let ox = 0; ox < outW; ox++) {
                const ix0 = ox * strideW - padW;
                const fxMin = Math.max(0, Math.ceil(-ix0 / dilW));
                const fxMax = Math.min(fW, Math.ceil((inW - ix0) / dilW));
                if (wide64 === undefined) {
                  acc.fill(0);
                  taps(acc, xo, wd, n, iy0, ix0, fyMin, fyMax, fxMin, fxMax);
                } else {
                  // int16 products summed in int64 may pass 2^31: accumulate per tap in doubles.
                  wide64.fill(0);
                  for (let fy = fyMin; fy < fyMax; fy++) {
                    for (let fx = fxMin; fx < fxMax; fx++) {
                      acc.fill(0);
                      taps(acc, xo, wd, n, iy0, ix0, fy, fy + 1, fx, fx + 1);
                      for (let c = 0; c < outC; c++) wide64[c] = wide64[c]! + acc[c]!;
                    }
                  }
                }
                const yBase = ((n * outH + oy) * outW + ox) * outC;
                for (let c = 0; c < outC; c++) {
                  let r =
                    wide64 !== undefined
                      ? multiplyByQuantizedMultiplier64(
                          wide64[c]! + b[c]!,
                          multipliers[c]!,
                          shifts[c]!,
                        )
                      : multiplyByQuantizedMultiplier(
                          (acc[c]! + b[c]!) | 0,
                          multipliers[c]!,
                          shifts[c]!,
                        );
                  r += outputOffset;
                  yd[yBase + c] = r < actMin ? actMin : r > actMax ? actMax : r;
                }
              }
            }
          }
        };
      },
    };

    /** Adds the filter taps in [fyMin, fyMax) × [fxMin, fxMax) into acc, channel-innermost (contiguous reads). */
    function taps(
      acc: Int32Array,
      xo: Int32Array,
      wd: Int8Array,
      n: number,
      iy0: number,
      ix0: number,
      fyMin: number,
      fyMax: number,
      fxMin: number,
      fxMax: number,
    ): void {
      for (let fy = fyMin; fy < fyMax; fy++) {
        const rowBase = (n * inH + iy0 + fy * dilH) * inW;
        for (let fx = fxMin; fx < fxMax; fx++) {
          const xBase = (rowBase + ix0 + fx * dilW) * inC;
          const wBase = (fy * fW + fx) * outC;
          if (mult === 1) {
            for (let c = 0; c < outC; c++) acc[c] = (acc[c]! + wd[wBase + c]! * xo[xBase + c]!) | 0;
          } else {
            for (let c = 0; c < outC; c++)
              acc[c] = (acc[c]! + wd[wBase + c]! * xo[xBase + ((c / mult) | 0)]!) | 0;
          }
        }
      }
    }
  },
};
