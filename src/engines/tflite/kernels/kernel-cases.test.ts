import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TfliteModel } from '../interpreter.js';
import {
  buildModel,
  f32Bytes,
  i32Bytes,
  type BuildModel,
  type OptionField,
} from '../model-builder.js';

/**
 * Kernel tests as data (mostly float kernels; quantized kernels are covered byte for byte by the
 * real-model goldens, plus a few hand cases here). Each case names its provenance: "hand" (computed by hand), or
 * "naive" (the float64 reference loops in this file, written from the op definitions). Float
 * results may differ from float64 by float32 rounding: tolerance 1e-5 relative to the magnitude.
 */

interface Case {
  readonly name: string;
  readonly provenance: 'hand' | 'naive';
  readonly model: BuildModel;
  readonly inputs: readonly (Float32Array | Int8Array)[];
  readonly expected: ArrayLike<number>;
  readonly tolerance: number;
}

function random(seed: number, n: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

type Shape4 = [number, number, number, number];

/** Naive NHWC convolution (OHWI filters, or depthwise [1,H,W,C·m] filters). */
function naiveConv(
  x: Float32Array,
  [n, h, w, c]: Shape4,
  f: Float32Array,
  [o, fh, fw, fc]: Shape4,
  bias: Float32Array,
  opts: {
    stride: [number, number];
    dilation: [number, number];
    same: boolean;
    depthwise: boolean;
    clamp: [number, number];
  },
): { out: number[]; shape: Shape4 } {
  const outC = opts.depthwise ? fc : o;
  const [sh, sw] = opts.stride;
  const [dh, dw] = opts.dilation;
  const size = (inSize: number, k: number, s: number, d: number): [number, number] => {
    const eff = (k - 1) * d + 1;
    const out = opts.same ? Math.ceil(inSize / s) : Math.ceil((inSize - eff + 1) / s);
    return [out, Math.max(0, Math.floor(((out - 1) * s + eff - inSize) / 2))];
  };
  const [oh, ph] = size(h, fh, sh, dh);
  const [ow, pw] = size(w, fw, sw, dw);
  const out: number[] = [];
  for (let b = 0; b < n; b++)
    for (let y = 0; y < oh; y++)
      for (let xo = 0; xo < ow; xo++)
        for (let oc = 0; oc < outC; oc++) {
          let acc = bias[oc]!;
          for (let ky = 0; ky < fh; ky++)
            for (let kx = 0; kx < fw; kx++) {
              const iy = y * sh - ph + ky * dh;
              const ix = xo * sw - pw + kx * dw;
              if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
              if (opts.depthwise) {
                const ic = Math.floor(oc / (fc / c));
                acc += x[((b * h + iy) * w + ix) * c + ic]! * f[(ky * fw + kx) * fc + oc]!;
              } else {
                for (let ic = 0; ic < c; ic++)
                  acc +=
                    x[((b * h + iy) * w + ix) * c + ic]! * f[((oc * fh + ky) * fw + kx) * fc + ic]!;
              }
            }
          out.push(Math.min(Math.max(acc, opts.clamp[0]), opts.clamp[1]));
        }
  return { out, shape: [n, oh, ow, outC] };
}

function convCase(
  name: string,
  depthwise: boolean,
  xs: Shape4,
  fs: Shape4,
  stride: [number, number],
  dilation: [number, number],
  same: boolean,
  relu6: boolean,
): Case {
  const x = random(
    xs.reduce((a, b) => a * b, 7),
    xs.reduce((a, b) => a * b),
  );
  const f = random(
    11,
    fs.reduce((a, b) => a * b),
  );
  const outC = depthwise ? fs[3] : fs[0];
  const bias = random(13, outC);
  const { out, shape } = naiveConv(x, xs, f, fs, bias, {
    stride,
    dilation,
    same,
    depthwise,
    clamp: relu6 ? [0, 6] : [-Infinity, Infinity],
  });
  const options: OptionField[] = depthwise
    ? [
        { slot: 0, int8: same ? 0 : 1 },
        { slot: 1, int32: stride[1] },
        { slot: 2, int32: stride[0] },
        { slot: 3, int32: fs[3] / xs[3] },
        { slot: 4, int8: relu6 ? 3 : 0 },
        { slot: 5, int32: dilation[1] },
        { slot: 6, int32: dilation[0] },
      ]
    : [
        { slot: 0, int8: same ? 0 : 1 },
        { slot: 1, int32: stride[1] },
        { slot: 2, int32: stride[0] },
        { slot: 3, int8: relu6 ? 3 : 0 },
        { slot: 4, int32: dilation[1] },
        { slot: 5, int32: dilation[0] },
      ];
  return {
    name,
    provenance: 'naive',
    model: {
      tensors: [
        { dtype: 'float32', shape: xs },
        { dtype: 'float32', shape: fs, data: f32Bytes(f) },
        { dtype: 'float32', shape: [outC], data: f32Bytes(bias) },
        { dtype: 'float32', shape },
      ],
      inputs: [0],
      outputs: [3],
      operators: [
        {
          op: depthwise ? 'DEPTHWISE_CONV_2D' : 'CONV_2D',
          inputs: [0, 1, 2],
          outputs: [3],
          options,
        },
      ],
    },
    inputs: [x],
    expected: out,
    tolerance: 1e-5,
  };
}

function poolCase(
  name: string,
  op: 'AVERAGE_POOL_2D' | 'MAX_POOL_2D',
  xs: Shape4,
  k: [number, number],
  stride: [number, number],
  same: boolean,
): Case {
  const x = random(
    5,
    xs.reduce((a, b) => a * b),
  );
  const [n, h, w, c] = xs;
  const size = (inSize: number, kk: number, s: number): [number, number] => {
    const out = same ? Math.ceil(inSize / s) : Math.ceil((inSize - kk + 1) / s);
    return [out, Math.max(0, Math.floor(((out - 1) * s + kk - inSize) / 2))];
  };
  const [oh, ph] = size(h, k[0], stride[0]);
  const [ow, pw] = size(w, k[1], stride[1]);
  const out: number[] = [];
  for (let b = 0; b < n; b++)
    for (let y = 0; y < oh; y++)
      for (let xo = 0; xo < ow; xo++)
        for (let ch = 0; ch < c; ch++) {
          const vals: number[] = [];
          for (let ky = 0; ky < k[0]; ky++)
            for (let kx = 0; kx < k[1]; kx++) {
              const iy = y * stride[0] - ph + ky;
              const ix = xo * stride[1] - pw + kx;
              if (iy >= 0 && iy < h && ix >= 0 && ix < w)
                vals.push(x[((b * h + iy) * w + ix) * c + ch]!);
            }
          out.push(
            op === 'MAX_POOL_2D'
              ? Math.max(...vals)
              : vals.reduce((a, v) => a + v, 0) / vals.length,
          );
        }
  return {
    name,
    provenance: 'naive',
    model: {
      tensors: [
        { dtype: 'float32', shape: xs },
        { dtype: 'float32', shape: [n, oh, ow, c] },
      ],
      inputs: [0],
      outputs: [1],
      operators: [
        {
          op,
          inputs: [0],
          outputs: [1],
          options: [
            { slot: 0, int8: same ? 0 : 1 },
            { slot: 1, int32: stride[1] },
            { slot: 2, int32: stride[0] },
            { slot: 3, int32: k[1] },
            { slot: 4, int32: k[0] },
          ],
        },
      ],
    },
    inputs: [x],
    expected: out,
    tolerance: 1e-5,
  };
}

function fcCase(): Case {
  const x = random(3, 2 * 5);
  const w = random(4, 3 * 5);
  const bias = random(6, 3);
  const out: number[] = [];
  for (let b = 0; b < 2; b++)
    for (let o = 0; o < 3; o++) {
      let acc = bias[o]!;
      for (let d = 0; d < 5; d++) acc += x[b * 5 + d]! * w[o * 5 + d]!;
      out.push(Math.max(acc, 0));
    }
  return {
    name: 'FULLY_CONNECTED float32, 2 batches, RELU',
    provenance: 'naive',
    model: {
      tensors: [
        { dtype: 'float32', shape: [2, 5] },
        { dtype: 'float32', shape: [3, 5], data: f32Bytes(w) },
        { dtype: 'float32', shape: [3], data: f32Bytes(bias) },
        { dtype: 'float32', shape: [2, 3] },
      ],
      inputs: [0],
      outputs: [3],
      operators: [
        { op: 'FULLY_CONNECTED', inputs: [0, 1, 2], outputs: [3], options: [{ slot: 0, int8: 1 }] },
      ],
    },
    inputs: [x],
    expected: out,
    tolerance: 1e-5,
  };
}

/** Two-tensor elementwise and data-movement cases computed by hand. */
const HAND: Case[] = [
  {
    name: 'ADD float32 broadcasts [2,1] + [3]',
    provenance: 'hand',
    model: {
      tensors: [
        { dtype: 'float32', shape: [2, 1] },
        { dtype: 'float32', shape: [3] },
        { dtype: 'float32', shape: [2, 3] },
      ],
      inputs: [0, 1],
      outputs: [2],
      operators: [{ op: 'ADD', inputs: [0, 1], outputs: [2] }],
    },
    inputs: [Float32Array.of(1, 10), Float32Array.of(0.5, 1.5, 2.5)],
    expected: [1.5, 2.5, 3.5, 10.5, 11.5, 12.5],
    tolerance: 0,
  },
  {
    name: 'STRIDED_SLICE float32 reverses with a negative stride and shrinks axis 0',
    provenance: 'hand',
    model: {
      tensors: [
        { dtype: 'float32', shape: [2, 4] },
        { dtype: 'int32', shape: [2], data: i32Bytes([1, -1]) },
        { dtype: 'int32', shape: [2], data: i32Bytes([2, 0]) },
        { dtype: 'int32', shape: [2], data: i32Bytes([1, -2]) },
        { dtype: 'float32', shape: [2] },
      ],
      inputs: [0],
      outputs: [4],
      operators: [
        {
          op: 'STRIDED_SLICE',
          inputs: [0, 1, 2, 3],
          outputs: [4],
          options: [{ slot: 4, int32: 1 }],
        },
      ],
    },
    inputs: [Float32Array.of(0, 1, 2, 3, 4, 5, 6, 7)],
    expected: [7, 5],
    tolerance: 0,
  },
  {
    name: 'PAD float32 pads [1,2] by ((1,0),(0,2))',
    provenance: 'hand',
    model: {
      tensors: [
        { dtype: 'float32', shape: [1, 2] },
        { dtype: 'int32', shape: [2, 2], data: i32Bytes([1, 0, 0, 2]) },
        { dtype: 'float32', shape: [2, 4] },
      ],
      inputs: [0],
      outputs: [2],
      operators: [{ op: 'PAD', inputs: [0, 1], outputs: [2] }],
    },
    inputs: [Float32Array.of(3, 4)],
    expected: [0, 0, 0, 0, 3, 4, 0, 0],
    tolerance: 0,
  },
  {
    name: 'CONCATENATION float32 on axis 1',
    provenance: 'hand',
    model: {
      tensors: [
        { dtype: 'float32', shape: [2, 1] },
        { dtype: 'float32', shape: [2, 2] },
        { dtype: 'float32', shape: [2, 3] },
      ],
      inputs: [0, 1],
      outputs: [2],
      operators: [
        { op: 'CONCATENATION', inputs: [0, 1], outputs: [2], options: [{ slot: 0, int32: 1 }] },
      ],
    },
    inputs: [Float32Array.of(1, 2), Float32Array.of(3, 4, 5, 6)],
    expected: [1, 3, 4, 2, 5, 6],
    tolerance: 0,
  },
  {
    name: 'TRANSPOSE float32 by [1, 0]',
    provenance: 'hand',
    model: {
      tensors: [
        { dtype: 'float32', shape: [2, 3] },
        { dtype: 'int32', shape: [2], data: i32Bytes([1, 0]) },
        { dtype: 'float32', shape: [3, 2] },
      ],
      inputs: [0],
      outputs: [2],
      operators: [{ op: 'TRANSPOSE', inputs: [0, 1], outputs: [2] }],
    },
    inputs: [Float32Array.of(1, 2, 3, 4, 5, 6)],
    expected: [1, 4, 2, 5, 3, 6],
    tolerance: 0,
  },
  {
    name: 'SOFTMAX float32 (beta 1) of [0, ln 3]',
    provenance: 'hand',
    model: {
      tensors: [
        { dtype: 'float32', shape: [1, 2] },
        { dtype: 'float32', shape: [1, 2] },
      ],
      inputs: [0],
      outputs: [1],
      operators: [{ op: 'SOFTMAX', inputs: [0], outputs: [1], options: [{ slot: 0, float32: 1 }] }],
    },
    inputs: [Float32Array.of(0, Math.log(3))],
    expected: [0.25, 0.75],
    tolerance: 1e-6,
  },
];

/** Cases of the ops added for the list: MEAN, CAST, quantized RELU / RELU6. */
const MORE: Case[] = [
  {
    name: 'MEAN float32 over axes [1, 2] keeping dims',
    provenance: 'hand',
    model: {
      tensors: [
        { dtype: 'float32', shape: [1, 2, 2, 2] },
        { dtype: 'int32', shape: [2], data: i32Bytes([1, 2]) },
        { dtype: 'float32', shape: [1, 1, 1, 2] },
      ],
      inputs: [0],
      outputs: [2],
      operators: [{ op: 'MEAN', inputs: [0, 1], outputs: [2], options: [{ slot: 0, bool: true }] }],
    },
    inputs: [Float32Array.of(1, 10, 2, 20, 3, 30, 4, 40)],
    expected: [2.5, 25],
    tolerance: 0,
  },
  {
    name: 'MEAN int8 over axes [1, 2]: TFLM double rounding gives 26 for 25.25',
    provenance: 'hand',
    model: {
      tensors: [
        { dtype: 'int8', shape: [1, 2, 2, 1], scale: [0.5], zeroPoint: [0] },
        { dtype: 'int32', shape: [2], data: i32Bytes([1, 2]) },
        { dtype: 'int8', shape: [1, 1], scale: [0.5], zeroPoint: [0] },
      ],
      inputs: [0],
      outputs: [2],
      operators: [{ op: 'MEAN', inputs: [0, 1], outputs: [2] }],
    },
    inputs: [Int8Array.of(10, 20, 30, 41)],
    expected: [26],
    tolerance: 0,
  },
  {
    name: 'CAST float32 → int32 truncates toward zero',
    provenance: 'hand',
    model: {
      tensors: [
        { dtype: 'float32', shape: [4] },
        { dtype: 'int32', shape: [4] },
      ],
      inputs: [0],
      outputs: [1],
      operators: [{ op: 'CAST', inputs: [0], outputs: [1] }],
    },
    inputs: [Float32Array.of(1.9, -1.9, 0.5, -7)],
    expected: [1, -1, 0, -7],
    tolerance: 0,
  },
  {
    name: 'RELU int8 requantizes (scale 0.5 → 0.25) and clamps at the zero point',
    provenance: 'hand',
    model: {
      tensors: [
        { dtype: 'int8', shape: [4], scale: [0.5], zeroPoint: [1] },
        { dtype: 'int8', shape: [4], scale: [0.25], zeroPoint: [-3] },
      ],
      inputs: [0],
      outputs: [1],
      operators: [{ op: 'RELU', inputs: [0], outputs: [1] }],
    },
    inputs: [Int8Array.of(-10, 1, 5, 100)],
    expected: [-3, -3, 5, 127],
    tolerance: 0,
  },
  {
    name: 'RELU6 int8 clamps to [zero point, q(6)]',
    provenance: 'hand',
    model: {
      tensors: [
        { dtype: 'int8', shape: [4], scale: [0.1], zeroPoint: [-10] },
        { dtype: 'int8', shape: [4], scale: [0.1], zeroPoint: [-10] },
      ],
      inputs: [0],
      outputs: [1],
      operators: [{ op: 'RELU6', inputs: [0], outputs: [1] }],
    },
    inputs: [Int8Array.of(-128, -10, 30, 127)],
    expected: [-10, -10, 30, 50],
    tolerance: 0,
  },
];

const CASES: Case[] = [
  ...MORE,
  convCase(
    'CONV_2D float32 3×3 SAME stride 2, RELU6',
    false,
    [1, 7, 6, 3],
    [4, 3, 3, 3],
    [2, 2],
    [1, 1],
    true,
    true,
  ),
  convCase(
    'CONV_2D float32 3×2 VALID dilation 2',
    false,
    [2, 8, 7, 2],
    [3, 3, 2, 2],
    [1, 1],
    [2, 2],
    false,
    false,
  ),
  convCase(
    'CONV_2D float32 1×1 pointwise',
    false,
    [1, 4, 4, 8],
    [5, 1, 1, 8],
    [1, 1],
    [1, 1],
    true,
    false,
  ),
  convCase(
    'DEPTHWISE_CONV_2D float32 3×3 SAME multiplier 2',
    true,
    [1, 6, 5, 3],
    [1, 3, 3, 6],
    [1, 1],
    [1, 1],
    true,
    false,
  ),
  convCase(
    'DEPTHWISE_CONV_2D float32 5×5 SAME stride 2, RELU6',
    true,
    [1, 9, 9, 4],
    [1, 5, 5, 4],
    [2, 2],
    [1, 1],
    true,
    true,
  ),
  poolCase(
    'AVERAGE_POOL_2D float32 3×3 SAME stride 2',
    'AVERAGE_POOL_2D',
    [1, 7, 5, 2],
    [3, 3],
    [2, 2],
    true,
  ),
  poolCase(
    'MAX_POOL_2D float32 2×2 VALID stride 2',
    'MAX_POOL_2D',
    [2, 6, 6, 3],
    [2, 2],
    [2, 2],
    false,
  ),
  fcCase(),
  ...HAND,
];

function bytesOf(values: Float32Array | Int8Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

describe('kernels against reference values', () => {
  for (const c of CASES) {
    it(`${c.name} (${c.provenance})`, () => {
      const model = TfliteModel.load(buildModel(c.model));
      const session = model.openSession();
      const [out] = session.runSync(
        model.inputs.map((info, i) => ({
          dtype: info.dtype,
          shape: info.shape,
          data: bytesOf(c.inputs[i]!),
        })),
      );
      const raw = out!.data.slice().buffer;
      const got =
        out!.dtype === 'float32'
          ? new Float32Array(raw)
          : out!.dtype === 'int32'
            ? new Int32Array(raw)
            : new Int8Array(raw);
      assert.equal(got.length, c.expected.length);
      for (let i = 0; i < got.length; i++) {
        const want = c.expected[i]!;
        assert.ok(
          Math.abs(got[i]! - want) <= c.tolerance * Math.max(1, Math.abs(want)),
          `element ${i}: ${got[i]} vs ${want}`,
        );
      }
    });
  }
});

/**
 * Quantized kernels without a shared golden model: their outputs must be within one quantization
 * step of the float result (provenance: the float definition of the op).
 */
describe('quantized kernels within one step of the float definition', () => {
  const scale = 0.05;
  const zeroPoint = -5;
  const values = Int8Array.from({ length: 256 }, (_, i) => i - 128);
  const real = (q: number): number => scale * (q - zeroPoint);
  const quantize = (r: number, s: number, z: number): number =>
    Math.min(127, Math.max(-128, Math.round(r / s) + z));

  it('HARD_SWISH int8 over every input value', () => {
    const out = { scale: 0.04, zeroPoint: -20 };
    const model = TfliteModel.load(
      buildModel({
        tensors: [
          { dtype: 'int8', shape: [256], scale: [scale], zeroPoint: [zeroPoint] },
          { dtype: 'int8', shape: [256], scale: [out.scale], zeroPoint: [out.zeroPoint] },
        ],
        inputs: [0],
        outputs: [1],
        operators: [{ op: 'HARD_SWISH', inputs: [0], outputs: [1] }],
      }),
    );
    const [result] = model
      .openSession()
      .runSync([{ dtype: 'int8', shape: [256], data: bytesOf(values) }]);
    const got = new Int8Array(result!.data.slice().buffer);
    values.forEach((q, i) => {
      const x = real(q);
      const want = quantize((x * Math.min(Math.max(x + 3, 0), 6)) / 6, out.scale, out.zeroPoint);
      assert.ok(Math.abs(got[i]! - want) <= 1, `input ${q}: got ${got[i]}, float gives ${want}`);
    });
  });

  it('DIV int8 over a grid of dividends and divisors', () => {
    // An output scale small enough that TFLM's shifts stay within 31 bits (larger shifts are
    // undefined behaviour in its C code).
    const out = { scale: 0.01, zeroPoint: 3 };
    const divisors = Int8Array.from({ length: 256 }, (_, i) => ((i * 37) % 200) + 20);
    const model = TfliteModel.load(
      buildModel({
        tensors: [
          { dtype: 'int8', shape: [256], scale: [scale], zeroPoint: [zeroPoint] },
          { dtype: 'int8', shape: [256], scale: [scale], zeroPoint: [zeroPoint] },
          { dtype: 'int8', shape: [256], scale: [out.scale], zeroPoint: [out.zeroPoint] },
        ],
        inputs: [0, 1],
        outputs: [2],
        operators: [{ op: 'DIV', inputs: [0, 1], outputs: [2] }],
      }),
    );
    const [result] = model.openSession().runSync([
      { dtype: 'int8', shape: [256], data: bytesOf(values) },
      { dtype: 'int8', shape: [256], data: bytesOf(divisors) },
    ]);
    const got = new Int8Array(result!.data.slice().buffer);
    values.forEach((q, i) => {
      const want = quantize(real(q) / real(divisors[i]!), out.scale, out.zeroPoint);
      assert.ok(
        Math.abs(got[i]! - want) <= 1,
        `${q} / ${divisors[i]}: got ${got[i]}, float gives ${want}`,
      );
    });
  });
});
