import type { DType } from '../../engine.js';
import type { TensorDef } from '../model-reader.js';
import {
  expectArity,
  expectType,
  fail,
  input,
  output,
  type NodeInfo,
  type PreparedNode,
} from './kernel.js';

/** The checked operands of a one-input, one-output elementwise op. */
export interface UnaryOperands {
  readonly x: TensorDef;
  readonly y: TensorDef;
  /** Elements of both. */
  readonly n: number;
}

/**
 * Checks a one-input, one-output elementwise op: the input has one of `inputTypes`, the output one
 * of `outputTypes` (by default the input's type), and both have the same number of elements.
 */
export function unaryOperands(
  node: NodeInfo,
  inputTypes: readonly DType[],
  outputTypes?: readonly DType[],
): UnaryOperands {
  expectArity(node, [1, 1], 1);
  const x = input(node, 0);
  const y = output(node, 0);
  expectType(node, x, 'input', inputTypes);
  expectType(node, y, 'output', outputTypes ?? [x.dtype]);
  if (x.elements !== y.elements) fail(node, 'input and output sizes differ');
  return { x, y, n: x.elements };
}

/** y[i] = f(x[i]) over checked float32 operands, rounded to float32 on store. */
export function floatUnary(operands: UnaryOperands, f: (x: number) => number): PreparedNode {
  const { x, y, n } = operands;
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
