import type { TensorDef } from '../model-reader.js';
import type { SimdHeap } from '../simd.js';
import { quantizeMultipliers } from '../quantization.js';
import { Activation, Padding } from '../schema.js';
import {
  activation,
  activationRangeFloat,
  activationRangeQuantized,
  biasValues,
  channelScales,
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
  quantParams,
  type NodeInfo,
  type SimdBinding,
  type TensorViews,
} from './kernel.js';

/** Where a convolution-like op keeps its operands (input positions) and options (field slots). */
export interface ConvLayout {
  readonly input: number;
  readonly filter: number;
  /** The last input, optional. */
  readonly bias: number;
  readonly activation: number;
  /** Slot of dilation_w (dilation_h follows); undefined for ops without dilation. */
  readonly dilation?: number;
}

/** The checked operands and options of a convolution-like op (rank-4 NHWC input and filter). */
export interface ConvOperands {
  readonly x: TensorDef;
  readonly w: TensorDef;
  readonly bias: TensorDef | undefined;
  readonly y: TensorDef;
  readonly opts: ConvOptions;
}

/** Checks arity and ranks, reads the options, and returns operands and options. */
export function convOperands(node: NodeInfo, at: ConvLayout): ConvOperands {
  expectArity(node, [at.bias, at.bias + 1], 1);
  const x = input(node, at.input);
  const w = input(node, at.filter);
  const bias = node.inputs[at.bias];
  const y = output(node, 0);
  expectRank(node, x, 'input', 4);
  expectRank(node, w, 'filter', 4);
  return { x, w, bias, y, opts: convOptions(node, at.activation, at.dilation) };
}

/** Padding, strides, fused activation and dilations of a convolution-like op. */
export interface ConvOptions {
  readonly padding: number;
  readonly strideW: number;
  readonly strideH: number;
  readonly act: number;
  readonly dilW: number;
  readonly dilH: number;
}

/**
 * Reads and checks the options shared by CONV_2D, DEPTHWISE_CONV_2D and TRANSPOSE_CONV: padding
 * and strides in slots 0-2, the activation at `actSlot`, and dilations (w, h) from
 * `dilationSlot` when the op has them (1 otherwise).
 */
function convOptions(node: NodeInfo, actSlot: number, dilationSlot?: number): ConvOptions {
  const opts = options(node);
  const padding = paddingOption(node, opts.i8(0, Padding.SAME));
  const strideW = opts.i32(1, 1);
  const strideH = opts.i32(2, 1);
  const act = activation(node, opts.i8(actSlot, Activation.NONE));
  if (dilationSlot === undefined) {
    if (strideW < 1 || strideH < 1) fail(node, 'strides must be positive');
    return { padding, strideW, strideH, act, dilW: 1, dilH: 1 };
  }
  const dilW = opts.i32(dilationSlot, 1);
  const dilH = opts.i32(dilationSlot + 1, 1);
  if (strideW < 1 || strideH < 1 || dilW < 1 || dilH < 1)
    fail(node, 'strides and dilations must be positive');
  return { padding, strideW, strideH, act, dilW, dilH };
}

/**
 * The loop geometry of a convolution over `x` with an fH × fW filter producing `outC` channels,
 * checking that the output has the shape TFLite's padding rules give.
 */
export function convGeometry(
  node: NodeInfo,
  x: TensorDef,
  y: TensorDef,
  o: ConvOptions,
  filter: {
    readonly fH: number;
    readonly fW: number;
    readonly outC: number;
    readonly mult: number;
  },
): ConvGeometry {
  const [batches, inH, inW, inC] = x.shape as [number, number, number, number];
  const { fH, fW, outC, mult } = filter;
  const ph = computePadding(o.padding, inH, fH, o.strideH, o.dilH);
  const pw = computePadding(o.padding, inW, fW, o.strideW, o.dilW);
  expectShape(node, y, 'output', [batches, ph.out, pw.out, outC]);
  return {
    batches,
    inH,
    inW,
    inC,
    outH: ph.out,
    outW: pw.out,
    outC,
    fH,
    fW,
    strideH: o.strideH,
    strideW: o.strideW,
    dilH: o.dilH,
    dilW: o.dilW,
    padH: ph.pad,
    padW: pw.pad,
    mult,
  };
}

/** Float32 weights and output, float bias (zeros when absent) and the fused activation's range. */
export function floatWeighted(
  node: NodeInfo,
  w: TensorDef,
  y: TensorDef,
  bias: TensorDef | undefined,
  channels: number,
  act: number,
  weightsRole: 'filter' | 'weights',
): { bias: Float32Array; lo: number; hi: number } {
  expectType(node, w, weightsRole, ['float32']);
  expectType(node, y, 'output', ['float32']);
  const b = floatBias(node, bias, channels);
  const [lo, hi] = activationRangeFloat(act);
  return { bias: b, lo, hi };
}

/**
 * Checks the tensor types of an int8/int16 op with int8 weights: the output has the input's
 * type, the bias is int32 (int8) or int32/int64 (int16).
 */
export function expectQuantWeighted(
  node: NodeInfo,
  x: TensorDef,
  w: TensorDef,
  y: TensorDef,
  bias: TensorDef | undefined,
  weightsRole: 'filter' | 'weights',
): void {
  expectType(node, x, 'input', ['int8', 'int16']);
  expectType(node, w, weightsRole, ['int8']);
  expectType(node, y, 'output', [x.dtype]);
  if (bias !== undefined)
    expectType(node, bias, 'bias', x.dtype === 'int8' ? ['int32'] : ['int32', 'int64']);
}

/** Requantization parameters of a convolution-like op (TFLite's PopulateConvolutionQuantizationParams). */
export interface ConvQuant {
  readonly multipliers: Int32Array;
  readonly shifts: Int32Array;
  readonly inputOffset: number;
  readonly outputOffset: number;
  readonly actMin: number;
  readonly actMax: number;
  /** Bias values as exact integers (zeros when absent). */
  readonly bias: Float64Array;
  /** int16 input with an int64 (or absent) bias: accumulators are int64, not int32. */
  readonly wide: boolean;
}

/**
 * Checks types and computes per-channel multipliers from input, filter and output scales (in
 * double precision), offsets, activation range and bias of a quantized convolution-like op.
 */
export function convQuant(
  node: NodeInfo,
  operands: ConvOperands,
  channels: number,
  axis: number,
): ConvQuant {
  const { x, w, bias, y, opts } = operands;
  expectQuantWeighted(node, x, w, y, bias, 'filter');
  const inQ = quantParams(node, x);
  const outQ = quantParams(node, y);
  const scales = channelScales(node, w, channels, axis);
  if (w.quant!.zeroPoint.some((z) => z !== 0))
    fail(node, `filter "${w.name}" must have zero points of 0`);
  const { multipliers, shifts } = quantizeMultipliers(
    channels,
    (c) => (inQ.scale * scales[c]!) / outQ.scale,
  );
  const [actMin, actMax] = activationRangeQuantized(node, opts.act, y);
  return {
    multipliers,
    shifts,
    inputOffset: -inQ.zeroPoint,
    outputOffset: outQ.zeroPoint,
    actMin,
    actMax,
    bias: biasValues(node, bias, channels),
    wide: x.dtype === 'int16' && bias?.dtype !== 'int32',
  };
}

/** Consecutive scratch regions of the SIMD heap, each 16-byte aligned. */
export interface ScratchLayout<T extends readonly number[]> {
  /** Bytes all regions take. */
  readonly total: number;
  /** Each region's absolute offset, given where the heap's scratch starts (known at bind). */
  at(scratch: number): { -readonly [K in keyof T]: number };
}

/** Lays out scratch regions of the given sizes in bytes, in order. */
export function scratchLayout<const T extends readonly number[]>(sizes: T): ScratchLayout<T> {
  const offsets: number[] = [];
  let total = 0;
  for (const size of sizes) {
    offsets.push(total);
    total += Math.ceil(size / 16) * 16;
  }
  return {
    total,
    at: (scratch) => offsets.map((o) => scratch + o) as { -readonly [K in keyof T]: number },
  };
}

/** Where an int8 kernel's constant weights and `requant8` parameters sit in the SIMD heap. */
export interface RequantSimd<T extends readonly number[]> {
  readonly weights: number;
  readonly bias: number;
  readonly mult: number;
  readonly shift: number;
  readonly layout: ScratchLayout<T>;
}

/**
 * Reserves an int8 kernel's weights and per-channel bias, multipliers and shifts (for
 * `requant8`) in the SIMD heap, and declares its scratch regions.
 */
export function reserveRequantSimd<const T extends readonly number[]>(
  simd: SimdHeap,
  weights: Uint8Array,
  q: { readonly bias: Float64Array; readonly multipliers: Int32Array; readonly shifts: Int32Array },
  scratch: T,
): RequantSimd<T> {
  const bytes = (a: Int32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const layout = scratchLayout(scratch);
  simd.needScratch(layout.total);
  return {
    weights: simd.reserve(weights),
    bias: simd.reserve(bytes(Int32Array.from(q.bias))),
    mult: simd.reserve(bytes(q.multipliers)),
    shift: simd.reserve(bytes(q.shifts)),
    layout,
  };
}

/**
 * An int8 op's input and output as session views and as their copies in the SIMD heap (at
 * `inOff` and `outOff`): the run loop copies the input in and the output out once per invoke.
 */
export function int8HeapIo(
  v: TensorViews,
  s: SimdBinding,
  x: TensorDef,
  y: TensorDef,
  inOff: number,
  outOff: number,
): { xd: Int8Array; yd: Int8Array; heapIn: Int8Array; heapOut: Int8Array } {
  return {
    xd: v.i8(x),
    yd: v.i8(y),
    heapIn: new Int8Array(s.memory, inOff, x.elements),
    heapOut: new Int8Array(s.memory, outOff, y.elements),
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
