import { SemirtError } from '../../errors.js';
import type { TensorInfo } from '../engine.js';
import { toDLDataType } from './dtype.js';
import type { GraphEntry, TvmGraph } from './graph.js';
import type { ParamTensor } from './params.js';

/**
 * The memory plan of a graph inside the host-owned part of wasm memory (everything above the
 * library's `__heap_base`). Offsets are relative to that region's base, which is 64-byte
 * aligned; the descriptor image (DLTensors, argument arrays) is rebuilt for each instance
 * because it holds absolute addresses.
 *
 * Region layout: [descriptors: per op TVMValue[n], type codes i32[n], DLTensor[n], shapes]
 *                [parallel env] [storage pool, one block per storage id] [workspace stack →]
 */

/** TVM aligns data (kAllocAlignment) and workspaces (kTempAllocaAlignment) to 64 bytes. */
export const ALIGNMENT = 64;
const DLTENSOR_BYTES = 40;
/** TVM's kTVMDLTensorHandle: how the graph executor passes each argument. */
export const TYPE_CODE_DLTENSOR = 7;
const DEVICE_CPU = 1;

/** One packed-function call of the graph executor: where its argument arrays are. */
export interface PackedCall {
  readonly kind: 'packed';
  readonly opName: string;
  readonly funcName: string;
  readonly numArgs: number;
  readonly values: number;
  readonly typeCodes: number;
  readonly retValue: number;
  readonly retTypeCode: number;
}

/**
 * The call of TVM's ahead-of-time entry point (C interface API):
 * `int32_t tvmgen_<name>_run(struct tvmgen_<name>_inputs*, struct tvmgen_<name>_outputs*)`,
 * each struct an array of data pointers in signature order.
 */
export interface EntryCall {
  readonly kind: 'entry';
  readonly opName: string;
  readonly funcName: string;
  readonly inputs: number;
  readonly outputs: number;
}

export type PlannedCall = PackedCall | EntryCall;

/** A tensor the host reads or writes: its entry and the offset of its data. */
export interface PlannedTensor {
  readonly info: TensorInfo;
  readonly offset: number;
  readonly byteLength: number;
}

export interface MemoryPlan {
  readonly calls: readonly PlannedCall[];
  readonly inputs: readonly PlannedTensor[];
  readonly outputs: readonly PlannedTensor[];
  readonly params: readonly { readonly offset: number; readonly data: Uint8Array }[];
  /** Offset of TVMParallelGroupEnv {void* sync_handle; int32 num_task}. */
  readonly parallelEnv: number;
  /** Bytes of the descriptor part (start of region up to the parallel env). */
  readonly descriptorBytes: number;
  /** Offset where workspaces start; everything before is static. */
  readonly workspaceStart: number;
  /** Writes the descriptor part for a region placed at absolute address `base`. */
  buildDescriptors(base: number): Uint8Array;
}

/** Rounds `n` up to a multiple of `to`. */
export const align = (n: number, to: number): number => Math.ceil(n / to) * to;

/** A check that a plan's end offset stays within the memory limit. */
export function withinLimit(limitBytes: number): (end: number) => number {
  return (end) => {
    if (end > limitBytes) {
      throw new SemirtError(
        'TVM_MEMORY_LIMIT',
        `Cannot load TVM model: its memory plan needs more than the limit of ${limitBytes} bytes`,
      );
    }
    return end;
  };
}

function paramFail(message: string): never {
  throw new SemirtError('TVM_PARAMS_INVALID', `Cannot load TVM params: ${message}`);
}

interface ArgLayout {
  readonly entry: GraphEntry;
  readonly shape: readonly number[];
  readonly tensorOffset: number;
  readonly shapeOffset: number;
}

/**
 * Matches params to the graph and lays out memory. Params must name arg nodes and agree in
 * dtype and shape; the other arg nodes are the model inputs; no operator may write the storage
 * of a param (weights stay as loaded across runs).
 */
export function planMemory(
  graph: TvmGraph,
  params: ReadonlyMap<string, ParamTensor>,
  limitBytes: number,
): MemoryPlan {
  const argByName = new Map(graph.args.map((a) => [a.name, a]));
  const paramStorage = new Set<number>();
  for (const [name, param] of params) {
    const arg = argByName.get(name);
    if (arg === undefined) paramFail(`param "${name}" is not an input node of the graph`);
    const entry = graph.entries[arg.entryId]!;
    if (param.dtype !== entry.dtype)
      paramFail(`param "${name}" is ${param.dtype} but the graph declares ${entry.dtype}`);
    if (
      param.shape.length !== entry.shape.length ||
      param.shape.some((d, i) => d !== entry.shape[i])
    ) {
      paramFail(
        `param "${name}" has shape [${param.shape.join(', ')}] but the graph declares [${entry.shape.join(', ')}]`,
      );
    }
    paramStorage.add(entry.storageId);
  }
  for (const op of graph.ops) {
    if (op.nop) continue;
    for (const eid of op.outputs) {
      if (paramStorage.has(graph.entries[eid]!.storageId)) {
        throw new SemirtError(
          'TVM_GRAPH_INVALID',
          `Cannot load TVM graph: node ${op.nodeId} ("${op.name}") writes storage ${graph.entries[eid]!.storageId}, which holds a param`,
        );
      }
    }
  }

  const fits = withinLimit(limitBytes);

  // Descriptors: each op gets its own DLTensors, as TVM's graph executor does (flatten_data
  // rewrites shapes per op).
  let at = 0;
  const callLayouts = graph.ops
    .filter((op) => !op.nop)
    .map((op) => {
      const eids = [...op.inputs, ...op.outputs];
      const values = align(at, 8);
      const typeCodes = values + 8 * eids.length;
      let cursor = align(typeCodes + 4 * eids.length, 8);
      const args = eids.map((eid) => {
        const entry = graph.entries[eid]!;
        const shape = op.flattenData ? [entry.shape.reduce((a, b) => a * b, 1)] : entry.shape;
        const tensorOffset = cursor;
        const shapeOffset = tensorOffset + DLTENSOR_BYTES;
        cursor = shapeOffset + 8 * shape.length;
        return { entry, shape, tensorOffset, shapeOffset };
      });
      const retValue = align(cursor, 8);
      const retTypeCode = retValue + 8;
      at = fits(retTypeCode + 4);
      return {
        op,
        args,
        call: {
          kind: 'packed' as const,
          opName: op.name,
          funcName: op.funcName,
          numArgs: eids.length,
          values,
          typeCodes,
          retValue,
          retTypeCode,
        },
      };
    });
  const parallelEnv = align(at, 8);
  const descriptorBytes = parallelEnv;
  at = parallelEnv + 8;

  const storageSize = new Array<number>(graph.storageCount).fill(0);
  for (const entry of graph.entries) {
    storageSize[entry.storageId] = Math.max(storageSize[entry.storageId]!, entry.byteLength);
  }
  const storageOffset = storageSize.map((size) => {
    const offset = align(at, ALIGNMENT);
    at = fits(offset + size);
    return offset;
  });
  const workspaceStart = fits(align(at, ALIGNMENT));
  const dataOf = (entry: GraphEntry): number => storageOffset[entry.storageId]!;

  const planned = (eid: number, name: string): PlannedTensor => {
    const entry = graph.entries[eid]!;
    return {
      info: { name, dtype: entry.dtype, shape: entry.shape },
      offset: dataOf(entry),
      byteLength: entry.byteLength,
    };
  };

  return {
    calls: callLayouts.map((c) => c.call),
    inputs: graph.args.filter((a) => !params.has(a.name)).map((a) => planned(a.entryId, a.name)),
    outputs: graph.heads.map((h) => planned(h.entryId, h.name)),
    params: graph.args.flatMap((a) => {
      const param = params.get(a.name);
      return param === undefined
        ? []
        : [{ offset: dataOf(graph.entries[a.entryId]!), data: param.data }];
    }),
    parallelEnv,
    descriptorBytes,
    workspaceStart,
    buildDescriptors(base: number): Uint8Array {
      const image = new Uint8Array(descriptorBytes);
      const view = new DataView(image.buffer);
      for (const { args, call } of callLayouts) {
        args.forEach((arg: ArgLayout, i) => {
          view.setUint32(call.values + 8 * i, base + arg.tensorOffset, true);
          view.setInt32(call.typeCodes + 4 * i, TYPE_CODE_DLTENSOR, true);
          const t = arg.tensorOffset;
          const dl = toDLDataType(arg.entry.dtype);
          view.setUint32(t, base + dataOf(arg.entry), true); // data
          view.setInt32(t + 4, DEVICE_CPU, true); // device.device_type
          view.setInt32(t + 8, 0, true); // device.device_id
          view.setInt32(t + 12, arg.shape.length, true); // ndim
          view.setUint8(t + 16, dl.code);
          view.setUint8(t + 17, dl.bits);
          view.setUint16(t + 18, dl.lanes, true);
          view.setUint32(t + 20, base + arg.shapeOffset, true); // shape
          view.setUint32(t + 24, 0, true); // strides: compact
          view.setBigUint64(t + 32, 0n, true); // byte_offset
          arg.shape.forEach((d, k) => {
            view.setBigInt64(arg.shapeOffset + 8 * k, BigInt(d), true);
          });
        });
      }
      return image;
    },
  };
}
