import { SemirtError } from '../../errors.js';
import { WASM_PAGE, type BackendImport, type OperatorLibrary } from './library.js';
import { ALIGNMENT, type MemoryPlan, type PlannedCall } from './plan.js';
import { wasm, type WasmInstance, type WasmMemory, type WasmTable } from './wasm-api.js';

/**
 * One instance of an operator library with its own linear memory, laid out by a memory plan,
 * and the host side of TVM's backend API. The library is untrusted code: every pointer it
 * hands the host is bounds-checked, host functions report failures the TVM way (NULL or -1
 * plus a last-error message) instead of throwing into wasm, and the host never reads a
 * pointer back from wasm memory to find its own data.
 */

/** Library error messages are cut here: they are model-supplied text. */
const MAX_ERROR_BYTES = 512;
const DEVICE_CPU = 1;

type WasmFunction = ((...args: number[]) => unknown) & { readonly length: number };

/** A bound call: runs one planned call with absolute addresses. */
interface BoundCall {
  readonly call: PlannedCall;
  readonly invoke: () => unknown;
}

interface Workspace {
  readonly ptr: number;
  freed: boolean;
}

export interface InstanceOptions {
  readonly library: OperatorLibrary;
  readonly plan: MemoryPlan;
  readonly limitBytes: number;
}

const align = (n: number, to: number): number => Math.ceil(n / to) * to;

/** Binds an export to a planned call, checking that its arity fits the calling convention. */
function bindCall(
  exports: Readonly<Record<string, unknown>>,
  call: PlannedCall,
  base: number,
): () => unknown {
  const fn = exports[call.funcName] as WasmFunction;
  switch (call.kind) {
    case 'packed': {
      // TVM's packed C functions take 6 arguments (older releases 5, without resource_handle).
      if (fn.length !== 6 && fn.length !== 5) {
        invalid(`"${call.funcName}" takes ${fn.length} parameters, not a packed function's 6`);
      }
      const args = base + call.values;
      const codes = base + call.typeCodes;
      const ret = base + call.retValue;
      const retCode = base + call.retTypeCode;
      return () => fn(args, codes, call.numArgs, ret, retCode, 0);
    }
    case 'entry': {
      if (fn.length !== 2) {
        invalid(
          `"${call.funcName}" takes ${fn.length} parameters, not the AOT entry point's 2 (inputs, outputs)`,
        );
      }
      const inputs = base + call.inputs;
      const outputs = base + call.outputs;
      return () => fn(inputs, outputs);
    }
  }
}

function invalid(message: string): never {
  throw new SemirtError(
    'TVM_LIBRARY_INVALID',
    `Cannot instantiate TVM operator library: ${message}`,
  );
}

export class LibraryInstance {
  readonly #plan: MemoryPlan;
  readonly #memory: WasmMemory;
  #table: WasmTable | undefined;
  #calls: readonly BoundCall[] = [];
  #base = 0;
  #descriptors: Uint8Array = new Uint8Array(0);
  #workspaceTop = 0;
  #workspaces: Workspace[] = [];
  #inLaunch = false;
  #lastError: string | undefined;

  private constructor(plan: MemoryPlan, memory: WasmMemory) {
    this.#plan = plan;
    this.#memory = memory;
  }

  /** Instantiates the library, lays out the plan above `__heap_base` and loads the params. */
  static create({ library, plan, limitBytes }: InstanceOptions): LibraryInstance {
    const limitPages = Math.floor(limitBytes / WASM_PAGE);
    const maximum = Math.min(limitPages, library.maxPages ?? limitPages);
    if (library.minPages > maximum) {
      throw new SemirtError(
        'TVM_MEMORY_LIMIT',
        `Cannot instantiate TVM operator library: it declares ${library.minPages} memory pages, more than the limit of ${maximum}`,
      );
    }
    let memory: WasmMemory;
    try {
      memory = new wasm.Memory({ initial: library.minPages, maximum });
    } catch (err) {
      throw new SemirtError(
        'TVM_MEMORY_LIMIT',
        `Cannot instantiate TVM operator library: ${library.minPages} memory pages cannot be allocated: ${(err as Error).message}`,
      );
    }
    const host = new LibraryInstance(plan, memory);
    let instance: WasmInstance;
    try {
      instance = new wasm.Instance(library.module, { env: { memory, ...host.#imports() } });
    } catch (err) {
      throw new SemirtError(
        'TVM_LIBRARY_INVALID',
        `Cannot instantiate TVM operator library: ${(err as Error).message}`,
      );
    }
    host.#bind(instance, limitBytes);
    return host;
  }

  #bind(instance: WasmInstance, limitBytes: number): void {
    const exports = instance.exports;
    const heapGlobal = exports['__heap_base'];
    const heapBase = heapGlobal instanceof wasm.Global ? heapGlobal.value : undefined;
    if (
      typeof heapBase !== 'number' ||
      !Number.isInteger(heapBase) ||
      heapBase < 0 ||
      heapBase > this.#memory.buffer.byteLength
    ) {
      invalid(`__heap_base ${String(heapBase)} is not an address inside its initial memory`);
    }
    const table = exports['__indirect_function_table'];
    this.#table = table instanceof wasm.Table ? table : undefined;
    const base = align(heapBase, ALIGNMENT);
    this.#calls = this.#plan.calls.map((call) => ({ call, invoke: bindCall(exports, call, base) }));
    this.#base = base;
    const end = this.#base + this.#plan.workspaceStart;
    if (end > limitBytes) {
      throw new SemirtError(
        'TVM_MEMORY_LIMIT',
        `Cannot instantiate TVM operator library: its data and the memory plan need ${end} bytes, more than the limit of ${limitBytes}`,
      );
    }
    if (!this.#ensure(end)) {
      throw new SemirtError(
        'TVM_MEMORY_LIMIT',
        `Cannot instantiate TVM operator library: memory cannot grow to ${end} bytes (its declared maximum is lower)`,
      );
    }
    this.#descriptors = this.#plan.buildDescriptors(this.#base);
    const bytes = new Uint8Array(this.#memory.buffer);
    for (const param of this.#plan.params) bytes.set(param.data, this.#base + param.offset);
    // A start function may have called the host already: begin from a clean workspace stack.
    this.#workspaceTop = this.#base + this.#plan.workspaceStart;
    this.#workspaces = [];
  }

  /** Grows memory so that [0, end) exists; false when the maximum forbids it. */
  #ensure(end: number): boolean {
    const have = this.#memory.buffer.byteLength;
    if (end <= have) return true;
    try {
      this.#memory.grow(Math.ceil((end - have) / WASM_PAGE));
      return true;
    } catch {
      return false;
    }
  }

  /** Copies `data` to a host-planned offset (inputs). */
  write(offset: number, data: Uint8Array): void {
    new Uint8Array(this.#memory.buffer).set(data, this.#base + offset);
  }

  /** Copies bytes out of a host-planned offset (outputs); the copy owns its buffer. */
  read(offset: number, byteLength: number): Uint8Array {
    const start = this.#base + offset;
    return new Uint8Array(this.#memory.buffer).slice(start, start + byteLength);
  }

  /**
   * Runs every op in order. Throws TVM_OPERATOR_FAILED: an OperatorTrap when an op trapped or
   * threw, after which the instance must be discarded (the library's stack pointer and state
   * are undefined); a plain SemirtError when an op returned an error code (the instance is fine).
   */
  run(): void {
    // Restore the argument descriptors: a previous op may have scribbled over them.
    new Uint8Array(this.#memory.buffer).set(this.#descriptors, this.#base);
    for (const { call, invoke } of this.#calls) {
      this.#lastError = undefined;
      let rc: unknown;
      try {
        rc = invoke();
      } catch (err) {
        throw new OperatorTrap(call, err);
      } finally {
        this.#workspaceTop = this.#base + this.#plan.workspaceStart;
        this.#workspaces = [];
      }
      if (rc !== 0) {
        const detail = this.#takeError() ?? 'it set no error message';
        throw new SemirtError(
          'TVM_OPERATOR_FAILED',
          `TVM operator "${call.opName}" (${call.funcName}) returned ${String(rc)}: ${detail}`,
        );
      }
    }
  }

  #fail(message: string): void {
    this.#lastError = message;
  }

  #takeError(): string | undefined {
    const message = this.#lastError;
    this.#lastError = undefined;
    return message;
  }

  /** Reads a NUL-terminated string the library points to, bounded by memory and a length cap. */
  #string(ptr: number): string {
    const bytes = new Uint8Array(this.#memory.buffer);
    if (ptr === 0 || ptr >= bytes.byteLength)
      return `(message pointer 0x${ptr.toString(16)} is NULL or outside memory)`;
    const limit = Math.min(bytes.byteLength, ptr + MAX_ERROR_BYTES);
    let end = ptr;
    while (end < limit && bytes[end] !== 0) end++;
    // Control characters would let a library forge log lines.
    const text = new TextDecoder().decode(bytes.slice(ptr, end)).replace(/[\p{Cc}]/gu, '?');
    return end < limit ? text : `${text}… (unterminated or longer than ${MAX_ERROR_BYTES} bytes)`;
  }

  #imports(): Record<BackendImport, (...args: never[]) => unknown> {
    return {
      TVMAPISetLastError: (ptr: number): void => {
        this.#fail(this.#string(ptr >>> 0));
      },
      TVMBackendAllocWorkspace: (
        deviceType: number,
        _deviceId: number,
        nbytes: bigint | number,
      ): number => {
        if (deviceType !== DEVICE_CPU) {
          this.#fail(`TVMBackendAllocWorkspace: device type ${deviceType} is not the CPU (1)`);
          return 0;
        }
        const size = typeof nbytes === 'bigint' ? nbytes : BigInt(Math.trunc(nbytes));
        const ptr = align(this.#workspaceTop, ALIGNMENT);
        const end = BigInt(ptr) + size;
        if (size < 0n || (end > BigInt(this.#memory.buffer.byteLength) && !this.#ensureBig(end))) {
          this.#fail(`TVMBackendAllocWorkspace: ${size} bytes do not fit in the memory limit`);
          return 0;
        }
        this.#workspaceTop = Number(end);
        this.#workspaces.push({ ptr, freed: false });
        return ptr;
      },
      TVMBackendFreeWorkspace: (_deviceType: number, _deviceId: number, ptr: number): number => {
        const address = ptr >>> 0;
        const workspace = this.#workspaces.find((w) => w.ptr === address && !w.freed);
        if (workspace === undefined) {
          this.#fail(`TVMBackendFreeWorkspace: 0x${address.toString(16)} is not a live workspace`);
          return -1;
        }
        workspace.freed = true;
        // Space is reclaimed when the most recent workspaces are freed (TVM frees in LIFO order).
        while (this.#workspaces.at(-1)?.freed === true)
          this.#workspaceTop = this.#workspaces.pop()!.ptr;
        return 0;
      },
      TVMBackendParallelLaunch: (flambda: number, cdata: number, _numTask: number): number => {
        if (this.#inLaunch) {
          this.#fail('TVMBackendParallelLaunch: nested parallel regions are not supported');
          return -1;
        }
        let lambda: unknown;
        try {
          lambda = this.#table?.get(flambda >>> 0);
        } catch {
          lambda = undefined;
        }
        if (typeof lambda !== 'function') {
          this.#fail(
            `TVMBackendParallelLaunch: function index ${flambda >>> 0} is not in the table`,
          );
          return -1;
        }
        // One thread: the pool may run fewer tasks than asked, and num_task tells the lambda.
        const view = new DataView(this.#memory.buffer);
        const env = this.#base + this.#plan.parallelEnv;
        view.setUint32(env, 0, true);
        view.setInt32(env + 4, 1, true);
        this.#inLaunch = true;
        try {
          const rc: unknown = (lambda as (task: number, env: number, cdata: number) => unknown)(
            0,
            env,
            cdata,
          );
          return rc === 0 ? 0 : -1;
        } finally {
          this.#inLaunch = false;
        }
      },
    };
  }

  #ensureBig(end: bigint): boolean {
    return end <= BigInt(Number.MAX_SAFE_INTEGER) && this.#ensure(Number(end));
  }
}

/** An operator trapped or threw; the instance that ran it must not be reused. */
export class OperatorTrap extends SemirtError {
  constructor(call: PlannedCall, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(
      'TVM_OPERATOR_FAILED',
      `TVM operator "${call.opName}" (${call.funcName}) trapped: ${reason}`,
      { cause },
    );
  }
}
