/**
 * Rebuilds a float TFLite network as an ONNX model with the same weights, so that one network in
 * both formats can be run by both engines (tests only). Covers the ops of small float CNNs and
 * MLPs: CONV_2D, DEPTHWISE_CONV_2D, MAX_POOL_2D, AVERAGE_POOL_2D, FULLY_CONNECTED, RESHAPE,
 * SOFTMAX and fused activations. Activations stay NHWC as in TFLite; each convolution or pooling
 * is wrapped in transposes to ONNX's NCHW (onnxruntime folds them).
 */
import type { Table } from '../tflite/flatbuffer.js';
import { readModel, type TensorDef } from '../tflite/model-reader.js';
import { Activation, Padding } from '../tflite/schema.js';
import { OnnxGraphBuilder } from './model-builder.js';

// Option-table field ids of the TFLite schema (Conv2DOptions, DepthwiseConv2DOptions,
// Pool2DOptions, FullyConnectedOptions, SoftmaxOptions).
const CONV = { padding: 0, strideW: 1, strideH: 2, activation: 3, dilationW: 4, dilationH: 5 };
const DEPTHWISE = { padding: 0, strideW: 1, strideH: 2, activation: 4, dilationW: 5, dilationH: 6 };
const POOL = { padding: 0, strideW: 1, strideH: 2, filterW: 3, filterH: 4, activation: 5 };
const FULLY_CONNECTED = { activation: 0 };
const SOFTMAX = { beta: 0 };

function floatsOf(tensor: TensorDef): Float32Array {
  if (tensor.data === undefined || tensor.dtype !== 'float32') {
    throw new Error(
      `Cannot convert: tensor ${tensor.index} ("${tensor.name}") is not float32 constant data`,
    );
  }
  return new Float32Array(new Uint8Array(tensor.data).buffer);
}

/** Reorders a [d0, d1, d2, d3] float array by `perm` (e.g. OHWI → OIHW). */
function permute4(
  data: Float32Array,
  dims: readonly number[],
  perm: readonly number[],
): Float32Array {
  const out = new Float32Array(data.length);
  const outDims = perm.map((p) => dims[p]!);
  const strides = [dims[1]! * dims[2]! * dims[3]!, dims[2]! * dims[3]!, dims[3]!, 1];
  let o = 0;
  const idx = [0, 0, 0, 0];
  for (idx[0] = 0; idx[0] < outDims[0]!; idx[0]++)
    for (idx[1] = 0; idx[1] < outDims[1]!; idx[1]++)
      for (idx[2] = 0; idx[2] < outDims[2]!; idx[2]++)
        for (idx[3] = 0; idx[3] < outDims[3]!; idx[3]++) {
          let src = 0;
          for (let k = 0; k < 4; k++) src += idx[k]! * strides[perm[k]!]!;
          out[o++] = data[src]!;
        }
  return out;
}

/** Converts a single-subgraph float TFLite model to ONNX (opset 13). */
export function tfliteToOnnx(bytes: Uint8Array): Uint8Array {
  const model = readModel(bytes);
  const g = new OnnxGraphBuilder('from_tflite');
  const name = (index: number) => `t${index}`;
  const tensor = (index: number) => model.tensors[index]!;
  for (const i of model.inputs) g.input(name(i), tensor(i).dtype, tensor(i).shape);
  for (const i of model.outputs) g.output(name(i), tensor(i).dtype, tensor(i).shape);
  g.floats('relu6_max', [], Float32Array.of(6)).floats('zero', [], Float32Array.of(0));
  g.floats('minus_one', [], Float32Array.of(-1)).floats('one', [], Float32Array.of(1));

  let step = 0;
  const activate = (x: string, out: string, activation: number) => {
    switch (activation) {
      case Activation.NONE:
        g.node('Identity', [x], [out]);
        return;
      case Activation.RELU:
        g.node('Relu', [x], [out]);
        return;
      case Activation.RELU6:
        g.node('Clip', [x, 'zero', 'relu6_max'], [out]);
        return;
      case Activation.RELU_N1_TO_1:
        g.node('Clip', [x, 'minus_one', 'one'], [out]);
        return;
      default:
        throw new Error(`Cannot convert: fused activation ${activation}`);
    }
  };
  // Runs an NCHW op on an NHWC tensor and returns the NHWC result's name before activation.
  const inNchw = (x: string, op: (nchw: string, out: string) => void): string => {
    const s = step++;
    g.node('Transpose', [x], [`nchw_${s}`], { perm: { ints: [0, 3, 1, 2] } });
    op(`nchw_${s}`, `op_${s}`);
    g.node('Transpose', [`op_${s}`], [`nhwc_${s}`], { perm: { ints: [0, 2, 3, 1] } });
    return `nhwc_${s}`;
  };
  const autoPad = (options: Table | undefined, slot: number) => ({
    string:
      (options?.u8(slot, Padding.SAME) ?? Padding.SAME) === Padding.SAME ? 'SAME_UPPER' : 'VALID',
  });

  for (const op of model.operators) {
    const o = op.options;
    const [x, w, b] = op.inputs;
    const out = name(op.outputs[0]!);
    switch (op.opcode.name) {
      case 'CONV_2D':
      case 'DEPTHWISE_CONV_2D': {
        const depthwise = op.opcode.name === 'DEPTHWISE_CONV_2D';
        const slots = depthwise ? DEPTHWISE : CONV;
        const weights = tensor(w!);
        const [d0, kh, kw, d3] = weights.shape as [number, number, number, number];
        const inChannels = tensor(x!).shape[3]!;
        // TFLite: OHWI, or [1, H, W, C·M] for depthwise; ONNX: OIHW with I = channels per group.
        const onnxWeights = depthwise
          ? permute4(floatsOf(weights), weights.shape, [3, 0, 1, 2])
          : permute4(floatsOf(weights), weights.shape, [0, 3, 1, 2]);
        const outChannels = depthwise ? d3 : d0;
        g.floats(`w${op.index}`, [outChannels, depthwise ? 1 : d3, kh, kw], onnxWeights);
        const inputs = [name(x!), `w${op.index}`];
        if (b !== undefined && b >= 0) {
          g.floats(`b${op.index}`, [outChannels], floatsOf(tensor(b)));
          inputs.push(`b${op.index}`);
        }
        const raw = inNchw(name(x!), (nchw, result) =>
          g.node('Conv', [nchw, ...inputs.slice(1)], [result], {
            kernel_shape: { ints: [kh, kw] },
            strides: { ints: [o?.i32(slots.strideH, 1) ?? 1, o?.i32(slots.strideW, 1) ?? 1] },
            dilations: { ints: [o?.i32(slots.dilationH, 1) ?? 1, o?.i32(slots.dilationW, 1) ?? 1] },
            group: { int: depthwise ? inChannels : 1 },
            auto_pad: autoPad(o, slots.padding),
          }),
        );
        activate(raw, out, o?.u8(slots.activation, 0) ?? 0);
        break;
      }
      case 'MAX_POOL_2D':
      case 'AVERAGE_POOL_2D': {
        const raw = inNchw(name(x!), (nchw, result) =>
          g.node(op.opcode.name === 'MAX_POOL_2D' ? 'MaxPool' : 'AveragePool', [nchw], [result], {
            kernel_shape: { ints: [o?.i32(POOL.filterH, 1) ?? 1, o?.i32(POOL.filterW, 1) ?? 1] },
            strides: { ints: [o?.i32(POOL.strideH, 1) ?? 1, o?.i32(POOL.strideW, 1) ?? 1] },
            auto_pad: autoPad(o, POOL.padding),
          }),
        );
        activate(raw, out, o?.u8(POOL.activation, 0) ?? 0);
        break;
      }
      case 'FULLY_CONNECTED': {
        const weights = tensor(w!);
        const [units, depth] = weights.shape as [number, number];
        g.int64s(`shape${op.index}`, [-1, depth]);
        g.node('Reshape', [name(x!), `shape${op.index}`], [`flat${op.index}`]);
        g.floats(`w${op.index}`, [units, depth], floatsOf(weights));
        const inputs = [`flat${op.index}`, `w${op.index}`];
        if (b !== undefined && b >= 0) {
          g.floats(`b${op.index}`, [units], floatsOf(tensor(b)));
          inputs.push(`b${op.index}`);
        }
        g.node('Gemm', inputs, [`fc${op.index}`], { transB: { int: 1 } });
        activate(`fc${op.index}`, out, o?.u8(FULLY_CONNECTED.activation, 0) ?? 0);
        break;
      }
      case 'RESHAPE':
        g.int64s(`shape${op.index}`, tensor(op.outputs[0]!).shape);
        g.node('Reshape', [name(x!), `shape${op.index}`], [out]);
        break;
      case 'SOFTMAX': {
        const beta = o?.f32(SOFTMAX.beta, 1) ?? 1;
        g.floats(`beta${op.index}`, [], Float32Array.of(beta));
        g.node('Mul', [name(x!), `beta${op.index}`], [`scaled${op.index}`]);
        g.node('Softmax', [`scaled${op.index}`], [out], { axis: { int: -1 } });
        break;
      }
      default:
        throw new Error(`Cannot convert: operator ${op.opcode.name} is not covered`);
    }
  }
  return g.build({ opset: 13 });
}
