/**
 * Builds ONNX models in memory for tests and benchmarks, so that no large model file is committed:
 * a small graph builder over the ONNX protobuf schema, and a MobileNetV1-shaped network with
 * seeded random weights. Field numbers are those of onnx.proto (ModelProto, GraphProto, ...).
 */
import type { DType } from '../engine.js';
import { ProtoWriter } from './protobuf.js';
import { ONNX_DATA_TYPE } from './tensor-proto.js';

/** An attribute value, tagged with its ONNX attribute type. */
export type OnnxAttribute =
  | { readonly int: number }
  | { readonly float: number }
  | { readonly ints: readonly number[] }
  | { readonly string: string };

/** An element type: a semirt dtype, or "string" (ONNX data type 8) to test models semirt refuses. */
export type OnnxElementType = DType | 'string';

/** A dimension: a fixed size, or a symbolic name for a dynamic one. */
export type OnnxDim = number | string;

// AttributeProto.AttributeType values.
const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_STRING = 3;
const ATTR_INTS = 7;

/** `shape` undefined leaves the rank unknown (no TensorShapeProto). */
function valueInfo(
  name: string,
  dtype: OnnxElementType,
  shape: readonly OnnxDim[] | undefined,
): ProtoWriter {
  const dims = new ProtoWriter();
  for (const dim of shape ?? []) {
    // TensorShapeProto.Dimension: dim_value = 1, dim_param = 2.
    const d =
      typeof dim === 'number' ? new ProtoWriter().int(1, dim) : new ProtoWriter().bytes(2, dim);
    dims.bytes(1, d);
  }
  // TypeProto.Tensor: elem_type = 1, shape = 2; TypeProto.tensor_type = 1.
  const tensorType = new ProtoWriter().int(1, dtype === 'string' ? 8 : ONNX_DATA_TYPE[dtype]);
  if (shape !== undefined) tensorType.bytes(2, dims);
  // ValueInfoProto: name = 1, type = 2.
  return new ProtoWriter().bytes(1, name).bytes(2, new ProtoWriter().bytes(1, tensorType));
}

function attribute(name: string, value: OnnxAttribute): ProtoWriter {
  // AttributeProto: name = 1, f = 2, i = 3, s = 4, ints = 8, type = 20.
  const out = new ProtoWriter().bytes(1, name);
  if ('int' in value) return out.int(3, value.int).int(20, ATTR_INT);
  if ('float' in value) return out.float(2, value.float).int(20, ATTR_FLOAT);
  if ('string' in value) return out.bytes(4, value.string).int(20, ATTR_STRING);
  return out.packedInts(8, value.ints).int(20, ATTR_INTS);
}

export interface BuildOptions {
  readonly opset?: number;
  readonly irVersion?: number;
  /** Opset versions of further domains, e.g. `{ "com.microsoft": 1 }`. */
  readonly extraOpsets?: Readonly<Record<string, number>>;
}

/** Assembles one ONNX graph and encodes it as a ModelProto. */
export class OnnxGraphBuilder {
  readonly #graph = new ProtoWriter();
  #nodes = 0;

  constructor(name: string) {
    // GraphProto.name = 2; the other fields follow (field order does not matter on the wire).
    this.#graph.bytes(2, name);
  }

  /** Declares a graph input; an undefined shape means unknown rank. */
  input(name: string, dtype: OnnxElementType, shape: readonly OnnxDim[] | undefined): this {
    this.#graph.bytes(11, valueInfo(name, dtype, shape));
    return this;
  }

  /** Declares a graph output. */
  output(name: string, dtype: OnnxElementType, shape: readonly OnnxDim[] | undefined): this {
    this.#graph.bytes(12, valueInfo(name, dtype, shape));
    return this;
  }

  /** Adds a constant tensor (weights) given as raw little-endian bytes. */
  initializer(name: string, dtype: DType, dims: readonly number[], data: Uint8Array): this {
    // TensorProto: dims = 1, data_type = 2, name = 8, raw_data = 9.
    const tensor = new ProtoWriter()
      .packedInts(1, dims)
      .int(2, ONNX_DATA_TYPE[dtype])
      .bytes(8, name)
      .bytes(9, data);
    this.#graph.bytes(5, tensor);
    return this;
  }

  /** Adds a float32 initializer. */
  floats(name: string, dims: readonly number[], values: Float32Array): this {
    return this.initializer(
      name,
      'float32',
      dims,
      new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
    );
  }

  /** Adds an int64 initializer. */
  int64s(name: string, values: readonly number[]): this {
    const data = BigInt64Array.from(values, (v) => BigInt(v));
    return this.initializer(name, 'int64', [values.length], new Uint8Array(data.buffer));
  }

  /** Adds an operator node. */
  node(
    opType: string,
    inputs: readonly string[],
    outputs: readonly string[],
    attributes: Readonly<Record<string, OnnxAttribute>> = {},
    domain = '',
  ): this {
    // NodeProto: input = 1, output = 2, name = 3, op_type = 4, attribute = 5, domain = 7.
    const node = new ProtoWriter();
    for (const input of inputs) node.bytes(1, input);
    for (const output of outputs) node.bytes(2, output);
    node.bytes(3, `${opType.toLowerCase()}_${this.#nodes++}`).bytes(4, opType);
    for (const [key, value] of Object.entries(attributes)) node.bytes(5, attribute(key, value));
    if (domain !== '') node.bytes(7, domain);
    this.#graph.bytes(1, node);
    return this;
  }

  /** Encodes the model; `opset` is the version of the default ("ai.onnx") domain. */
  build(options: BuildOptions = {}): Uint8Array {
    const { opset = 13, irVersion = 8, extraOpsets = {} } = options;
    // ModelProto: ir_version = 1, producer_name = 2, graph = 7, opset_import = 8;
    // OperatorSetIdProto: domain = 1, version = 2.
    const model = new ProtoWriter().int(1, irVersion).bytes(2, 'semirt-test').bytes(7, this.#graph);
    model.bytes(8, new ProtoWriter().int(2, opset));
    for (const [domain, version] of Object.entries(extraOpsets)) {
      model.bytes(8, new ProtoWriter().bytes(1, domain).int(2, version));
    }
    return model.finish();
  }
}

/** A small seeded generator (mulberry32): the same seed always gives the same weights. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface MobileNetOptions {
  /** Width multiplier (MobileNetV1's alpha): 1 is the full network, 0.25 a quarter of the channels. */
  readonly alpha?: number;
  /** Input height and width. */
  readonly resolution?: number;
  readonly classes?: number;
  readonly seed?: number;
}

// MobileNetV1's depthwise-separable blocks: pointwise output channels and depthwise stride.
const MOBILENET_BLOCKS: readonly (readonly [channels: number, stride: number])[] = [
  [64, 1],
  [128, 2],
  [128, 1],
  [256, 2],
  [256, 1],
  [512, 2],
  [512, 1],
  [512, 1],
  [512, 1],
  [512, 1],
  [512, 1],
  [1024, 2],
  [1024, 1],
];

/**
 * A MobileNetV1-shaped network (batch norm folded into conv biases, ReLU6 as Clip) with seeded
 * He-uniform weights. Input "input" is NHWC float32 [1, r, r, 3] like the SeSeMI example image;
 * output "output" is softmax probabilities [1, classes].
 */
export function buildMobileNetV1(options: MobileNetOptions = {}): Uint8Array {
  const { alpha = 1, resolution = 224, classes = 1001, seed = 1 } = options;
  const random = seededRandom(seed);
  const g = new OnnxGraphBuilder('mobilenet_v1');
  g.input('input', 'float32', [1, resolution, resolution, 3]);
  g.output('output', 'float32', [1, classes]);
  g.floats('relu6_min', [], Float32Array.of(0)).floats('relu6_max', [], Float32Array.of(6));
  g.node('Transpose', ['input'], ['nchw'], { perm: { ints: [0, 3, 1, 2] } });

  let layer = 0;
  const conv = (
    x: string,
    inC: number,
    outC: number,
    kernel: number,
    stride: number,
    group: number,
    act: boolean,
  ): string => {
    const fanIn = (inC / group) * kernel * kernel;
    const bound = Math.sqrt(6 / fanIn);
    const w = Float32Array.from({ length: outC * fanIn }, () => (random() * 2 - 1) * bound);
    const b = Float32Array.from({ length: outC }, () => (random() * 2 - 1) * 0.05);
    const name = `conv${layer++}`;
    g.floats(`${name}_w`, [outC, inC / group, kernel, kernel], w).floats(`${name}_b`, [outC], b);
    g.node('Conv', [x, `${name}_w`, `${name}_b`], [`${name}_out`], {
      kernel_shape: { ints: [kernel, kernel] },
      strides: { ints: [stride, stride] },
      // TensorFlow's SAME padding (extra row and column at the end), as MobileNetV1 was trained.
      auto_pad: { string: 'SAME_UPPER' },
      group: { int: group },
    });
    if (!act) return `${name}_out`;
    g.node('Clip', [`${name}_out`, 'relu6_min', 'relu6_max'], [`${name}_act`]);
    return `${name}_act`;
  };

  const width = (channels: number): number => Math.max(8, Math.round(channels * alpha));
  let channels = width(32);
  let x = conv('nchw', 3, channels, 3, 2, 1, true);
  for (const [outChannels, stride] of MOBILENET_BLOCKS) {
    x = conv(x, channels, channels, 3, stride, channels, true);
    x = conv(x, channels, width(outChannels), 1, 1, 1, true);
    channels = width(outChannels);
  }
  g.node('GlobalAveragePool', [x], ['pooled']);
  const logits = conv('pooled', channels, classes, 1, 1, 1, false);
  g.node('Flatten', [logits], ['flat'], { axis: { int: 1 } });
  g.node('Softmax', ['flat'], ['output'], { axis: { int: 1 } });
  return g.build({ opset: 13 });
}
