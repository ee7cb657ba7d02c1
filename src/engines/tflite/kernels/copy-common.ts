import { expectType, fail, input, output, type NodeInfo, type PreparedNode } from './kernel.js';

/** Ops that only reinterpret the shape (RESHAPE, SQUEEZE): copy the bytes of input 0 to output 0. */
export function prepareCopy(node: NodeInfo): PreparedNode {
  if (node.outputs.length !== 1 || node.inputs.length < 1)
    fail(node, 'expected at least 1 input and 1 output');
  const x = input(node, 0);
  const y = output(node, 0);
  expectType(node, y, 'output', [x.dtype]);
  if (x.elements !== y.elements)
    fail(node, `input has ${x.elements} elements, output ${y.elements}`);
  return {
    scratchBytes: 0,
    bind(v) {
      const xd = v.bytes(x);
      const yd = v.bytes(y);
      return () => {
        if (xd !== yd) yd.set(xd);
      };
    },
  };
}
