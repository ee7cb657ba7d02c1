import type { TensorDef } from '../model-reader.js';
import type { SimdHeap } from '../simd.js';
import { quantizeMultiplier } from '../quantization.js';
import {
  activationRangeQuantized,
  channelScales,
  fail,
  quantParams,
  type NodeInfo,
} from './kernel.js';

/** Requantization parameters of a convolution-like op (TFLite's PopulateConvolutionQuantizationParams). */
export interface ConvQuant {
  readonly multipliers: Int32Array;
  readonly shifts: Int32Array;
  readonly inputOffset: number;
  readonly outputOffset: number;
  readonly actMin: number;
  readonly actMax: number;
}

/** Per-channel multipliers from input, filter and output scales, computed in double precision. */
export function convQuant(
  node: NodeInfo,
  input: TensorDef,
  filter: TensorDef,
  output: TensorDef,
  act: number,
  channels: number,
  axis: number,
): ConvQuant {
  const inQ = quantParams(node, input);
  const outQ = quantParams(node, output);
  const scales = channelScales(node, filter, channels, axis);
  if (filter.quant!.zeroPoint.some((z) => z !== 0))
    fail(node, `filter "${filter.name}" must have zero points of 0`);
  const multipliers = new Int32Array(channels);
  const shifts = new Int32Array(channels);
  for (let c = 0; c < channels; c++) {
    const { multiplier, shift } = quantizeMultiplier((inQ.scale * scales[c]!) / outQ.scale);
    multipliers[c] = multiplier;
    shifts[c] = shift;
  }
  const [actMin, actMax] = activationRangeQuantized(node, act, output);
  return {
    multipliers,
    shifts,
    inputOffset: -inQ.zeroPoint,
    outputOffset: outQ.zeroPoint,
    actMin,
    actMax,
  };
}

/** Offsets of consecutive scratch regions (each 16-byte aligned) and their total size. */
export function scratchLayout(sizes: readonly number[]): { offsets: number[]; total: number } {
  const offsets: number[] = [];
  let total = 0;
  for (const size of sizes) {
    offsets.push(total);
    total += Math.ceil(size / 16) * 16;
  }
  return { offsets, total };
}

/** Copies per-channel bias, multipliers and shifts into the SIMD heap for `requant8`. */
export function reserveRequant(
  simd: SimdHeap,
  bias: Float64Array,
  multipliers: Int32Array,
  shifts: Int32Array,
): { bias: number; mult: number; shift: number } {
  const bytes = (a: Int32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  return {
    bias: simd.reserve(bytes(Int32Array.from(bias))),
    mult: simd.reserve(bytes(multipliers)),
    shift: simd.reserve(bytes(shifts)),
  };
}

/**
 * The shape of a convolution-like loop nest. Hot loops are top-level functions taking this (one
 * object shape everywhere) rather than closures over per-model constants: V8 stops specializing
 * closures once a second model creates them, which halved speed in multi-model processes.
 */
export interface ConvGeometry {
  readonly batches: number;
  readonly inH: number;
  readonly inW: number;
  readonly inC: number;
  readonly outH: number;
  readonly outW: number;
  readonly outC: number;
  readonly fH: number;
  readonly fW: number;
  readonly strideH: number;
  readonly strideW: number;
  readonly dilH: number;
  readonly dilW: number;
  readonly padH: number;
  readonly padW: number;
  /** Depth multiplier (depthwise), or input channels per group (conv). */
  readonly mult: number;
}

/**
 * Float depthwise convolution: channel-innermost accumulation into `acc` (float64, one float32
 * rounding per output), reading input and filter rows contiguously.
 */
export function depthwiseFloat(
  g: ConvGeometry,
  xd: Float32Array,
  wd: Float32Array,
  bias: Float32Array,
  yd: Float32Array,
  lo: number,
  hi: number,
  acc: Float64Array,
): void {
  const {
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
  } = g;
  for (let n = 0; n < batches; n++) {
    for (let oy = 0; oy < outH; oy++) {
      const iy0 = oy * strideH - padH;
      const fyMin = Math.max(0, Math.ceil(-iy0 / dilH));
      const fyMax = Math.min(fH, Math.ceil((inH - iy0) / dilH));
      for (let ox = 0; ox < outW; ox++) {
        const ix0 = ox * strideW - padW;
        const fxMin = Math.max(0, Math.ceil(-ix0 / dilW));
        const fxMax = Math.min(fW, Math.ceil((inW - ix0) / dilW));
        acc.fill(0);
        for (let fy = fyMin; fy < fyMax; fy++) {
          const row = (n * inH + iy0 + fy * dilH) * inW;
          for (let fx = fxMin; fx < fxMax; fx++) {
            const xBase = (row + ix0 + fx * dilW) * inC;
            const wBase = (fy * fW + fx) * outC;
            if (mult === 1) {
              for (let c = 0; c < outC; c++) acc[c] = acc[c]! + xd[xBase + c]! * wd[wBase + c]!;
            } else {
              for (let c = 0; c < outC; c++)
                acc[c] = acc[c]! + xd[xBase + ((c / mult) | 0)]! * wd[wBase + c]!;
            }
          }
        }
        const yBase = ((n * outH + oy) * outW + ox) * outC;
        for (let c = 0; c < outC; c++) {
          const r = Math.fround(acc[c]! + bias[c]!);
          yd[yBase + c] = r < lo ? lo : r > hi ? hi : r;
        }
      }
    }
  }
}

/** Float convolution, OHWI filters, `g.mult` input channels per group. */
export function convFloat(
  g: ConvGeometry,
  xd: Float32Array,
  wd: Float32Array,
  bias: Float32Array,
  yd: Float32Array,
  lo: number,
  hi: number,
): void {
  const {
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
    mult: fC,
  } = g;
  const perGroup = outC / (inC / fC);
  for (let n = 0; n < batches; n++) {
    for (let oy = 0; oy < outH; oy++) {
      const iy0 = oy * strideH - padH;
      for (let ox = 0; ox < outW; ox++) {
        const ix0 = ox * strideW - padW;
        const yBase = ((n * outH + oy) * outW + ox) * outC;
        for (let oc = 0; oc < outC; oc++) {
          const g0 = ((oc / perGroup) | 0) * fC;
          let acc = 0;
          for (let fy = 0; fy < fH; fy++) {
            const iy = iy0 + fy * dilH;
            if (iy < 0 || iy >= inH) continue;
            for (let fx = 0; fx < fW; fx++) {
              const ix = ix0 + fx * dilW;
              if (ix < 0 || ix >= inW) continue;
              const xBase = ((n * inH + iy) * inW + ix) * inC + g0;
              const wBase = ((oc * fH + fy) * fW + fx) * fC;
              for (let c = 0; c < fC; c++) acc += xd[xBase + c]! * wd[wBase + c]!;
            }
          }
          const r = Math.fround(acc + bias[oc]!);
          yd[yBase + oc] = r < lo ? lo : r > hi ? hi : r;
        }
      }
    }
  }
}
