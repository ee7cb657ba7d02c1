import { Activation } from '../schema.js';
import { multiplyByQuantizedMultiplier, quantizeMultiplier } from '../quantization.js';
import { binaryNode, prepareBinary } from './elementwise.js';
import {
  activation,
  activationRangeFloat,
  activationRangeQuantized,
  expectType,
  options,
  quantParams,
  type Kernel,
} from './kernel.js';

/** MUL with broadcasting; quantized as (a − za)(b − zb) rescaled by sa·sb/sy. */
export const mul: Kernel = {
  name: 'MUL',
  versions: [1, 7],
  types: ['float32', 'int32', 'int8', 'int16'],
  prepare(node) {
    const bin = prepareBinary(node);
    const { a, b, y } = bin;
    expectType(node, y, 'output', ['float32', 'int32', 'int8', 'int16']);
    const act = activation(node, options(node).i8(0, Activation.NONE));
    let f: (p: number, q: number) => number;
    if (y.dtype === 'float32') {
      const [lo, hi] = activationRangeFloat(act);
      f = (p, q) => {
        const r = Math.fround(p * q);
        return r < lo ? lo : r > hi ? hi : r;
      };
    } else if (y.dtype === 'int32') {
      f = (p, q) => Math.imul(p, q);
    } else {
      const qa = quantParams(node, a);
      const qb = quantParams(node, b);
      const qy = quantParams(node, y);
      const { multiplier, shift } = quantizeMultiplier((qa.scale * qb.scale) / qy.scale);
      const [actMin, actMax] = activationRangeQuantized(node, act, y);
      f = (p, q) => {
        const r =
          multiplyByQuantizedMultiplier(
            Math.imul(p - qa.zeroPoint, q - qb.zeroPoint),
            multiplier,
            shift,
          ) + qy.zeroPoint;
        return r < actMin ? actMin : r > actMax ? actMax : r;
      };
    }
    return binaryNode(bin, f);
  },
};
