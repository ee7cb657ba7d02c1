import { SemirtError } from '../../errors.js';
import { DTYPE_SIZE, type DType } from '../engine.js';
import { fromTvmName } from './dtype.js';

/**
 * TVM's graph executor format (the `graph_json` of `relay.build`): `nodes` in execution order
 * ("null" nodes are inputs and params, "tvm_op" nodes call a packed function), `arg_nodes`,
 * `heads` (outputs), `node_row_ptr` (first entry id of each node) and `attrs` with one
 * `storage_id`, `shape` and `dltype` per entry. Everything is validated here once, so the
 * executor can trust the indices it is given.
 */

/** One data entry (a node output): where it lives and what it holds. */
export interface GraphEntry {
  readonly storageId: number;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly byteLength: number;
}

/** A "null" node: a model input or a param, by name. */
export interface GraphArg {
  readonly nodeId: number;
  readonly name: string;
  readonly entryId: number;
}

/** A "tvm_op" node: a packed-function call, or `__nop` (a reshape aliasing its input). */
export interface GraphOp {
  readonly nodeId: number;
  readonly name: string;
  readonly funcName: string;
  readonly nop: boolean;
  readonly flattenData: boolean;
  readonly inputs: readonly number[];
  readonly outputs: readonly number[];
}

export interface GraphHead {
  readonly name: string;
  readonly entryId: number;
}

export interface TvmGraph {
  readonly entries: readonly GraphEntry[];
  readonly args: readonly GraphArg[];
  readonly ops: readonly GraphOp[];
  readonly heads: readonly GraphHead[];
  /** Number of storage ids (the highest id plus one). */
  readonly storageCount: number;
}

/** Dimensions beyond this are refused (TVM's C runtime allows 6; real models stay far below). */
export const MAX_NDIM = 32;
/** Elements and bytes per entry are bounded by wasm32's 4 GiB address space. */
const MAX_BYTES = 2 ** 32;
const TOP_LEVEL_KEYS = new Set([
  'nodes',
  'arg_nodes',
  'node_row_ptr',
  'heads',
  'attrs',
  'metadata',
]);

function fail(message: string): never {
  throw new SemirtError('TVM_GRAPH_INVALID', `Cannot load TVM graph: ${message}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function index(value: unknown, where: string, limit: number): number {
  if (!Number.isSafeInteger(value) || (value as number) < 0 || (value as number) >= limit) {
    fail(`${where} must be an integer in [0, ${limit}), got ${JSON.stringify(value)}`);
  }
  return value as number;
}

function array(value: unknown, where: string): unknown[] {
  if (!Array.isArray(value)) fail(`${where} must be an array`);
  return value;
}

/** Reads a typed attribute list such as `["list_int", [0, 1, 2]]`. */
function typedList(attrs: Record<string, unknown>, key: string, type: string): unknown[] {
  const value = attrs[key];
  if (value === undefined) fail(`attrs.${key} is missing`);
  const pair = array(value, `attrs.${key}`);
  if (pair.length !== 2 || pair[0] !== type) {
    fail(`attrs.${key} must be ["${type}", [...]]`);
  }
  return array(pair[1], `attrs.${key}[1]`);
}

/** A decimal string attribute of a tvm_op node ("3"), as TVM writes them. */
function decimalAttr(attrs: Record<string, unknown>, key: string, where: string): number {
  const value = attrs[key];
  if (typeof value !== 'string' || !/^\d{1,6}$/.test(value)) {
    fail(`${where}.attrs.${key} must be a decimal string, got ${JSON.stringify(value)}`);
  }
  return Number(value);
}

interface RawNode {
  readonly op: 'null' | 'tvm_op';
  readonly name: string;
  readonly inputs: readonly (readonly [number, number])[];
  readonly funcName: string;
  readonly numOutputs: number;
  readonly flattenData: boolean;
}

function parseNode(raw: unknown, nid: number, outputsOf: readonly number[]): RawNode {
  const where = `nodes[${nid}]`;
  if (!isRecord(raw)) fail(`${where} must be an object`);
  const { op, name } = raw;
  if (op !== 'null' && op !== 'tvm_op') {
    fail(`${where}.op must be "null" or "tvm_op", got ${JSON.stringify(op)}`);
  }
  if (typeof name !== 'string') fail(`${where}.name must be a string`);
  const inputs = array(raw['inputs'] ?? [], `${where}.inputs`).map((input, i) => {
    const ref = array(input, `${where}.inputs[${i}]`);
    if (ref.length !== 2 && ref.length !== 3) {
      fail(`${where}.inputs[${i}] must be [node_id, index] or [node_id, index, version]`);
    }
    // Nodes run in order, so an input must come from an earlier node.
    const source = index(ref[0], `${where}.inputs[${i}][0]`, nid);
    const out = index(ref[1], `${where}.inputs[${i}][1]`, outputsOf[source]!);
    return [source, out] as const;
  });
  if (op === 'null') {
    if (inputs.length !== 0) fail(`${where} is a "null" node and must have no inputs`);
    return { op, name, inputs, funcName: '', numOutputs: 1, flattenData: false };
  }
  const attrs = raw['attrs'] ?? raw['attr'];
  if (!isRecord(attrs)) fail(`${where}.attrs must be an object`);
  const funcName = attrs['func_name'];
  if (typeof funcName !== 'string' || funcName.length === 0) {
    fail(`${where}.attrs.func_name must be a non-empty string`);
  }
  if (funcName === '__copy') {
    fail(`${where} is a cross-device copy ("__copy"); only single-device (CPU) graphs run here`);
  }
  const numInputs = decimalAttr(attrs, 'num_inputs', where);
  const numOutputs = decimalAttr(attrs, 'num_outputs', where);
  const flatten =
    attrs['flatten_data'] === undefined ? 0 : decimalAttr(attrs, 'flatten_data', where);
  if (numInputs !== inputs.length) {
    fail(`${where}.attrs.num_inputs is ${numInputs} but the node has ${inputs.length} inputs`);
  }
  if (numOutputs < 1) fail(`${where}.attrs.num_outputs must be at least 1`);
  if (flatten > 1) fail(`${where}.attrs.flatten_data must be "0" or "1"`);
  return { op, name, inputs, funcName, numOutputs, flattenData: flatten === 1 };
}

/** A validated tensor description: dtype, shape and byte length (at most 4 GiB). */
export interface TensorLayout {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly byteLength: number;
}

/**
 * Validates a dtype string and a shape as TVM writes them (graph entries, AOT signatures);
 * `dtypeWhere` and `shapeWhere` name the fields in messages, `reject` throws.
 */
export function tensorLayout(
  dltype: unknown,
  rawShape: unknown,
  dtypeWhere: string,
  shapeWhere: string,
  reject: (message: string) => never,
): TensorLayout {
  const known = typeof dltype === 'string' ? fromTvmName(dltype) : undefined;
  if (known === undefined)
    reject(`${dtypeWhere} ${JSON.stringify(dltype)} is not a supported dtype`);
  if (!Array.isArray(rawShape)) reject(`${shapeWhere} must be an array`);
  const dims: unknown[] = rawShape;
  if (dims.length > MAX_NDIM)
    reject(`${shapeWhere} has ${dims.length} dimensions (at most ${MAX_NDIM})`);
  const shape = dims.map((d, i) => {
    if (!Number.isSafeInteger(d) || (d as number) < 0 || (d as number) >= MAX_BYTES) {
      reject(
        `${shapeWhere}[${i}] must be an integer in [0, ${MAX_BYTES}), got ${JSON.stringify(d)}`,
      );
    }
    return d as number;
  });
  let byteLength = DTYPE_SIZE[known.dtype];
  for (const d of shape) {
    byteLength *= d;
    if (byteLength > MAX_BYTES) reject(`${shapeWhere} [${shape.join(', ')}] exceeds 4 GiB`);
  }
  return { dtype: known.dtype, shape, byteLength };
}

/** Parses JSON text of a TVM executor config (graph JSON or AOT signature). */
export function parseConfigJson(json: string): unknown {
  try {
    return JSON.parse(json) as unknown;
  } catch (err) {
    fail(`not valid JSON: ${(err as Error).message}`);
  }
}

/** Parses and validates TVM graph JSON text; every error is a TVM_GRAPH_INVALID SemirtError. */
export function parseGraph(json: string): TvmGraph {
  return parseGraphValue(parseConfigJson(json));
}

/** Validates parsed TVM graph JSON; every error is a TVM_GRAPH_INVALID SemirtError. */
export function parseGraphValue(root: unknown): TvmGraph {
  if (!isRecord(root)) fail('the top level must be an object');
  for (const key of Object.keys(root)) {
    if (!TOP_LEVEL_KEYS.has(key)) fail(`unknown top-level key "${key}"`);
  }

  const rawNodes = array(root['nodes'], 'nodes');
  if (rawNodes.length === 0) fail('nodes is empty');
  const outputsOf: number[] = [];
  const nodes = rawNodes.map((raw, nid) => {
    const node = parseNode(raw, nid, outputsOf);
    outputsOf.push(node.numOutputs);
    return node;
  });

  const rowPtr = array(root['node_row_ptr'], 'node_row_ptr');
  if (rowPtr.length !== nodes.length + 1) {
    fail(`node_row_ptr has ${rowPtr.length} items, expected ${nodes.length + 1} (nodes + 1)`);
  }
  let entryCount = 0;
  nodes.forEach((node, nid) => {
    if (rowPtr[nid] !== entryCount) {
      fail(`node_row_ptr[${nid}] is ${JSON.stringify(rowPtr[nid])}, expected ${entryCount}`);
    }
    entryCount += node.numOutputs;
  });
  if (rowPtr[nodes.length] !== entryCount) {
    fail(
      `node_row_ptr[${nodes.length}] is ${JSON.stringify(rowPtr[nodes.length])}, expected ${entryCount}`,
    );
  }
  const entryId = (nid: number, out: number): number => (rowPtr[nid] as number) + out;

  const attrs = root['attrs'];
  if (!isRecord(attrs)) fail('attrs must be an object');
  const storageIds = typedList(attrs, 'storage_id', 'list_int');
  const shapes = typedList(attrs, 'shape', 'list_shape');
  const dltypes = typedList(attrs, 'dltype', 'list_str');
  for (const [key, list] of [
    ['storage_id', storageIds],
    ['shape', shapes],
    ['dltype', dltypes],
  ] as const) {
    if (list.length !== entryCount)
      fail(`attrs.${key} has ${list.length} items, expected ${entryCount} (one per entry)`);
  }
  if (attrs['device_index'] !== undefined) {
    typedList(attrs, 'device_index', 'list_int').forEach((d, i) => {
      if (d !== 1)
        fail(`attrs.device_index[${i}] is ${JSON.stringify(d)}; only the CPU (1) is supported`);
    });
  }
  let storageCount = 0;
  const entries: GraphEntry[] = storageIds.map((sid, eid) => {
    const storageId = index(sid, `attrs.storage_id[${eid}]`, entryCount);
    storageCount = Math.max(storageCount, storageId + 1);
    const layout = tensorLayout(
      dltypes[eid],
      shapes[eid],
      `attrs.dltype[${eid}]`,
      `attrs.shape[${eid}]`,
      fail,
    );
    return { storageId, ...layout };
  });

  const argNodes = array(root['arg_nodes'], 'arg_nodes');
  const seenArgs = new Set<number>();
  const args: GraphArg[] = argNodes.map((raw, i) => {
    const nid = index(raw, `arg_nodes[${i}]`, nodes.length);
    const node = nodes[nid]!;
    if (node.op !== 'null') fail(`arg_nodes[${i}] is node ${nid}, which is not a "null" node`);
    if (seenArgs.has(nid)) fail(`arg_nodes lists node ${nid} twice`);
    seenArgs.add(nid);
    return { nodeId: nid, name: node.name, entryId: entryId(nid, 0) };
  });
  nodes.forEach((node, nid) => {
    if (node.op === 'null' && !seenArgs.has(nid))
      fail(`node ${nid} ("${node.name}") is a "null" node missing from arg_nodes`);
  });
  const argNames = new Set<string>();
  for (const arg of args) {
    if (argNames.has(arg.name)) fail(`two arg nodes are named "${arg.name}"`);
    argNames.add(arg.name);
  }

  const ops: GraphOp[] = [];
  nodes.forEach((node, nid) => {
    if (node.op !== 'tvm_op') return;
    const inputs = node.inputs.map(([source, out]) => entryId(source, out));
    const outputs = Array.from({ length: node.numOutputs }, (_, out) => entryId(nid, out));
    const nop = node.funcName === '__nop';
    if (nop) {
      // The graph executor skips __nop: it is only correct when the output aliases the input.
      const input = inputs.length === 1 ? entries[inputs[0]!] : undefined;
      const output = outputs.length === 1 ? entries[outputs[0]!] : undefined;
      if (
        input === undefined ||
        output === undefined ||
        input.storageId !== output.storageId ||
        input.byteLength !== output.byteLength
      ) {
        fail(
          `nodes[${nid}] is "__nop" but its one output does not alias its one input (same storage id and size)`,
        );
      }
    }
    ops.push({
      nodeId: nid,
      name: node.name,
      funcName: node.funcName,
      nop,
      flattenData: node.flattenData,
      inputs,
      outputs,
    });
  });

  const heads: GraphHead[] = array(root['heads'], 'heads').map((raw, i) => {
    const ref = array(raw, `heads[${i}]`);
    if (ref.length !== 2 && ref.length !== 3)
      fail(`heads[${i}] must be [node_id, index] or [node_id, index, version]`);
    const nid = index(ref[0], `heads[${i}][0]`, nodes.length);
    const out = index(ref[1], `heads[${i}][1]`, outputsOf[nid]!);
    const node = nodes[nid]!;
    return {
      name: node.numOutputs > 1 ? `${node.name}:${out}` : node.name,
      entryId: entryId(nid, out),
    };
  });
  if (heads.length === 0) fail('heads is empty: the graph has no outputs');

  return { entries, args, ops, heads, storageCount };
}
