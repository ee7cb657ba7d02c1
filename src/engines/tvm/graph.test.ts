import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { helloWorldGraph } from '../../../test/fixtures/tvm/bundles.js';
import { isSemirtError } from '../../errors.js';
import { parseGraph } from './graph.js';

type Json = Record<string, unknown> & {
  nodes: Record<string, unknown>[];
  attrs: Record<string, [string, unknown[]]>;
};

/** A fresh mutable copy of the hello_world graph. */
const graph = (): Json => structuredClone(helloWorldGraph()) as Json;

function rejects(json: string, message: RegExp): void {
  assert.throws(
    () => parseGraph(json),
    (err: unknown) => isSemirtError(err, 'TVM_GRAPH_INVALID') && message.test(err.message),
  );
}

describe('parseGraph()', () => {
  it('reads the hello_world graph: entries, args, ops, heads and storage', () => {
    const g = parseGraph(JSON.stringify(helloWorldGraph()));
    assert.equal(g.entries.length, 10);
    assert.equal(g.storageCount, 9);
    assert.deepEqual(
      g.args.map((a) => a.name),
      ['serving_default_dense_input:0', 'p0', 'p1', 'p2', 'p3', 'p4', 'p5'],
    );
    assert.deepEqual(
      g.ops.map((o) => [o.funcName, o.inputs, o.outputs]),
      [
        ['tvmgen_default_fused_nn_dense_add_nn_relu', [0, 1, 2], [3]],
        ['tvmgen_default_fused_nn_dense_add_nn_relu_1', [3, 4, 5], [6]],
        ['tvmgen_default_fused_nn_dense_add', [6, 7, 8], [9]],
      ],
    );
    assert.deepEqual(g.heads, [{ name: 'tvmgen_default_fused_nn_dense_add', entryId: 9 }]);
    assert.deepEqual(g.entries[9], {
      storageId: 3,
      dtype: 'float32',
      shape: [1, 1],
      byteLength: 4,
    });
  });

  it('accepts a __nop node whose output aliases its input', () => {
    const g = graph();
    g.nodes.push({
      op: 'tvm_op',
      name: 'reshape_nop',
      attrs: { func_name: '__nop', num_inputs: '1', num_outputs: '1', flatten_data: '0' },
      inputs: [[9, 0, 0]],
    });
    g['node_row_ptr'] = [...(g['node_row_ptr'] as number[]), 11];
    g['heads'] = [[10, 0, 0]];
    g.attrs['dltype']![1].push('float32');
    g.attrs['storage_id']![1].push(3);
    g.attrs['shape']![1].push([1]);
    g.attrs['device_index']![1].push(1);
    const parsed = parseGraph(JSON.stringify(g));
    assert.equal(parsed.ops[3]!.nop, true);
    assert.equal(parsed.heads[0]!.name, 'reshape_nop');
  });

  const cases: [string, (g: Json) => unknown, RegExp][] = [
    ['a top-level array', () => [], /top level must be an object/],
    ['an unknown top-level key', (g) => ({ ...g, extra: 1 }), /unknown top-level key "extra"/],
    ['no nodes', (g) => ({ ...g, nodes: [] }), /nodes is empty/],
    [
      'an unknown op kind',
      (g) => ((g.nodes[3]!['op'] = 'python'), g),
      /nodes\[3\]\.op must be "null" or "tvm_op"/,
    ],
    [
      'an input from a later node',
      (g) => (
        (g.nodes[3]!['inputs'] = [
          [6, 0, 0],
          [1, 0, 0],
          [2, 0, 0],
        ]),
        g
      ),
      /nodes\[3\]\.inputs\[0\]\[0\] must be an integer in \[0, 3\)/,
    ],
    [
      'an input output index out of range',
      (g) => (
        (g.nodes[3]!['inputs'] = [
          [0, 1],
          [1, 0],
          [2, 0],
        ]),
        g
      ),
      /nodes\[3\]\.inputs\[0\]\[1\]/,
    ],
    [
      'a num_inputs that disagrees',
      (g) => (((g.nodes[3]!['attrs'] as Record<string, string>)['num_inputs'] = '2'), g),
      /num_inputs is 2 but the node has 3 inputs/,
    ],
    [
      'a non-decimal num_outputs',
      (g) => (((g.nodes[3]!['attrs'] as Record<string, string>)['num_outputs'] = '1e9'), g),
      /num_outputs must be a decimal string/,
    ],
    [
      'a flatten_data of 2',
      (g) => (((g.nodes[3]!['attrs'] as Record<string, string>)['flatten_data'] = '2'), g),
      /flatten_data must be "0" or "1"/,
    ],
    [
      'a missing func_name',
      (g) => (delete (g.nodes[3]!['attrs'] as Record<string, string>)['func_name'], g),
      /func_name must be a non-empty string/,
    ],
    [
      'a cross-device copy',
      (g) => (((g.nodes[3]!['attrs'] as Record<string, string>)['func_name'] = '__copy'), g),
      /cross-device copy/,
    ],
    [
      'a __nop that does not alias',
      (g) => (((g.nodes[3]!['attrs'] as Record<string, string>)['func_name'] = '__nop'), g),
      /"__nop" but its one output does not alias/,
    ],
    [
      'a "null" node with inputs',
      (g) => ((g.nodes[1]!['inputs'] = [[0, 0]]), g),
      /"null" node and must have no inputs/,
    ],
    [
      'a short node_row_ptr',
      (g) => ((g['node_row_ptr'] = [0, 1, 2]), g),
      /node_row_ptr has 3 items, expected 11/,
    ],
    [
      'a wrong node_row_ptr value',
      (g) => ((g['node_row_ptr'] = [0, 1, 2, 3, 5, 5, 6, 7, 8, 9, 10]), g),
      /node_row_ptr\[4\] is 5, expected 4/,
    ],
    [
      'a storage id beyond the entries',
      (g) => ((g.attrs['storage_id']![1][2] = 4294967295), g),
      /attrs\.storage_id\[2\] must be an integer in \[0, 10\)/,
    ],
    [
      'a negative storage id',
      (g) => ((g.attrs['storage_id']![1][2] = -1), g),
      /attrs\.storage_id\[2\]/,
    ],
    [
      'a fractional dimension',
      (g) => ((g.attrs['shape']![1][1] = [16.5, 1]), g),
      /attrs\.shape\[1\]\[0\]/,
    ],
    [
      'a negative dimension',
      (g) => ((g.attrs['shape']![1][1] = [-16, 1]), g),
      /attrs\.shape\[1\]\[0\]/,
    ],
    [
      'a shape over 4 GiB',
      (g) => ((g.attrs['shape']![1][1] = [65536, 65536, 2]), g),
      /attrs\.shape\[1\] \[65536, 65536, 2\] exceeds 4 GiB/,
    ],
    [
      '33 dimensions',
      (g) => ((g.attrs['shape']![1][1] = Array<number>(33).fill(1)), g),
      /has 33 dimensions/,
    ],
    [
      'an unknown dtype',
      (g) => ((g.attrs['dltype']![1][4] = 'float8_e4m3'), g),
      /attrs\.dltype\[4\] "float8_e4m3" is not a supported dtype/,
    ],
    [
      'a short dltype list',
      (g) => (g.attrs['dltype']![1].pop(), g),
      /attrs\.dltype has 9 items, expected 10/,
    ],
    [
      'a mistyped attribute list',
      (g) => ((g.attrs['storage_id']![0] = 'list_str'), g),
      /attrs\.storage_id must be \["list_int", \[\.\.\.\]\]/,
    ],
    ['a missing shape attribute', (g) => (delete g.attrs['shape'], g), /attrs\.shape is missing/],
    [
      'a GPU device index',
      (g) => ((g.attrs['device_index']![1][3] = 2), g),
      /attrs\.device_index\[3\] is 2; only the CPU/,
    ],
    [
      'an arg node that is an op',
      (g) => ((g['arg_nodes'] = [0, 1, 2, 3, 4, 5, 7, 8]), g),
      /arg_nodes\[3\] is node 3, which is not a "null" node/,
    ],
    [
      'an arg node listed twice',
      (g) => ((g['arg_nodes'] = [0, 1, 2, 4, 5, 7, 8, 8]), g),
      /lists node 8 twice/,
    ],
    [
      'a "null" node missing from arg_nodes',
      (g) => ((g['arg_nodes'] = [0, 1, 2, 4, 5, 7]), g),
      /node 8 \("p5"\) is a "null" node missing from arg_nodes/,
    ],
    [
      'two arg nodes with one name',
      (g) => ((g.nodes[2]!['name'] = 'p0'), g),
      /two arg nodes are named "p0"/,
    ],
    ['a head out of range', (g) => ((g['heads'] = [[10, 0, 0]]), g), /heads\[0\]\[0\]/],
    ['no heads', (g) => ((g['heads'] = []), g), /heads is empty/],
  ];
  for (const [what, mutate, message] of cases) {
    it(`rejects ${what}`, () => {
      rejects(JSON.stringify(mutate(graph())), message);
    });
  }

  it('rejects text that is not JSON', () => {
    rejects('{"nodes": [', /not valid JSON/);
  });
});
