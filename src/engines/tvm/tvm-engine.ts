import { SemirtError } from '../../errors.js';
import type {
  Engine,
  LoadOptions,
  Model,
  ModelArtifact,
  Session,
  Tensor,
  TensorInfo,
} from '../engine.js';
import { isAotSignature, parseAotSignature, planAot } from './aot.js';
import { parseConfigJson, parseGraphValue } from './graph.js';
import { LibraryInstance, OperatorTrap } from './instance.js';
import { compileLibrary, type OperatorLibrary } from './library.js';
import { decodeParams } from './params.js';
import { planMemory, type MemoryPlan } from './plan.js';

/**
 * The TVM engine: TVM's graph executor format (graph JSON + params), or TVM's AOT entry point
 * (see aot.ts), over an operator library of TVM-generated C compiled to wasm32. Each session owns one instance of the library with its
 * own linear memory; weights are copied into it (wasm memories cannot share them).
 */

export interface TvmEngineOptions {
  /** Upper bound of each session's wasm linear memory (library data, storage, workspaces). */
  readonly memoryLimitBytes?: number;
}

/** 512 MiB: far above small models, well below wasm32's 4 GiB. */
export const DEFAULT_MEMORY_LIMIT_BYTES = 512 * 1024 * 1024;
const MAX_MEMORY_LIMIT_BYTES = 4 * 1024 * 1024 * 1024;

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeGraphText(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new SemirtError(
      'TVM_GRAPH_INVALID',
      'Cannot load TVM graph: the graph JSON is not valid UTF-8',
    );
  }
}

const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d];

/** A TVM session: inputs set by name or index, ops run in order, outputs copied out. */
export class TvmSession implements Session {
  readonly #model: TvmModel;
  readonly #onDispose: () => void;
  #instance: LibraryInstance | undefined;
  #disposed = false;

  constructor(model: TvmModel, instance: LibraryInstance, onDispose: () => void) {
    this.#model = model;
    this.#instance = instance;
    this.#onDispose = onDispose;
  }

  #live(): LibraryInstance {
    if (this.#disposed)
      throw new SemirtError('SESSION_CLOSED', 'Cannot use TVM session: it was disposed');
    this.#instance ??= this.#model.instantiate();
    return this.#instance;
  }

  /** Copies one input into wasm memory; after an operator trap, inputs must be set again. */
  setInput(key: string | number, tensor: Tensor): void {
    const inputs = this.#model.plan.inputs;
    const index = typeof key === 'number' ? key : inputs.findIndex((p) => p.info.name === key);
    const planned = inputs[index];
    if (planned === undefined) {
      const names = inputs.map((p) => `"${p.info.name}"`).join(', ');
      throw new SemirtError(
        'INPUT_MISMATCH',
        `Cannot set TVM input ${JSON.stringify(key)}: the model's inputs are ${names}`,
      );
    }
    const { info, byteLength } = planned;
    const sameShape =
      tensor.shape.length === info.shape.length &&
      tensor.shape.every((d, i) => d === info.shape[i]);
    if (tensor.dtype !== info.dtype || !sameShape || tensor.data.byteLength !== byteLength) {
      throw new SemirtError(
        'INPUT_MISMATCH',
        `Cannot set TVM input "${info.name}": expected ${info.dtype} [${info.shape.join(', ')}] (${byteLength} bytes), got ${tensor.dtype} [${tensor.shape.join(', ')}] (${tensor.data.byteLength} bytes)`,
      );
    }
    this.#live().write(planned.offset, tensor.data);
  }

  /** Runs every operator once over the inputs set. */
  invoke(): void {
    try {
      this.#live().run();
    } catch (err) {
      // A trapped instance is replaced on next use: its stack pointer and heap are undefined.
      if (err instanceof OperatorTrap) this.#instance = undefined;
      throw err;
    }
  }

  /** Copies output `index` out of wasm memory. */
  getOutput(index: number): Tensor {
    const planned = this.#model.plan.outputs[index];
    if (planned === undefined)
      throw new RangeError(
        `TVM output index ${index} is out of range (${this.#model.plan.outputs.length} outputs)`,
      );
    const { info, offset, byteLength } = planned;
    return { dtype: info.dtype, shape: info.shape, data: this.#live().read(offset, byteLength) };
  }

  run(inputs: readonly Tensor[]): Promise<Tensor[]> {
    // A throw inside the executor rejects the promise: callers always get a rejection.
    return new Promise((resolve) => {
      const expected = this.#model.plan.inputs.length;
      if (inputs.length !== expected) {
        throw new SemirtError(
          'INPUT_MISMATCH',
          `Cannot run TVM model: expected ${expected} inputs, got ${inputs.length}`,
        );
      }
      inputs.forEach((tensor, i) => {
        this.setInput(i, tensor);
      });
      this.invoke();
      resolve(this.#model.plan.outputs.map((_, i) => this.getOutput(i)));
    });
  }

  /** TVM graph models keep no state between runs. */
  reset(): void {}

  dispose(): Promise<void> {
    if (!this.#disposed) this.#onDispose();
    this.#disposed = true;
    this.#instance = undefined;
    return Promise.resolve();
  }
}

/** A loaded TVM bundle: validated graph, params and compiled library, shared by its sessions. */
export class TvmModel implements Model {
  readonly engine = 'tvm';
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
  readonly plan: MemoryPlan;
  readonly #library: OperatorLibrary;
  readonly #limitBytes: number;
  readonly #sessions = new Set<TvmSession>();
  #disposed = false;

  constructor(plan: MemoryPlan, library: OperatorLibrary, limitBytes: number) {
    this.plan = plan;
    this.#library = library;
    this.#limitBytes = limitBytes;
    this.inputs = plan.inputs.map((p) => p.info);
    this.outputs = plan.outputs.map((p) => p.info);
  }

  /** A fresh library instance laid out and loaded with the params. */
  instantiate(): LibraryInstance {
    return LibraryInstance.create({
      library: this.#library,
      plan: this.plan,
      limitBytes: this.#limitBytes,
    });
  }

  createTvmSession(): TvmSession {
    if (this.#disposed)
      throw new SemirtError(
        'SESSION_CLOSED',
        'Cannot create a TVM session: the model was disposed',
      );
    const session: TvmSession = new TvmSession(this, this.instantiate(), () =>
      this.#sessions.delete(session),
    );
    this.#sessions.add(session);
    return session;
  }

  createSession(): Promise<Session> {
    return new Promise((resolve) => {
      resolve(this.createTvmSession());
    });
  }

  dispose(): Promise<void> {
    if (this.#sessions.size > 0) {
      return Promise.reject(
        new SemirtError(
          'SESSION_CLOSED',
          `Cannot dispose TVM model: ${this.#sessions.size} sessions are still open`,
        ),
      );
    }
    this.#disposed = true;
    return Promise.resolve();
  }
}

function memoryLimit(options: TvmEngineOptions): number {
  const limitBytes = options.memoryLimitBytes ?? DEFAULT_MEMORY_LIMIT_BYTES;
  if (
    !Number.isSafeInteger(limitBytes) ||
    limitBytes < 65536 ||
    limitBytes > MAX_MEMORY_LIMIT_BYTES
  ) {
    throw new RangeError(
      `TVM engine option memoryLimitBytes must be an integer from 65536 to 4 GiB, got ${limitBytes}`,
    );
  }
  return limitBytes;
}

/** Parses, validates and compiles a TVM bundle; every failure is a SemirtError with a TVM_* code. */
export async function loadTvmModel(
  artifact: ModelArtifact,
  options: TvmEngineOptions = {},
): Promise<TvmModel> {
  const limitBytes = memoryLimit(options);
  if (artifact.kind !== 'tvm') {
    throw new SemirtError(
      'MODEL_FORMAT_UNKNOWN',
      'Cannot load TVM model: the artifact is a single file, not a TVM bundle (graph, params, library)',
    );
  }
  const config = parseConfigJson(decodeGraphText(artifact.graphJson));
  let plan: MemoryPlan;
  if (isAotSignature(config)) {
    // AOT libraries link their constants: the params file may only be empty (0 bytes or no arrays).
    const count = artifact.params.byteLength === 0 ? 0 : decodeParams(artifact.params).size;
    if (count > 0) {
      throw new SemirtError(
        'TVM_PARAMS_INVALID',
        `Cannot load TVM params: an AOT model carries its constants in the library, but the params file holds ${count}`,
      );
    }
    plan = planAot(parseAotSignature(config), limitBytes);
  } else {
    plan = planMemory(parseGraphValue(config), decodeParams(artifact.params), limitBytes);
  }
  const library = await compileLibrary(
    artifact.library,
    new Set(plan.calls.map((c) => c.funcName)),
  );
  const model = new TvmModel(plan, library, limitBytes);
  // Instantiating once checks what only a live instance tells: arities, __heap_base, fit.
  model.instantiate();
  return model;
}

/** Creates the TVM engine; options are validated here. */
export function createTvmEngine(options: TvmEngineOptions = {}): Engine {
  const memoryLimitBytes = memoryLimit(options);
  return {
    name: 'tvm',
    accepts(artifact: ModelArtifact): boolean {
      return artifact.kind === 'tvm' && WASM_MAGIC.every((b, i) => artifact.library[i] === b);
    },
    load(artifact: ModelArtifact, _options?: LoadOptions): Promise<Model> {
      return loadTvmModel(artifact, { memoryLimitBytes });
    },
  };
}

/** The TVM engine with default options, for the engine registry. */
export const tvmEngine: Engine = createTvmEngine();
