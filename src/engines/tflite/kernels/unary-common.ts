import {
  expectArity,
  expectType,
  fail,
  input,
  output,
  type NodeInfo,
  type PreparedNode,
} from './kernel.js';

/** A float32 elementwise op: y[i] = f(x[i]), rounded to float32 on store. */
export function prepareFloatUnary(node: NodeInfo, f: (x: number) => number): PreparedNode {
  expectArity(node, [1, 1], 1);
  const x = input(node, 0);
  const y = output(node, 0);
  expectType(node, x, 'input', ['float32']);
  expectType(node, y, 'output', ['float32']);
  if (x.elements !== y.elements) fail(node, 'input and output sizes differ');
  const n = x.elements;
  return {
    scratchBytes: 0,
    bind(v) {
      const xd = v.f32(x);
      const yd = v.f32(y);
      return () => {
        for (let i = 0; i < n; i++) yd[i] = f(xd[i]!);
      };
    },
  };
}
