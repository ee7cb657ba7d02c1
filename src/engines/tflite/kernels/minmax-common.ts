import { binaryNode, prepareBinary } from './elementwise.js';
import { expectType, fail, quantParams, type NodeInfo, type PreparedNode } from './kernel.js';

/** MAXIMUM / MINIMUM: elementwise with broadcasting; quantized operands must share parameters. */
export function prepareMinMax(
  node: NodeInfo,
  pick: (p: number, q: number) => number,
): PreparedNode {
  const bin = prepareBinary(node);
  expectType(node, bin.y, 'output', ['float32', 'int32', 'int8', 'int16']);
  if (bin.y.dtype === 'int8' || bin.y.dtype === 'int16') {
    const qa = quantParams(node, bin.a);
    const qb = quantParams(node, bin.b);
    const qy = quantParams(node, bin.y);
    if (
      qa.scale !== qy.scale ||
      qb.scale !== qy.scale ||
      qa.zeroPoint !== qy.zeroPoint ||
      qb.zeroPoint !== qy.zeroPoint
    ) {
      fail(node, 'quantized operands and output must share scale and zero point');
    }
  }
  return binaryNode(bin, pick);
}
