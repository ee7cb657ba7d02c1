import type { OpCodeDef } from '../model-reader.js';
import { CUSTOM_CODE, builtinName } from '../schema.js';
import { add } from './add.js';
import { averagePool2d } from './average-pool-2d.js';
import { cast } from './cast.js';
import { concatenation } from './concatenation.js';
import { conv2d } from './conv-2d.js';
import { depthwiseConv2d } from './depthwise-conv-2d.js';
import { dequantize } from './dequantize.js';
import { div } from './div.js';
import { fullyConnected } from './fully-connected.js';
import { hardSwish } from './hard-swish.js';
import type { Kernel } from './kernel.js';
import { leakyRelu } from './leaky-relu.js';
import { logistic } from './logistic.js';
import { maxPool2d } from './max-pool-2d.js';
import { mean } from './mean.js';
import { maximum } from './maximum.js';
import { minimum } from './minimum.js';
import { mul } from './mul.js';
import { pad } from './pad.js';
import { quantize } from './quantize.js';
import { relu } from './relu.js';
import { relu6 } from './relu6.js';
import { reshape } from './reshape.js';
import { softmax } from './softmax.js';
import { squeeze } from './squeeze.js';
import { stridedSlice } from './strided-slice.js';
import { sub } from './sub.js';
import { svdf } from './svdf.js';
import { tanh } from './tanh.js';
import { transpose } from './transpose.js';
import { transposeConv } from './transpose-conv.js';
import { unidirectionalSequenceLstm } from './unidirectional-sequence-lstm.js';

/** Builds the kernel table; a name registered twice is a programming error. */
export function buildKernelTable(kernels: readonly Kernel[]): ReadonlyMap<string, Kernel> {
  const table = new Map<string, Kernel>();
  for (const kernel of kernels) {
    if (table.has(kernel.name)) throw new Error(`Kernel "${kernel.name}" is registered twice`);
    table.set(kernel.name, kernel);
  }
  return table;
}

/** Every kernel, keyed by builtin name (or custom code). */
export const KERNELS = buildKernelTable([
  add,
  averagePool2d,
  cast,
  concatenation,
  conv2d,
  depthwiseConv2d,
  dequantize,
  div,
  fullyConnected,
  hardSwish,
  leakyRelu,
  logistic,
  maxPool2d,
  mean,
  maximum,
  minimum,
  mul,
  pad,
  quantize,
  relu,
  relu6,
  reshape,
  softmax,
  squeeze,
  stridedSlice,
  sub,
  svdf,
  tanh,
  transpose,
  transposeConv,
  unidirectionalSequenceLstm,
]);

/** The table key of an operator code: its builtin name, or the custom code of a CUSTOM op. */
export function kernelKey(opcode: OpCodeDef): string {
  return opcode.builtin === CUSTOM_CODE ? (opcode.custom ?? 'CUSTOM') : builtinName(opcode.builtin);
}
