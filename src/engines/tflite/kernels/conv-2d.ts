import { multiplyByQuantizedMultiplier, multiplyByQuantizedMultiplier64 } from '../quantization.js';
import {
  convFloat,
  convGeometry,
  convOperands,
  type ConvLayout,
  convQuant,
  floatWeighted,
  int8HeapIo,
  reserveRequantSimd,
} from './conv-common.js';
import { fail, type Kernel, type PreparedNode } from './kernel.js';

/** CONV_2D's operand positions and Conv2DOptions slots. */
const LAYOUT: ConvLayout = { input: 0, filter: 1, bias: 2, activation: 3, dilation: 4 };

/** CONV_2D over NHWC input with OHWI filters (grouped when the filter depth divides the input depth). */
export const conv2d: Kernel = {
  name: 'CONV_2D',
  versions: [1, 8],
  types: ['float32', 'int8 (per-channel)', 'int16 (int8 weights)'],
  prepare(node): PreparedNode {
    const operands = convOperands(node, LAYOUT);
    const { x, w, bias, y, opts } = operands;
    const inC = x.shape[3]!;
    const [outC, fH, fW, fC] = w.shape as [number, number, number, number];
    if (fC === 0 || inC % fC !== 0)
      fail(node, `filter depth ${fC} does not divide input depth ${inC}`);
    const groups = inC / fC;
    if (outC % groups !== 0)
      fail(node, `output depth ${outC} is not a multiple of ${groups} groups`);
    const perGroup = outC / groups;
    const geometry = convGeometry(node, x, y, opts, { fH, fW, outC, mult: fC });
    const { batches, inH, inW, outH, outW, strideH, strideW, dilH, dilW, padH, padW } = geometry;

    /** Runs the loop nest; `finish(oc, acc)` turns an accumulator into the stored value. */
    const loop = (
      xd: ArrayLike<number>,
      wd: ArrayLike<number>,
      yd: { [i: number]: number },
      inputOffset: number,
      finish: (oc: number, acc: number) => number,
    ): void => {
      for (let b = 0; b < batches; b++) {
        for (let oy = 0; oy < outH; oy++) {
          const iy0 = oy * strideH - padH;
          const fyMin = Math.max(0, Math.ceil(-iy0 / dilH));
          const fyMax = Math.min(fH, Math.ceil((inH - iy0) / dilH));
          for (let ox = 0; ox < outW; ox++) {
            const ix0 = ox * strideW - padW;
            const fxMin = Math.max(0, Math.ceil(-ix0 / dilW));
            const fxMax = Math.min(fW, Math.ceil((inW - ix0) / dilW));
            const yBase = ((b * outH + oy) * outW + ox) * outC;
            for (let oc = 0; oc < outC; oc++) {
              const g = (oc / perGroup) | 0;
              let acc = 0;
              for (let fy = fyMin; fy < fyMax; fy++) {
                const rowBase = (b * inH + iy0 + fy * dilH) * inW;
                for (let fx = fxMin; fx < fxMax; fx++) {
                  const xBase = (rowBase + ix0 + fx * dilW) * inC + g * fC;
                  const wBase = ((oc * fH + fy) * fW + fx) * fC;
                  for (let c = 0; c < fC; c++)
                    acc += wd[wBase + c]! * (xd[xBase + c]! + inputOffset);
                }
              }
              yd[yBase + oc] = finish(oc, acc);
            }
          }
        }
      }
    };

    if (x.dtype === 'float32') {
      const { bias: b, lo, hi } = floatWeighted(node, w, y, bias, outC, opts.act, 'filter');
      return {
        scratchBytes: 0,
        bind(v) {
          const xd = v.f32(x);
          const wd = v.f32(w);
          const yd = v.f32(y);
          return () => {
            convFloat(geometry, xd, wd, b, yd, lo, hi);
          };
        },
      };
    }

    const q = convQuant(node, operands, outC, 0);
    const { multipliers, shifts, outputOffset, actMin, actMax, bias: b } = q;
    const simd = node.simd;
    // Patches of fewer than 8 channels per tap gain little from SIMD; the JS loop handles them.
    if (
      x.dtype === 'int8' &&
      groups === 1 &&
      simd !== undefined &&
      w.data !== undefined &&
      fC >= 8
    ) {
      // wasm SIMD: each output pixel is one int8 × int16 matrix-vector product over its patch,
      // requantized in wasm; input and output cross into the wasm heap once per invoke.
      const taps = fH * fW * fC;
      const rq = reserveRequantSimd(simd, w.data, q, [
        x.elements,
        x.elements * 2,
        taps * 2,
        outC * 4,
        y.elements,
      ]);
      const wOff = rq.weights;
      const inputOffset = q.inputOffset;
      const pointwise = fH === 1 && fW === 1;
      return {
        scratchBytes: 0,
        bind(v) {
          const s = v.simd!;
          const [in8, xoOff, patchOff, accOff, outOff] = rq.layout.at(s.scratch);
          const { xd, yd, heapIn, heapOut } = int8HeapIo(v, s, x, y, in8, outOff);
          const heap16 = new Int16Array(s.memory);
          const xo = xoOff / 2;
          const patch = patchOff / 2;
          const { matvec, widen8, requant8 } = s.exports;
          return () => {
            heapIn.set(xd);
            widen8(in8, xoOff, x.elements, inputOffset);
            for (let n = 0; n < batches; n++) {
              for (let oy = 0; oy < outH; oy++) {
                const iy0 = oy * strideH - padH;
                for (let ox = 0; ox < outW; ox++) {
                  const ix0 = ox * strideW - padW;
                  let src: number;
                  if (pointwise && iy0 >= 0 && iy0 < inH && ix0 >= 0 && ix0 < inW) {
                    src = xo + ((n * inH + iy0) * inW + ix0) * inC;
                  } else {
                    // Gather the patch; taps outside the image are 0 in the offset domain.
                    for (let fy = 0; fy < fH; fy++) {
                      const iy = iy0 + fy * dilH;
                      for (let fx = 0; fx < fW; fx++) {
                        const ix = ix0 + fx * dilW;
                        const dst = patch + (fy * fW + fx) * fC;
                        if (iy < 0 || iy >= inH || ix < 0 || ix >= inW)
                          heap16.fill(0, dst, dst + fC);
                        else {
                          const from = xo + ((n * inH + iy) * inW + ix) * inC;
                          heap16.copyWithin(dst, from, from + fC);
                        }
                      }
                    }
                    src = patch;
                  }
                  matvec(wOff, src * 2, taps, outC, accOff);
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
    if (x.dtype === 'int8' && groups === 1) {
      const inputOffset = q.inputOffset;
      const taps = fH * fW * fC;
      return {
        // The offset input (x + input_offset) as int32, so the inner loop is a pure dot product.
        scratchBytes: x.elements * 4,
        bind(v) {
          const xd = v.i8(x);
          const wd = v.i8(w);
          const yd = v.i8(y);
          const xo = new Int32Array(v.scratch, 0, x.elements);
          return () => {
            for (let i = 0; i < xo.length; i++) xo[i] = xd[i]! + inputOffset;
            conv8(xo, wd, yd, b, multipliers, shifts, outputOffset, actMin, actMax, taps);
          };
        },
      };
    }
    if (x.dtype === 'int8') {
      const finish = (oc: number, acc: number): number => {
        const r =
          multiplyByQuantizedMultiplier((acc + b[oc]!) | 0, multipliers[oc]!, shifts[oc]!) +
          outputOffset;
        return r < actMin ? actMin : r > actMax ? actMax : r;
      };
      return {
        scratchBytes: 0,
        bind(v) {
          const xd = v.i8(x);
          const wd = v.i8(w);
          const yd = v.i8(y);
          return () => {
            loop(xd, wd, yd, q.inputOffset, finish);
          };
        },
      };
    }

    /**
     * int8 convolution over pre-offset input, four output channels at a time so each input load
     * feeds four accumulators. Accumulators stay int32 (`| 0`), as the C reference's do.
     */
    function conv8(
      xo: Int32Array,
      wd: Int8Array,
      yd: Int8Array,
      bias: Float64Array,
      mults: Int32Array,
      shs: Int32Array,
      outOff: number,
      lo: number,
      hi: number,
      taps: number,
    ): void {
      const rowLen = fW * fC;
      for (let n = 0; n < batches; n++) {
        for (let oy = 0; oy < outH; oy++) {
          const iy0 = oy * strideH - padH;
          const fyMin = Math.max(0, Math.ceil(-iy0 / dilH));
          const fyMax = Math.min(fH, Math.ceil((inH - iy0) / dilH));
          for (let ox = 0; ox < outW; ox++) {
            const ix0 = ox * strideW - padW;
            const fxMin = Math.max(0, Math.ceil(-ix0 / dilW));
            const fxMax = Math.min(fW, Math.ceil((inW - ix0) / dilW));
            const yBase = ((n * outH + oy) * outW + ox) * outC;
            let oc = 0;
            for (; oc + 4 <= outC; oc += 4) {
              let a0 = 0;
              let a1 = 0;
              let a2 = 0;
              let a3 = 0;
              for (let fy = fyMin; fy < fyMax; fy++) {
                const rowBase = (n * inH + iy0 + fy * dilH) * inW;
                for (let fx = fxMin; fx < fxMax; fx++) {
                  const xb = (rowBase + ix0 + fx * dilW) * inC;
                  const w0 = oc * taps + fy * rowLen + fx * fC;
                  const w1 = w0 + taps;
                  const w2 = w1 + taps;
                  const w3 = w2 + taps;
                  for (let c = 0; c < fC; c++) {
                    const xv = xo[xb + c]!;
                    a0 = (a0 + wd[w0 + c]! * xv) | 0;
                    a1 = (a1 + wd[w1 + c]! * xv) | 0;
                    a2 = (a2 + wd[w2 + c]! * xv) | 0;
                    a3 = (a3 + wd[w3 + c]! * xv) | 0;
                  }
                }
              }
              yd[yBase + oc] = requant(a0, oc);
              yd[yBase + oc + 1] = requant(a1, oc + 1);
              yd[yBase + oc + 2] = requant(a2, oc + 2);
              yd[yBase + oc + 3] = requant(a3, oc + 3);
            }
            for (; oc < outC; oc++) {
              let a = 0;
              for (let fy = fyMin; fy < fyMax; fy++) {
                const rowBase = (n * inH + iy0 + fy * dilH) * inW;
                for (let fx = fxMin; fx < fxMax; fx++) {
                  const xb = (rowBase + ix0 + fx * dilW) * inC;
                  const w0 = oc * taps + fy * rowLen + fx * fC;
                  for (let c = 0; c < fC; c++) a = (a + wd[w0 + c]! * xo[xb + c]!) | 0;
                }
              }
              yd[yBase + oc] = requant(a, oc);
            }
          }
        }
      }
      function requant(acc: number, ch: number): number {
        const r =
          multiplyByQuantizedMultiplier((acc + bias[ch]!) | 0, mults[ch]!, shs[ch]!) + outOff;
        return r < lo ? lo : r > hi ? hi : r;
      }
    }
    const wide = q.wide;
    const finish16 = (oc: number, acc: number): number => {
      const r = wide
        ? multiplyByQuantizedMultiplier64(acc + b[oc]!, multipliers[oc]!, shifts[oc]!)
        : multiplyByQuantizedMultiplier((acc + b[oc]!) | 0, multipliers[oc]!, shifts[oc]!);
      return r < actMin ? actMin : r > actMax ? actMax : r;
    };
    return {
      scratchBytes: 0,
      bind(v) {
        const xd = v.i16(x);
        const wd = v.i8(w);
        const yd = v.i16(y);
        return () => {
          loop(xd, wd, yd, 0, finish16);
        };
      },
    };
  },
};
