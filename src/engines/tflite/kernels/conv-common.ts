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
