import { SemirtError } from '../../errors.js';
import { wasm, type WasmModule } from './wasm-api.js';

/**
 * The operator library: a wasm32 module of TVM packed functions. Its contract (docs/tvm.md):
 * it imports its linear memory as `env.memory` (so the host sets the maximum), imports only
 * the TVM backend functions below from `env`, and exports `__heap_base` (the host owns memory
 * above it), each packed function the graph calls, and `__indirect_function_table` when it
 * launches parallel lambdas.
 */

export const WASM_PAGE = 65536;

/** The backend functions the host implements, by import name. */
export const BACKEND_IMPORTS = [
  'TVMBackendAllocWorkspace',
  'TVMBackendFreeWorkspace',
  'TVMAPISetLastError',
  'TVMBackendParallelLaunch',
] as const;
export type BackendImport = (typeof BACKEND_IMPORTS)[number];

/** A compiled, checked library. */
export interface OperatorLibrary {
  readonly module: WasmModule;
  /** Pages the module's memory import declares as its minimum, and its maximum if any. */
  readonly minPages: number;
  readonly maxPages: number | undefined;
  /** Whether the module imports TVMBackendParallelLaunch (it then needs its table exported). */
  readonly launchesLambdas: boolean;
}

function fail(message: string): never {
  throw new SemirtError('TVM_LIBRARY_INVALID', `Cannot load TVM operator library: ${message}`);
}

/** A bounds-checked cursor over wasm binary bytes (LEB128 as in the wasm spec). */
class Cursor {
  pos = 0;
  constructor(readonly bytes: Uint8Array) {}

  byte(): number {
    if (this.pos >= this.bytes.byteLength) fail('the module is truncated');
    return this.bytes[this.pos++]!;
  }

  u32(): number {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) {
        if (result > 0xffffffff) fail('a LEB128 value overflows 32 bits');
        return result;
      }
    }
    fail('a LEB128 value is too long');
  }

  skip(n: number): void {
    if (n > this.bytes.byteLength - this.pos) fail('the module is truncated');
    this.pos += n;
  }

  name(): string {
    const length = this.u32();
    const start = this.pos;
    this.skip(length);
    return new TextDecoder().decode(this.bytes.slice(start, start + length));
  }

  limits(): { min: number; max: number | undefined; shared: boolean } {
    const flags = this.byte();
    if (flags > 3)
      fail(`a limits flag 0x${flags.toString(16)} is not supported (64-bit memories are not)`);
    const min = this.u32();
    const max = (flags & 1) !== 0 ? this.u32() : undefined;
    return { min, max, shared: (flags & 2) !== 0 };
  }
}

/** Reads the limits of the `env.memory` import from the module's import section. */
function readMemoryImport(bytes: Uint8Array): { min: number; max: number | undefined } {
  const c = new Cursor(bytes);
  const header = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  for (const expected of header)
    if (c.byte() !== expected) fail('not a wasm module (bad magic or version)');
  while (c.pos < bytes.byteLength) {
    const id = c.byte();
    const size = c.u32();
    const end = c.pos + size;
    if (id !== 2) {
      c.skip(size);
      continue;
    }
    const count = c.u32();
    for (let i = 0; i < count; i++) {
      const module = c.name();
      const field = c.name();
      const kind = c.byte();
      if (kind === 0) c.u32();
      else if (kind === 1) {
        c.byte();
        c.limits();
      } else if (kind === 2) {
        const limits = c.limits();
        if (module === 'env' && field === 'memory') {
          if (limits.shared)
            fail('env.memory is a shared memory; the library must import a plain one');
          return limits;
        }
      } else if (kind === 3) {
        c.byte();
        c.byte();
      } else fail(`import "${module}.${field}" has unknown kind ${kind}`);
    }
    if (c.pos !== end) fail('the import section length does not match its contents');
  }
  fail('the module does not import its memory as "env.memory" (link with --import-memory)');
}

/**
 * Compiles and checks a library against the functions a graph calls: unknown imports and
 * missing exports are all reported in one error.
 */
export async function compileLibrary(
  bytes: Uint8Array,
  functions: ReadonlySet<string>,
): Promise<OperatorLibrary> {
  // Bytes shared with other threads could change between validation and compilation: copy them.
  const own = bytes.buffer instanceof SharedArrayBuffer ? bytes.slice() : bytes;
  const memory = readMemoryImport(own);
  let module: WasmModule;
  try {
    module = await wasm.compile(own);
  } catch (err) {
    fail(`the module does not compile: ${(err as Error).message}`);
  }
  const problems: string[] = [];
  const allowed = new Set<string>(BACKEND_IMPORTS);
  let launchesLambdas = false;
  for (const imp of wasm.Module.imports(module)) {
    if (imp.module === 'env' && imp.name === 'memory' && imp.kind === 'memory') continue;
    if (imp.module === 'env' && imp.kind === 'function' && allowed.has(imp.name)) {
      launchesLambdas ||= imp.name === 'TVMBackendParallelLaunch';
      continue;
    }
    problems.push(
      `imports ${imp.kind} "${imp.module}.${imp.name}", which the host does not provide`,
    );
  }
  const exports = new Map(wasm.Module.exports(module).map((e) => [e.name, e.kind]));
  if (exports.get('__heap_base') !== 'global')
    problems.push('does not export the global "__heap_base"');
  if (launchesLambdas && exports.get('__indirect_function_table') !== 'table') {
    problems.push(
      'imports TVMBackendParallelLaunch but does not export "__indirect_function_table"',
    );
  }
  const missing = [...functions].filter((name) => exports.get(name) !== 'function').sort();
  if (missing.length > 0)
    problems.push(`does not export the functions ${missing.map((m) => `"${m}"`).join(', ')}`);
  if (problems.length > 0) fail(`the module ${problems.join('; ')}`);
  return { module, minPages: memory.min, maxPages: memory.max, launchesLambdas };
}
