import type { TensorDef } from '../model-reader.js';
import { logistic16, tanh16 } from '../int16-activations.js';
import {
  multiplyByQuantizedMultiplier,
  quantizeMultiplier,
  roundHalfAway,
} from '../quantization.js';
import { Activation } from '../schema.js';
import { floatLogistic } from './activation-common.js';
import { scratchLayout, type ScratchLayout } from './conv-common.js';
import {
  biasValues,
  expectType,
  fail,
  floatBias,
  options,
  output,
  quantParams,
  type Kernel,
  type NodeInfo,
  type PreparedNode,
  type SimdBinding,
  type TensorViews,
} from './kernel.js';

/** Input slots of UNIDIRECTIONAL_SEQUENCE_LSTM (24 inputs). */
const IN = {
  input: 0,
  inputWeights: [1, 2, 3, 4] as const, // input, forget, cell, output gates
  recurrentWeights: [5, 6, 7, 8] as const,
  biases: [12, 13, 14, 15] as const,
  hidden: 18,
  cell: 19,
};
const ABSENT = [9, 10, 11, 16, 17, 20, 21, 22, 23];
/** Gate order used below: forget, input, cell, output (the order TFLM evaluates them). */
const GATES = [1, 0, 2, 3] as const;

/**
 * UNIDIRECTIONAL_SEQUENCE_LSTM without peepholes, projection or layer norm, as TFLM runs it:
 * float32, or int8 activations with int8 weights, int32 biases and an int16 cell state.
 * State lives in the hidden and cell variable tensors, so it persists per session until reset().
 */
export const unidirectionalSequenceLstm: Kernel = {
  name: 'UNIDIRECTIONAL_SEQUENCE_LSTM',
  versions: [1, 3],
  types: ['float32', 'int8 (int16 cell state)'],
  prepare(node): PreparedNode {
    if (node.inputs.length !== 24 || node.outputs.length !== 1)
      fail(
        node,
        `expected 24 inputs and 1 output, got ${node.inputs.length} and ${node.outputs.length}`,
      );
    const need = (i: number): TensorDef => node.inputs[i] ?? fail(node, `input ${i} is missing`);
    for (const i of ABSENT)
      if (node.inputs[i] !== undefined)
        fail(node, `input ${i} (peephole, projection or layer norm) is not supported`);
    const x = need(IN.input);
    const hidden = need(IN.hidden);
    const cell = need(IN.cell);
    const y = output(node, 0);
    if (!hidden.isVariable || !cell.isVariable)
      fail(node, 'hidden and cell state inputs must be variable tensors');
    const opts = options(node);
    const act = opts.i8(0, Activation.TANH);
    if (act !== Activation.TANH)
      fail(node, `cell activation ${act} is not supported (expected TANH)`);
    const cellClip = Math.fround(opts.f32(1, 0));
    if (opts.f32(2, 0) !== 0) fail(node, 'proj_clip is not supported');
    const timeMajor = opts.bool(3, false);
    if (x.shape.length !== 3) fail(node, `input must be 3-D, got [${x.shape.join(', ')}]`);
    const batch = timeMajor ? x.shape[1]! : x.shape[0]!;
    const steps = timeMajor ? x.shape[0]! : x.shape[1]!;
    const inputDim = x.shape[2]!;
    const units = hidden.shape[hidden.shape.length - 1]!;
    if (hidden.elements !== batch * units || cell.elements !== batch * units)
      fail(node, 'state sizes do not match batch × units');
    if (y.elements !== batch * steps * units)
      fail(node, 'output size does not match batch × time × units');
    const wIn = IN.inputWeights.map(need);
    const wRec = IN.recurrentWeights.map(need);
    const biases = IN.biases.map(need);
    for (const w of wIn)
      if (w.elements !== units * inputDim)
        fail(node, `weights "${w.name}" must be [${units}, ${inputDim}]`);
    for (const w of wRec)
      if (w.elements !== units * units)
        fail(node, `weights "${w.name}" must be [${units}, ${units}]`);
    const n = units;
    // Offsets of step (b, t) into input, output and state, as TFLM's LstmStepManager walks them.
    const inputAt = (b: number, t: number): number =>
      timeMajor ? t * batch * inputDim + b * inputDim : (b * steps + t) * inputDim;
    const outputAt = (b: number, t: number): number =>
      timeMajor ? t * batch * units + b * units : (b * steps + t) * units;

    if (x.dtype === 'float32') {
      for (const t of [hidden, cell, y, ...wIn, ...wRec])
        expectType(node, t, `tensor`, ['float32']);
      const b = GATES.map((g) => floatBias(node, biases[g], n));
      return {
        scratchBytes: 5 * n * 4,
        bind(v) {
          const xd = v.f32(x);
          const hd = v.f32(hidden);
          const cd = v.f32(cell);
          const yd = v.f32(y);
          const wi = GATES.map((g) => v.f32(wIn[g]!));
          const wr = GATES.map((g) => v.f32(wRec[g]!));
          const gate = [0, 1, 2, 3].map((k) => new Float32Array(v.scratch, k * n * 4, n));
          const tmp = new Float32Array(v.scratch, 4 * n * 4, n);
          const fc = (
            w: Float32Array,
            src: Float32Array,
            off: number,
            depth: number,
            bias: Float32Array | undefined,
            out: Float32Array,
          ): void => {
            for (let o = 0; o < n; o++) {
              let acc = 0;
              for (let d = 0; d < depth; d++) acc += src[off + d]! * w[o * depth + d]!;
              out[o] = bias === undefined ? acc : Math.fround(acc + bias[o]!);
            }
          };
          return () => {
            for (let bi = 0; bi < batch; bi++) {
              for (let t = 0; t < steps; t++) {
                const inOff = inputAt(bi, t);
                const outOff = outputAt(bi, t);
                const stOff = bi * n;
                for (let k = 0; k < 4; k++) {
                  const gk = gate[k]!;
                  fc(wi[k]!, xd, inOff, inputDim, b[k], gk);
                  fc(wr[k]!, hd, stOff, n, undefined, tmp);
                  for (let j = 0; j < n; j++) {
                    const s = Math.fround(gk[j]! + tmp[j]!);
                    gk[j] = k === 2 ? Math.tanh(s) : floatLogistic(s);
                  }
                }
                const [f, i, c, o] = gate as [
                  Float32Array,
                  Float32Array,
                  Float32Array,
                  Float32Array,
                ];
                for (let j = 0; j < n; j++) {
                  let cs = Math.fround(
                    Math.fround(f[j]! * cd[stOff + j]!) + Math.fround(i[j]! * c[j]!),
                  );
                  if (cellClip > 0) cs = cs > cellClip ? cellClip : cs < -cellClip ? -cellClip : cs;
                  cd[stOff + j] = cs;
                  const h = Math.fround(Math.fround(Math.tanh(cs)) * o[j]!);
                  hd[stOff + j] = h;
                  yd[outOff + j] = h;
                }
              }
            }
          };
        },
      };
    }

    return prepareInt8(node, {
      x,
      hidden,
      cell,
      y,
      wIn,
      wRec,
      biases,
      n,
      inputDim,
      batch,
      steps,
      cellClip,
      inputAt,
      outputAt,
    });
  },
};

interface LstmShape {
  readonly x: TensorDef;
  readonly hidden: TensorDef;
  readonly cell: TensorDef;
  readonly y: TensorDef;
  readonly wIn: readonly TensorDef[];
  readonly wRec: readonly TensorDef[];
  readonly biases: readonly TensorDef[];
  readonly n: number;
  readonly inputDim: number;
  readonly batch: number;
  readonly steps: number;
  readonly cellClip: number;
  /** Offsets of step (b, t) into the input and the output, as TFLM's LstmStepManager walks them. */
  readonly inputAt: (b: number, t: number) => number;
  readonly outputAt: (b: number, t: number) => number;
}

function prepareInt8(node: NodeInfo, s: LstmShape): PreparedNode {
  const { x, hidden, cell, y, n, inputDim, batch, steps } = s;
  expectType(node, x, 'input', ['int8']);
  expectType(node, hidden, 'hidden state', ['int8']);
  expectType(node, cell, 'cell state', ['int16']);
  expectType(node, y, 'output', ['int8']);
  for (const w of [...s.wIn, ...s.wRec]) {
    expectType(node, w, 'weights', ['int8']);
    if ((w.quant?.scale.length ?? 0) !== 1)
      fail(node, `weights "${w.name}" must be quantized per tensor`);
  }
  for (const b of s.biases) expectType(node, b, 'bias', ['int32']);
  const gateScale = 2 ** -12;
  const qx = quantParams(node, x);
  const qh = quantParams(node, hidden);
  const qc = quantParams(node, cell);
  // FC params of each gate: per-tensor multiplier from the float product of scales, as TFLM.
  const fcParams = (src: { scale: number; zeroPoint: number }, w: TensorDef) => {
    const qw = quantParams(node, w);
    if (qw.zeroPoint !== 0) fail(node, `weights "${w.name}" must have zero point 0`);
    return {
      ...quantizeMultiplier(Math.fround(src.scale * qw.scale) / gateScale),
      inOffset: -src.zeroPoint,
    };
  };
  const inFc = GATES.map((g) => fcParams(qx, s.wIn[g]!));
  const recFc = GATES.map((g) => fcParams(qh, s.wRec[g]!));
  const bias = GATES.map((g) => biasValues(node, s.biases[g], n));
  const nonlinearOut = 2 ** -15;
  const forgetCellMul = quantizeMultiplier((nonlinearOut * qc.scale) / qc.scale);
  const inputMul = quantizeMultiplier((nonlinearOut * nonlinearOut) / qc.scale);
  const outputMul = quantizeMultiplier((nonlinearOut * nonlinearOut) / qh.scale);
  const cellPower = roundHalfAway(Math.log2(qc.scale));
  const quantizedClip = Math.trunc(Math.min(Math.max(s.cellClip / qc.scale, -32768), 32767));
  let tanhShift = 15 + cellPower - 3;
  let tanhMultiplier = 0;
  if (tanhShift < 0) {
    tanhShift = -tanhShift;
    tanhMultiplier = 3;
  }
  const sat16 = (value: number): number =>
    value < -32768 ? -32768 : value > 32767 ? 32767 : value;
  /** Combines the input and recurrent products of gate k, unit j, as TFLM's gate FCs and add. */
  const combine = (k: number, inAcc: number, recAcc: number): number => {
    const pi = inFc[k]!;
    const pr = recFc[k]!;
    const a = sat16(multiplyByQuantizedMultiplier(inAcc | 0, pi.multiplier, pi.shift));
    const r = sat16(multiplyByQuantizedMultiplier(recAcc | 0, pr.multiplier, pr.shift));
    return sat16(a + r);
  };
  const xOffset = -qx.zeroPoint;
  const hOffset = -qh.zeroPoint;

  /** Gate pre-activations in JS: Σ w·(x + offset) folded as Σ w·x + offset·Σ w. */
  const jsGates = (
    v: TensorViews,
    xd: Int8Array,
    hd: Int8Array,
    gate: Int16Array[],
  ): ((inOff: number, stOff: number) => void) => {
    const wi = GATES.map((g) => v.i8(s.wIn[g]!));
    const wr = GATES.map((g) => v.i8(s.wRec[g]!));
    const rowSums = (w: Int8Array, depth: number): Int32Array => {
      const sums = new Int32Array(n);
      for (let o = 0; o < n; o++)
        for (let d = 0; d < depth; d++) sums[o] = sums[o]! + w[o * depth + d]!;
      return sums;
    };
    const inSums = wi.map((w) => rowSums(w, inputDim));
    const recSums = wr.map((w) => rowSums(w, n));
    return (inOff, stOff) => {
      for (let k = 0; k < 4; k++) {
        const gk = gate[k]!;
        const wik = wi[k]!;
        const wrk = wr[k]!;
        const bk = bias[k]!;
        for (let o = 0; o < n; o++) {
          const inAcc =
            dot8(wik, o * inputDim, xd, inOff, inputDim) + xOffset * inSums[k]![o]! + bk[o]!;
          const recAcc = dot8(wrk, o * n, hd, stOff, n) + hOffset * recSums[k]![o]!;
          gk[o] = combine(k, inAcc, recAcc);
        }
      }
    };
  };

  /** Gate pre-activations with the wasm SIMD matvec: all four gates' rows are stacked. */
  const simdGates = (
    sb: SimdBinding,
    plan: SimdPlan,
    xd: Int8Array,
    hd: Int8Array,
    gate: Int16Array[],
  ): ((inOff: number, stOff: number) => void) => {
    const [in8, xoOff, hoOff, accInOff, accRecOff] = plan.layout.at(sb.scratch);
    const heapIn = new Int8Array(sb.memory, in8, x.elements);
    const ho = new Int16Array(sb.memory, hoOff, n);
    const accIn = new Int32Array(sb.memory, accInOff, 4 * n);
    const accRec = new Int32Array(sb.memory, accRecOff, 4 * n);
    const { matvec, widen8 } = sb.exports;
    return (inOff, stOff) => {
      // Every invoke starts at offset 0: widen the whole input sequence once, then.
      if (inOff === 0) {
        heapIn.set(xd);
        widen8(in8, xoOff, x.elements, xOffset);
      }
      for (let j = 0; j < n; j++) ho[j] = hd[stOff + j]! + hOffset;
      matvec(plan.wIn, xoOff + inOff * 2, inputDim, 4 * n, accInOff);
      matvec(plan.wRec, hoOff, n, 4 * n, accRecOff);
      for (let k = 0; k < 4; k++) {
        const gk = gate[k]!;
        const bk = bias[k]!;
        for (let j = 0; j < n; j++)
          gk[j] = combine(k, accIn[k * n + j]! + bk[j]!, accRec[k * n + j]!);
      }
    };
  };

  const simd = node.simd;
  let simdPlan: SimdPlan | undefined;
  const constantWeights = [...s.wIn, ...s.wRec].every((w) => w.data !== undefined);
  if (simd !== undefined && constantWeights) {
    const stack = (ws: readonly TensorDef[]): Uint8Array => {
      const out = new Uint8Array(ws.reduce((total, w) => total + w.bytes, 0));
      let at = 0;
      for (const g of GATES) {
        out.set(ws[g]!.data!, at);
        at += ws[g]!.bytes;
      }
      return out;
    };
    simdPlan = {
      wIn: simd.reserve(stack(s.wIn)),
      wRec: simd.reserve(stack(s.wRec)),
      layout: scratchLayout([x.elements, x.elements * 2, n * 2, 4 * n * 4, 4 * n * 4]),
    };
    simd.needScratch(simdPlan.layout.total);
  }
  return {
    scratchBytes: 5 * n * 2,
    bind(v) {
      const xd = v.i8(x);
      const hd = v.i8(hidden);
      const cd = v.i16(cell);
      const yd = v.i8(y);
      const gate = [0, 1, 2, 3].map((k) => new Int16Array(v.scratch, k * n * 2, n));
      const preactivations =
        v.simd !== undefined && simdPlan !== undefined
          ? simdGates(v.simd, simdPlan, xd, hd, gate)
          : jsGates(v, xd, hd, gate);
      const sat16 = (value: number): number =>
        value < -32768 ? -32768 : value > 32767 ? 32767 : value;
      return () => {
        for (let bi = 0; bi < batch; bi++) {
          for (let t = 0; t < steps; t++) {
            const inOff = s.inputAt(bi, t);
            const outOff = s.outputAt(bi, t);
            const stOff = bi * n;
            preactivations(inOff, stOff);
            for (let k = 0; k < 4; k++) {
              const gk = gate[k]!;
              for (let j = 0; j < n; j++)
                gk[j] = k === 2 ? tanh16(gk[j]!, 0, 0) : logistic16(gk[j]!, 0, 0);
            }
            const [f, i, c, o] = gate as [Int16Array, Int16Array, Int16Array, Int16Array];
            for (let j = 0; j < n; j++) {
              const kept = sat16(
                multiplyByQuantizedMultiplier(
                  f[j]! * cd[stOff + j]!,
                  forgetCellMul.multiplier,
                  forgetCellMul.shift,
                ),
              );
              const added = sat16(
                multiplyByQuantizedMultiplier(i[j]! * c[j]!, inputMul.multiplier, inputMul.shift),
              );
              let cs = sat16(kept + added);
              if (s.cellClip > 0)
                cs = cs > quantizedClip ? quantizedClip : cs < -quantizedClip ? -quantizedClip : cs;
              cd[stOff + j] = cs;
              const th = tanh16(cs, tanhMultiplier, tanhShift);
              const h =
                multiplyByQuantizedMultiplier(th * o[j]!, outputMul.multiplier, outputMul.shift) +
                qh.zeroPoint;
              const hq = h < -128 ? -128 : h > 127 ? 127 : h;
              hd[stOff + j] = hq;
              yd[outOff + j] = hq;
            }
          }
        }
      };
    },
  };
}

/** Σ w[wOff + d] · x[xOff + d] over `depth` int8 values, with int32 wrap-around. */
function dot8(w: Int8Array, wOff: number, x: Int8Array, xOff: number, depth: number): number {
  let a0 = 0;
  let a1 = 0;
  let d = 0;
  for (; d + 1 < depth; d += 2) {
    a0 = (a0 + w[wOff + d]! * x[xOff + d]!) | 0;
    a1 = (a1 + w[wOff + d + 1]! * x[xOff + d + 1]!) | 0;
  }
  if (d < depth) a0 = (a0 + w[wOff + d]! * x[xOff + d]!) | 0;
  return (a0 + a1) | 0;
}

interface SimdPlan {
  readonly wIn: number;
  readonly wRec: number;
  readonly layout: ScratchLayout<readonly [number, number, number, number, number]>;
}
