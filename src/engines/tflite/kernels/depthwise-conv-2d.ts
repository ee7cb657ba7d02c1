import { Activation, Padding } from '../schema.js';
import { multiplyByQuantizedMultiplier, multiplyByQuantizedMultiplier64 } from '../quantization.js';
import {
  convQuant,
  depthwiseFloat,
  reserveRequant,
  scratchLayout,
  type ConvGeometry,
} from './conv-common.js';
import {
  activation,
  activationRangeFloat,
  biasValues,
  computePadding,
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

/** DEPTHWISE_CONV_2D: each input channel convolved with `depth_multiplier` filters of shape [1, H, W, C·m]. */
export const depthwiseConv2d: Kernel = {
  name: 'DEPTHWISE_CONV_2D',
  versions: [1, 7],
  types: ['float32', 'int8 (per-channel)', 'int16 (int8 weights)'],
  prepare(node): PreparedNode {
    expectArity(node, [2, 3], 1);
    const x = input(node, 0);
    const w = input(node, 1);
    const bias = node.inputs[2];
    const y = output(node, 0);
    expectRank(node, x, 'input', 4);
    expectRank(node, w, 'filter', 4);
    const opts = options(node);
    const padding = paddingOption(node, opts.i8(0, Padding.SAME));
    const strideW = opts.i32(1, 1);
    const strideH = opts.i32(2, 1);
    const act = activation(node, opts.i8(4, Activation.NONE));
    const dilW = opts.i32(5, 1);
    const dilH = opts.i32(6, 1);
    if (strideW < 1 || strideH < 1 || dilW < 1 || dilH < 1)
      fail(node, 'strides and dilations must be positive');
    const [batches, inH, inW, inC] = x.shape as [number, number, number, number];
    const [one, fH, fW, outC] = w.shape as [number, number, number, number];
    if (one !== 1 || inC === 0 || outC % inC !== 0)
      fail(node, `filter shape [${w.shape.join(', ')}] does not fit input depth ${inC}`);
    const mult = outC / inC;
    const ph = computePadding(padding, inH, fH, strideH, dilH);
    const pw = computePadding(padding, inW, fW, strideW, dilW);
    expectShape(node, y, 'output', [batches, ph.out, pw.out, outC]);
    const outH = ph.out;
    const outW = pw.out;
    const padH = ph.pad;
    const padW = pw.pad;

    if (x.dtype === 'float32') {
      expectType(node, w, 'filter', ['float32']);
      expectType(node, y, 'output', ['float32']);
      const b = floatBias(node, bias, outC);
      const [lo, hi] = activationRangeFloat(act);
      return {
        scratchBytes: outC * 8,
        bind(v) {
          const xd = v.f32(x);
          const wd = v.f32(w);
          const yd = v.f32(y);
          const acc = new Float64Array(v.scratch, 0, outC);
          const g: ConvGeometry = {
            batches,
            inH,
            inW,
            inC,
            outH,
            outW,
            outC,
            fH,
            fW,
            strideH,
            strideW,
            dilH,
            dilW,
            padH,
            padW,
            mult,
          };
          return () => {
            depthwiseFloat(g, xd, wd, b, yd, lo, hi, acc);
          };
        },
      };
    }

    expectType(node, x, 'input', ['int8', 'int16']);
    expectType(node, w, 'filter', ['int8']);
    expectType(node, y, 'output', [x.dtype]);
    if (bias !== undefined)
      expectType(node, bias, 'bias', x.dtype === 'int8' ? ['int32'] : ['int64', 'int32']);
    const q = convQuant(node, x, w, y, act, outC, 3);
    const b = biasValues(node, bias, outC);
    const { multipliers, shifts, actMin, actMax } = q;
    const is8 = x.dtype === 'int8';
    const inputOffset = is8 ? q.inputOffset : 0;
    const outputOffset = is8 ? q.outputOffset : 0;
    const wide = !is8 && bias?.dtype !== 'int32';
    const simd = node.simd;
    if (is8 && simd !== undefined && w.data !== undefined && dilH === 1 && dilW === 1) {
      // wasm SIMD: per output pixel, acc[c] += w[tap][c] · (x[pixel][c / m] + offset) for each
      // tap, then requantization in wasm. With a depth multiplier m > 1 the offset input is
      // written with each channel repeated m times, so channels line up with the filter.
      const wOff = simd.reserve(w.data);
      const rq = reserveRequant(simd, b, multipliers, shifts);
      const pixels = x.elements / inC;
      const layout = scratchLayout([x.elements, pixels * outC * 2, outC * 4, y.elements]);
      simd.needScratch(layout.total);
      return {
        scratchBytes: 0,
        bind(v) {
          const s = v.simd!;
          const [in8, xoOff, accOff, outOff] = layout.offsets.map((o) => s.scratch + o) as [
            number,
            number,
            number,
            number,
          ];
          const xd = v.i8(x);
          const yd = v.i8(y);
          const heapIn = new Int8Array(s.memory, in8, x.elements);
          const heapOut = new Int8Array(s.memory, outOff, y.elements);
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
        const xd = is8 ? v.i8(x) : v.i16(x);
        const wd = v.i8(w);
        const yd = is8 ? v.i8(y) : v.i16(y);
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
