/**
 * Types for the slice of the WebAssembly JS API the TVM engine uses. The project compiles
 * without the DOM lib, which is where TypeScript declares `WebAssembly`; typing the global
 * locally avoids declaring a global namespace another module might declare too.
 */

export interface WasmModule {
  readonly __brand: 'WebAssembly.Module';
}

export interface WasmModuleDescriptor {
  readonly module?: string;
  readonly name: string;
  readonly kind: 'function' | 'table' | 'memory' | 'global' | 'tag';
}

export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(deltaPages: number): number;
}

export interface WasmTable {
  get(index: number): unknown;
}

export interface WasmGlobal {
  readonly value: unknown;
}

export interface WasmInstance {
  readonly exports: Readonly<Record<string, unknown>>;
}

interface WasmApi {
  compile(bytes: Uint8Array): Promise<WasmModule>;
  readonly Module: {
    imports(module: WasmModule): (WasmModuleDescriptor & { module: string })[];
    exports(module: WasmModule): WasmModuleDescriptor[];
  };
  readonly Instance: new (
    module: WasmModule,
    imports: Record<string, Record<string, unknown>>,
  ) => WasmInstance;
  readonly Memory: new (descriptor: { initial: number; maximum: number }) => WasmMemory;
  readonly Table: abstract new (...args: never[]) => WasmTable;
  readonly Global: abstract new (...args: never[]) => WasmGlobal;
}

/** The host's WebAssembly object (Node 20 always has it). */
export const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
