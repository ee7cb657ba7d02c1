import { Activation } from '../schema.js';
import { binaryLoop, binaryViews, prepareBinary } from './elementwise.js';
import { activation, activationRangeFloat, expectType, options, type Kernel } from './kernel.js';

/** DIV with broadcasting (float32). */
export const div: Kernel = {
  name: 'DIV',
  versions: [1, 2],
  types: ['float32'],
  prepare(node) {
    const bin = prepareBinary(node);
    expectType(node, bin.y, 'output', ['float32']);
    const [lo, hi] = activationRangeFloat(activation(node, options(node).i8(0, Activation.NONE)));
    const f = (p: number, q: number): number => {
      const r = Math.fround(p / q);
      return r < lo ? lo : r > hi ? hi : r;
    };
    return {
      scratchBytes: 0,
      bind(v) {
        const [ad, bd, yd] = binaryViews(bin, v);
        return () => {
          binaryLoop(bin, ad, bd, yd, f);
        };
      },
    };
  },
};
