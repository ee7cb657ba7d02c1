import { constantInts, expectArity, fail, input, options, output, type Kernel } from './kernel.js';
import { elementSize, gatherCopy, gatherIndex, stridesOf } from './shape-walk.js';

/** STRIDED_SLICE with begin/end/shrink masks and the `offset` option (constant begin/end/strides). */
export const stridedSlice: Kernel = {
  name: 'STRIDED_SLICE',
  versions: [1, 8],
  types: ['any'],
  prepare(node) {
    expectArity(node, [3, 4], 1);
    const x = input(node, 0);
    const y = output(node, 0);
    if (y.dtype !== x.dtype) fail(node, `types ${x.dtype} → ${y.dtype} differ`);
    const rank = x.shape.length;
    const begin = constantInts(node, input(node, 1));
    const end = constantInts(node, input(node, 2));
    const strideT = node.inputs[3];
    const strides =
      strideT === undefined ? new Array<number>(begin.length).fill(1) : constantInts(node, strideT);
    if (begin.length !== rank || end.length !== rank || strides.length !== rank) {
      fail(node, `begin/end/strides must have ${rank} values`);
    }
    const opts = options(node);
    const beginMask = opts.i32(0, 0);
    const endMask = opts.i32(1, 0);
    const ellipsisMask = opts.i32(2, 0);
    const newAxisMask = opts.i32(3, 0);
    const shrinkMask = opts.i32(4, 0);
    const offset = opts.bool(5, false);
    if (ellipsisMask !== 0 || newAxisMask !== 0)
      fail(node, 'ellipsis and new-axis masks are not supported');
    const starts: number[] = [];
    const dims: number[] = [];
    const kept: number[] = [];
    for (let i = 0; i < rank; i++) {
      const dim = x.shape[i]!;
      const stride = strides[i]!;
      if (stride === 0) fail(node, `stride ${i} is zero`);
      const clampIndex = (v: number): number =>
        stride > 0 ? Math.min(Math.max(v, 0), dim) : Math.min(Math.max(v, -1), dim - 1);
      let start = (beginMask >> i) & 1 ? (stride > 0 ? 0 : dim - 1) : begin[i]!;
      if (!((beginMask >> i) & 1) && start < 0) start += dim;
      start = clampIndex(start);
      let stop: number;
      if ((shrinkMask >> i) & 1) {
        stop = start + 1;
      } else if ((endMask >> i) & 1) {
        stop = stride > 0 ? dim : -1;
      } else {
        stop = offset ? begin[i]! + end[i]! : end[i]!;
        if (stop < 0) stop += dim;
        stop = clampIndex(stop);
      }
      const count = Math.max(0, Math.ceil((stop - start) / stride));
      starts.push(start);
      dims.push(count);
      if (!((shrinkMask >> i) & 1)) kept.push(count);
    }
    const total = dims.reduce((a, b) => a * b, 1);
    if (total !== y.elements)
      fail(
        node,
        `output has ${y.elements} elements, the slice selects ${total} ([${kept.join(', ')}])`,
      );
    const index = gatherIndex(dims, starts, strides, stridesOf(x.shape));
    const size = elementSize(x.dtype);
    return {
      scratchBytes: 0,
      bind(v) {
        const xb = v.bytes(x);
        const yb = v.bytes(y);
        return () => {
          gatherCopy(xb, yb, index, size);
        };
      },
    };
  },
};
