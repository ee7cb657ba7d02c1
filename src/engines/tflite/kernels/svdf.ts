import { multiplyByQuantizedMultiplier, quantizeMultiplier } from '../quantization.js';
import { Activation } from '../schema.js';
import {
  activation,
  activationRangeFloat,
  biasValues,
  expectArity,
  expectType,
  fail,
  floatBias,
  input,
  options,
  output,
  quantParams,
  typeRange,
  type Kernel,
  type PreparedNode,
} from './kernel.js';

/**
 * SVDF (rank-factored time convolution): each step shifts the activation state left by one,
 * writes feature-weights · input into the newest column, then reduces the state with the time
 * weights. The state is a variable tensor, so it persists per session until reset(). As in
 * TFLM, the integer path applies no fused activation (only the int8 output range).
 */
export const svdf: Kernel = {
  name: 'SVDF',
  versions: [1, 4],
  types: ['float32', 'int8 (int8 or int16 state)'],
  prepare(node): PreparedNode {
    expectArity(node, [5, 5], 1);
    const x = input(node, 0);
    const wf = input(node, 1);
    const wt = input(node, 2);
    const bias = node.inputs[3];
    const state = input(node, 4);
    const y = output(node, 0);
    if (!state.isVariable) fail(node, `activation state "${state.name}" must be a variable tensor`);
    const opts = options(node);
    const rank = opts.i32(0, 0);
    const act = activation(node, opts.i8(1, Activation.NONE));
    if (x.shape.length !== 2 || wf.shape.length !== 2 || wt.shape.length !== 2)
      fail(node, 'input and weights must be 2-D');
    const [batch, inputSize] = x.shape as [number, number];
    const filters = wf.shape[0]!;
    if (rank < 1 || filters % rank !== 0)
      fail(node, `rank ${rank} does not divide ${filters} filters`);
    const units = filters / rank;
    const memory = wt.shape[1]!;
    if (wf.shape[1] !== inputSize || wt.shape[0] !== filters)
      fail(node, 'weight shapes do not match the input and each other');
    if (y.elements !== batch * units) fail(node, `output must have ${batch * units} elements`);
    if (state.elements !== batch * filters * memory)
      fail(node, `state must have ${batch * filters * memory} elements`);
    const stateLen = state.elements;

    if (x.dtype === 'float32') {
      for (const t of [wf, wt, state, y]) expectType(node, t, 'tensor', ['float32']);
      const b = floatBias(node, bias, units);
      const [lo, hi] = activationRangeFloat(act);
      return {
        scratchBytes: filters * 4,
        bind(v) {
          const xd = v.f32(x);
          const wfd = v.f32(wf);
          const wtd = v.f32(wt);
          const sd = v.f32(state);
          const yd = v.f32(y);
          const scratch = new Float32Array(v.scratch, 0, filters);
          return () => {
            sd.copyWithin(0, 1, stateLen);
            for (let n = 0; n < batch; n++) {
              for (let f = 0; f < filters; f++) {
                let dot = 0;
                for (let k = 0; k < inputSize; k++)
                  dot += wfd[f * inputSize + k]! * xd[n * inputSize + k]!;
                sd[(n * filters + f) * memory + memory - 1] = dot;
              }
            }
            for (let n = 0; n < batch; n++) {
              for (let f = 0; f < filters; f++) {
                let s = 0;
                const base = (n * filters + f) * memory;
                for (let j = 0; j < memory; j++) s += wtd[f * memory + j]! * sd[base + j]!;
                scratch[f] = s;
              }
              for (let u = 0; u < units; u++) {
                let o = b[u]!;
                for (let r = 0; r < rank; r++) o = Math.fround(o + scratch[u * rank + r]!);
                yd[n * units + u] = o < lo ? lo : o > hi ? hi : o;
              }
            }
          };
        },
      };
    }

    expectType(node, x, 'input', ['int8']);
    expectType(node, wf, 'feature weights', ['int8']);
    expectType(node, wt, 'time weights', ['int8', 'int16']);
    expectType(node, state, 'activation state', ['int8', 'int16']);
    expectType(node, y, 'output', ['int8']);
    if (bias !== undefined) expectType(node, bias, 'bias', ['int32']);
    const qx = quantParams(node, x);
    const qf = quantParams(node, wf);
    const qt = quantParams(node, wt);
    const qs = quantParams(node, state);
    const qy = quantParams(node, y);
    // TFLM forms both ratios in float before widening to double.
    const scale1 = quantizeMultiplier(Math.fround(Math.fround(qx.scale * qf.scale) / qs.scale));
    const scale2 = quantizeMultiplier(Math.fround(Math.fround(qs.scale * qt.scale) / qy.scale));
    const [stateMin, stateMax] = typeRange(state.dtype);
    const b = biasValues(node, bias, units);
    return {
      scratchBytes: filters * 4,
      bind(v) {
        const xd = v.i8(x);
        const wfd = v.i8(wf);
        const wtd = wt.dtype === 'int8' ? v.i8(wt) : v.i16(wt);
        const sd = state.dtype === 'int8' ? v.i8(state) : v.i16(state);
        const yd = v.i8(y);
        const scratch = new Int32Array(v.scratch, 0, filters);
        const shape: SvdfShape = { batch, inputSize, filters, units, rank, memory };
        const q: SvdfQuant = {
          inputZeroPoint: qx.zeroPoint,
          stateZeroPoint: qs.zeroPoint,
          outputZeroPoint: qy.zeroPoint,
          m1: scale1.multiplier,
          s1: scale1.shift,
          m2: scale2.multiplier,
          s2: scale2.shift,
          stateMin,
          stateMax,
        };
        return () => {
          sd.copyWithin(0, 1, stateLen);
          svdfInt(shape, q, xd, wfd, wtd, sd, b, scratch, yd);
        };
      },
    };
  },
};

interface SvdfShape {
  readonly batch: number;
  readonly inputSize: number;
  readonly filters: number;
  readonly units: number;
  readonly rank: number;
  readonly memory: number;
}

interface SvdfQuant {
  readonly inputZeroPoint: number;
  readonly stateZeroPoint: number;
  readonly outputZeroPoint: number;
  readonly m1: number;
  readonly s1: number;
  readonly m2: number;
  readonly s2: number;
  readonly stateMin: number;
  readonly stateMax: number;
}

/** The integer SVDF step after the state shift (a top-level function, see ConvGeometry). */
function svdfInt(
  shape: SvdfShape,
  q: SvdfQuant,
  xd: Int8Array,
  wfd: Int8Array,
  wtd: Int8Array | Int16Array,
  sd: Int8Array | Int16Array,
  bias: Float64Array,
  scratch: Int32Array,
  yd: Int8Array,
): void {
  const { batch, inputSize, filters, units, rank, memory } = shape;
  const { inputZeroPoint, stateZeroPoint, outputZeroPoint, m1, s1, m2, s2, stateMin, stateMax } = q;
  for (let n = 0; n < batch; n++) {
    const xb = n * inputSize;
    for (let f = 0; f < filters; f++) {
      const wb = f * inputSize;
      let dot = 0;
      for (let k = 0; k < inputSize; k++)
        dot = (dot + wfd[wb + k]! * (xd[xb + k]! - inputZeroPoint)) | 0;
      dot = multiplyByQuantizedMultiplier(dot, m1, s1);
      dot = dot < stateMin ? stateMin : dot > stateMax ? stateMax : dot;
      // The typed-array store wraps like C's conversion to the state type.
      sd[(n * filters + f) * memory + memory - 1] = stateZeroPoint + dot;
    }
  }
  for (let n = 0; n < batch; n++) {
    for (let f = 0; f < filters; f++) {
      let s = 0;
      const base = (n * filters + f) * memory;
      const wb = f * memory;
      for (let j = 0; j < memory; j++)
        s = (s + wtd[wb + j]! * (sd[base + j]! - stateZeroPoint)) | 0;
      scratch[f] = s;
    }
    for (let u = 0; u < units; u++) {
      let o = bias[u]!;
      for (let r = 0; r < rank; r++) o = (o + scratch[u * rank + r]!) | 0;
      const r = multiplyByQuantizedMultiplier(o, m2, s2) + outputZeroPoint;
      yd[n * units + u] = r < -128 ? -128 : r > 127 ? 127 : r;
    }
  }
}
