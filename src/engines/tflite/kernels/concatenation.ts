import { Activation } from '../schema.js';
import { expectType, fail, options, output, quantParams, type Kernel } from './kernel.js';
import { elementSize } from './shape-walk.js';

/** CONCATENATION along one axis; quantized inputs must share the output's parameters. */
export const concatenation: Kernel = {
  name: 'CONCATENATION',
  versions: [1, 4],
  types: ['float32', 'int8', 'int16', 'int32', 'int64', 'bool'],
  prepare(node) {
    const y = output(node, 0);
    const inputs = node.inputs.map((t, i) => t ?? fail(node, `input ${i} is missing`));
    if (inputs.length === 0) fail(node, 'expected at least one input');
    const opts = options(node);
    const rank = y.shape.length;
    let axis = opts.i32(0, 0);
    if (axis < 0) axis += rank;
    if (axis < 0 || axis >= rank)
      fail(node, `axis ${opts.i32(0, 0)} is out of range for rank ${rank}`);
    if (opts.i8(1, Activation.NONE) !== Activation.NONE)
      fail(node, 'fused activations are not supported');
    let along = 0;
    for (const t of inputs) {
      expectType(node, t, 'input', [y.dtype]);
      if (t.shape.length !== rank || t.shape.some((d, i) => i !== axis && d !== y.shape[i])) {
        fail(
          node,
          `input "${t.name}" shape [${t.shape.join(', ')}] does not fit output [${y.shape.join(', ')}]`,
        );
      }
      if (y.dtype === 'int8' || y.dtype === 'int16') {
        const a = quantParams(node, t);
        const b = quantParams(node, y);
        if (a.scale !== b.scale || a.zeroPoint !== b.zeroPoint)
          fail(node, 'inputs must share the output quantization');
      }
      along += t.shape[axis]!;
    }
    if (along !== y.shape[axis])
      fail(node, `inputs sum to ${along} along axis ${axis}, output has ${y.shape[axis]}`);
    const size = elementSize(y.dtype);
    const outer = y.shape.slice(0, axis).reduce((a, b) => a * b, 1);
    const innerOf = (shape: readonly number[]): number =>
      shape.slice(axis).reduce((a, b) => a * b, 1) * size;
    const chunks = inputs.map((t) => innerOf(t.shape));
    const rowBytes = innerOf(y.shape);
    return {
      scratchBytes: 0,
      bind(v) {
        const srcs = inputs.map((t) => v.bytes(t));
        const yb = v.bytes(y);
        return () => {
          for (let o = 0; o < outer; o++) {
            let dst = o * rowBytes;
            for (let k = 0; k < srcs.length; k++) {
              const c = chunks[k]!;
              yb.set(srcs[k]!.subarray(o * c, (o + 1) * c), dst);
              dst += c;
            }
          }
        };
      },
    };
  },
};
