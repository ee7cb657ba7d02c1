/**
 * Hot integer loops as WebAssembly SIMD, assembled here from our own instruction list (no
 * toolchain, no binary blobs). Two kernels, both exact integer arithmetic:
 * - `matvec(w, x, depth, rows, out)`: out[o] = Σ_d w[o·depth + d] · x[d], with int8 weights,
 *   int16 inputs and int32 results (i32x4.dot_i16x8_s, 8 products per step);
 * - `dwacc(acc, w, x, n)`: acc[c] += w[c] · x[c] for int32 acc, int8 w, int16 x.
 * - `widen8(src, dst, n, offset)`: dst[i] = src[i] + offset, int8 → int16 (the offset input);
 * - `requant8(acc, bias, mult, shift, n, out, outOffset, min, max)`: TFLite's double-rounding
 *   MultiplyByQuantizedMultiplier per channel with exact 64-bit products, then offset and clamp.
 * Products of an int8 and an int16 below 2^15 in magnitude, summed in int32 lanes, wrap exactly
 * like the C reference's int32 accumulators.
 */

const I32 = 0x7f;
const V128 = 0x7b;

function uleb(n: number): number[] {
  const out: number[] = [];
  let v = n >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  let v = n | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

function sleb64(n: bigint): number[] {
  const out: number[] = [];
  let v = n;
  for (;;) {
    const byte = Number(v & 0x7fn);
    v >>= 7n;
    if ((v === 0n && (byte & 0x40) === 0) || (v === -1n && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const name = (s: string): number[] => [...uleb(s.length), ...new TextEncoder().encode(s)];

/** Instruction helpers (only what the two kernels use). */
const op = {
  get: (i: number) => [0x20, ...uleb(i)],
  set: (i: number) => [0x21, ...uleb(i)],
  tee: (i: number) => [0x22, ...uleb(i)],
  const: (v: number) => [0x41, ...sleb(v)],
  add: [0x6a],
  sub: [0x6b],
  mul: [0x6c],
  shl: [0x74],
  and: [0x71],
  ltS: [0x48],
  load: [0x28, 2, 0],
  store: [0x36, 2, 0],
  load8s: [0x2c, 0, 0],
  load16s: [0x2e, 1, 0],
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  end: [0x0b],
  br: (d: number) => [0x0c, ...uleb(d)],
  brIf: (d: number) => [0x0d, ...uleb(d)],
  eqz: [0x45],
  geS: [0x4e],
  gtS: [0x4a],
  shrS: [0x75],
  select: [0x1b],
  store8: [0x3a, 0, 0],
  i64Extend: [0xac],
  i64Mul: [0x7e],
  i64Add: [0x7c],
  i64LtS: [0x53],
  i64ShrS: [0x87],
  i64GeS: [0x59],
  i64Const: (v: number) => [0x42, ...sleb64(BigInt(v))],
  wrap: [0xa7],
  simd: (code: number, ...imm: number[]) => [0xfd, ...uleb(code), ...imm],
};
const v128Load = op.simd(0x00, 0, 0);
const v128Store = op.simd(0x0b, 0, 0);
const load8x8s = op.simd(0x01, 0, 0);
const v128Zero = op.simd(0x0c, ...new Array<number>(16).fill(0));
const i32x4Add = op.simd(0xae);
const i32x4Dot = op.simd(0xba);
const extmulLow = op.simd(0xbc);
const extmulHigh = op.simd(0xbd);
const lane = (i: number) => op.simd(0x1b, i);
const i16x8Load = v128Load;

/** matvec params: 0 w, 1 x, 2 depth, 3 rows, 4 out; locals: 5 o, 6 d, 7 depth8, 8 sum, 9 acc(v128). */
function matvecBody(): number[] {
  const [W, X, DEPTH, ROWS, OUT, O, D, DEPTH8, SUM, ACC] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  return [
    ...op.get(DEPTH),
    ...op.const(-8),
    ...op.and,
    ...op.set(DEPTH8),
    ...op.const(0),
    ...op.set(O),
    ...op.block,
    ...op.loop,
    ...op.get(O),
    ...op.get(ROWS),
    ...op.geS,
    ...op.brIf(1),
    ...v128Zero,
    ...op.set(ACC),
    ...op.const(0),
    ...op.set(D),
    // SIMD part: 8 int8 weights (sign-extended to int16) · 8 int16 inputs per step.
    ...op.block,
    ...op.loop,
    ...op.get(D),
    ...op.get(DEPTH8),
    ...op.geS,
    ...op.brIf(1),
    ...op.get(ACC),
    ...op.get(W),
    ...op.get(D),
    ...op.add,
    ...load8x8s,
    ...op.get(X),
    ...op.get(D),
    ...op.const(1),
    ...op.shl,
    ...op.add,
    ...i16x8Load,
    ...i32x4Dot,
    ...i32x4Add,
    ...op.set(ACC),
    ...op.get(D),
    ...op.const(8),
    ...op.add,
    ...op.set(D),
    ...op.br(0),
    ...op.end,
    ...op.end,
    ...op.get(ACC),
    ...lane(0),
    ...op.get(ACC),
    ...lane(1),
    ...op.add,
    ...op.get(ACC),
    ...lane(2),
    ...op.add,
    ...op.get(ACC),
    ...lane(3),
    ...op.add,
    ...op.set(SUM),
    // Scalar tail.
    ...op.block,
    ...op.loop,
    ...op.get(D),
    ...op.get(DEPTH),
    ...op.geS,
    ...op.brIf(1),
    ...op.get(SUM),
    ...op.get(W),
    ...op.get(D),
    ...op.add,
    ...op.load8s,
    ...op.get(X),
    ...op.get(D),
    ...op.const(1),
    ...op.shl,
    ...op.add,
    ...op.load16s,
    ...op.mul,
    ...op.add,
    ...op.set(SUM),
    ...op.get(D),
    ...op.const(1),
    ...op.add,
    ...op.set(D),
    ...op.br(0),
    ...op.end,
    ...op.end,
    ...op.get(OUT),
    ...op.get(O),
    ...op.const(2),
    ...op.shl,
    ...op.add,
    ...op.get(SUM),
    ...op.store,
    ...op.get(W),
    ...op.get(DEPTH),
    ...op.add,
    ...op.set(W),
    ...op.get(O),
    ...op.const(1),
    ...op.add,
    ...op.set(O),
    ...op.br(0),
    ...op.end,
    ...op.end,
  ];
}

/** dwacc params: 0 acc, 1 w, 2 x, 3 n; locals: 4 c, 5 n8, 6 wide(v128). */
function dwaccBody(): number[] {
  const [ACC, W, X, N, C, N8, WIDE] = [0, 1, 2, 3, 4, 5, 6];
  const accAt = (laneOffset: number) => [
    ...op.get(ACC),
    ...op.get(C),
    ...op.const(2),
    ...op.shl,
    ...op.add,
    ...(laneOffset ? [...op.const(laneOffset), ...op.add] : []),
  ];
  return [
    ...op.get(N),
    ...op.const(-8),
    ...op.and,
    ...op.set(N8),
    ...op.const(0),
    ...op.set(C),
    ...op.block,
    ...op.loop,
    ...op.get(C),
    ...op.get(N8),
    ...op.geS,
    ...op.brIf(1),
    ...op.get(W),
    ...op.get(C),
    ...op.add,
    ...load8x8s,
    ...op.set(WIDE),
    // acc[c..c+3] += low products; acc[c+4..c+7] += high products (exact int32 products).
    ...accAt(0),
    ...accAt(0),
    ...v128Load,
    ...op.get(WIDE),
    ...op.get(X),
    ...op.get(C),
    ...op.const(1),
    ...op.shl,
    ...op.add,
    ...i16x8Load,
    ...extmulLow,
    ...i32x4Add,
    ...v128Store,
    ...accAt(16),
    ...accAt(16),
    ...v128Load,
    ...op.get(WIDE),
    ...op.get(X),
    ...op.get(C),
    ...op.const(1),
    ...op.shl,
    ...op.add,
    ...i16x8Load,
    ...extmulHigh,
    ...i32x4Add,
    ...v128Store,
    ...op.get(C),
    ...op.const(8),
    ...op.add,
    ...op.set(C),
    ...op.br(0),
    ...op.end,
    ...op.end,
    ...op.block,
    ...op.loop,
    ...op.get(C),
    ...op.get(N),
    ...op.geS,
    ...op.brIf(1),
    ...accAt(0),
    ...accAt(0),
    ...op.load,
    ...op.get(W),
    ...op.get(C),
    ...op.add,
    ...op.load8s,
    ...op.get(X),
    ...op.get(C),
    ...op.const(1),
    ...op.shl,
    ...op.add,
    ...op.load16s,
    ...op.mul,
    ...op.add,
    ...op.store,
    ...op.get(C),
    ...op.const(1),
    ...op.add,
    ...op.set(C),
    ...op.br(0),
    ...op.end,
    ...op.end,
  ];
}

/** widen8 params: 0 src, 1 dst, 2 n, 3 offset; local 4 i. */
function widen8Body(): number[] {
  const [SRC, DST, N, OFF, I] = [0, 1, 2, 3, 4];
  return [
    ...op.const(0),
    ...op.set(I),
    ...op.block,
    ...op.loop,
    ...op.get(I),
    ...op.get(N),
    ...op.geS,
    ...op.brIf(1),
    ...op.get(DST),
    ...op.get(I),
    ...op.const(1),
    ...op.shl,
    ...op.add,
    ...op.get(SRC),
    ...op.get(I),
    ...op.add,
    ...op.load8s,
    ...op.get(OFF),
    ...op.add,
    0x3b,
    1,
    0, // i32.store16
    ...op.get(I),
    ...op.const(1),
    ...op.add,
    ...op.set(I),
    ...op.br(0),
    ...op.end,
    ...op.end,
  ];
}

/** requant8 params: 0 acc, 1 bias, 2 mult, 3 shift, 4 n, 5 out, 6 outOffset, 7 min, 8 max; locals 9 i, 10 r. */
function requant8Body(mbqmIndex: number): number[] {
  const [ACC, BIAS, MULT, SHIFT, N, OUT, OOFF, MIN, MAX, I, R] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const at = (base: number) => [
    ...op.get(base),
    ...op.get(I),
    ...op.const(2),
    ...op.shl,
    ...op.add,
  ];
  // prettier-ignore
  return [
    ...op.const(0), ...op.set(I),
    ...op.block, ...op.loop,
    ...op.get(I), ...op.get(N), ...op.geS, ...op.brIf(1),
    ...at(ACC), ...op.load, ...at(BIAS), ...op.load, ...op.add,
    ...at(MULT), ...op.load, ...at(SHIFT), ...op.load, 0x10, ...uleb(mbqmIndex),
    ...op.get(OOFF), ...op.add, ...op.set(R),
    ...op.get(OUT), ...op.get(I), ...op.add,
    ...op.get(MIN), ...op.get(R), ...op.get(R), ...op.get(MIN), ...op.ltS, ...op.select, ...op.set(R),
    ...op.get(MAX), ...op.get(R), ...op.get(R), ...op.get(MAX), ...op.gtS, ...op.select,
    ...op.store8,
    ...op.get(I), ...op.const(1), ...op.add, ...op.set(I),
    ...op.br(0), ...op.end, ...op.end,
  ];
}

/** mbqm params: 0 x, 1 multiplier, 2 shift; locals 3 right, 4 mask, 5 r, 6 ab (i64). Returns i32. */
function mbqmBody(): number[] {
  const [X, M, SH, RIGHT, MASK, R, AB] = [0, 1, 2, 3, 4, 5, 6];
  return [
    ...op.get(X),
    ...op.get(SH),
    ...op.const(0),
    ...op.get(SH),
    ...op.const(0),
    ...op.gtS,
    ...op.select,
    ...op.shl,
    ...op.set(X),
    ...op.const(0),
    ...op.get(SH),
    ...op.sub,
    ...op.const(0),
    ...op.get(SH),
    ...op.const(0),
    ...op.ltS,
    ...op.select,
    ...op.set(RIGHT),
    ...op.get(X),
    ...op.i64Extend,
    ...op.get(M),
    ...op.i64Extend,
    ...op.i64Mul,
    ...op.set(AB),
    ...op.get(AB),
    ...op.i64Const(1 << 30),
    ...op.i64Const(1 - (1 << 30)),
    ...op.get(AB),
    ...op.i64Const(0),
    ...op.i64GeS,
    ...op.select,
    // C's truncating division by 2^31: add 2^31 − 1 to negative values, then shift.
    ...op.i64Add,
    ...op.set(AB),
    ...op.get(AB),
    ...op.i64Const(0x7fffffff),
    ...op.i64Const(0),
    ...op.get(AB),
    ...op.i64Const(0),
    ...op.i64LtS,
    ...op.select,
    ...op.i64Add,
    ...op.i64Const(31),
    ...op.i64ShrS,
    ...op.wrap,
    ...op.set(R),
    ...op.const(1),
    ...op.get(RIGHT),
    ...op.shl,
    ...op.const(1),
    ...op.sub,
    ...op.set(MASK),
    ...op.get(R),
    ...op.get(RIGHT),
    ...op.shrS,
    ...op.get(R),
    ...op.get(MASK),
    ...op.and,
    ...op.get(MASK),
    ...op.const(1),
    ...op.shrS,
    ...op.get(R),
    ...op.const(0),
    ...op.ltS,
    ...op.add,
    ...op.gtS,
    ...op.add,
  ];
}

/**
 * addq params: 0 a, 1 b, 2 out, 3 n, 4 p (13 int32 parameters: offset1, offset2, left shift,
 * m1, s1, m2, s2, mOut, sOut, outOffset, min, max, sign); locals 5 i, 6 r.
 * Quantized int8 ADD (sign 1) / SUB (sign −1), TFLite's reference arithmetic.
 */
function addqBody(mbqmIndex: number): number[] {
  const [A, B, OUT, N, P, I, R] = [0, 1, 2, 3, 4, 5, 6];
  const param = (k: number) => [...op.get(P), ...op.const(4 * k), ...op.add, ...op.load];
  const call = [0x10, ...uleb(mbqmIndex)];
  const side = (src: number, offset: number, m: number, s: number) => [
    ...op.get(src),
    ...op.get(I),
    ...op.add,
    ...op.load8s,
    ...param(offset),
    ...op.add,
    ...param(2),
    ...op.shl,
    ...param(m),
    ...param(s),
    ...call,
  ];
  return [
    ...op.const(0),
    ...op.set(I),
    ...op.block,
    ...op.loop,
    ...op.get(I),
    ...op.get(N),
    ...op.geS,
    ...op.brIf(1),
    ...side(A, 0, 3, 4),
    ...side(B, 1, 5, 6),
    ...param(12),
    ...op.mul,
    ...op.add,
    ...param(7),
    ...param(8),
    ...call,
    ...param(9),
    ...op.add,
    ...op.set(R),
    ...op.get(OUT),
    ...op.get(I),
    ...op.add,
    ...param(10),
    ...op.get(R),
    ...op.get(R),
    ...param(10),
    ...op.ltS,
    ...op.select,
    ...op.set(R),
    ...param(11),
    ...op.get(R),
    ...op.get(R),
    ...param(11),
    ...op.gtS,
    ...op.select,
    ...op.store8,
    ...op.get(I),
    ...op.const(1),
    ...op.add,
    ...op.set(I),
    ...op.br(0),
    ...op.end,
    ...op.end,
  ];
}

function code(locals: number[][], body: number[]): number[] {
  const fn = [...vec(locals), ...body, ...op.end];
  return [...uleb(fn.length), ...fn];
}

/** The module's bytes: imports env.memory, exports matvec and dwacc. */
export function simdModuleBytes(): Uint8Array {
  const types = section(
    1,
    vec([
      [0x60, ...vec([[I32], [I32], [I32], [I32], [I32]]), ...vec([])],
      [0x60, ...vec([[I32], [I32], [I32], [I32]]), ...vec([])],
      [0x60, ...vec([[I32], [I32], [I32], [I32], [I32], [I32], [I32], [I32], [I32]]), ...vec([])],
      [0x60, ...vec([[I32], [I32], [I32]]), ...vec([[I32]])],
    ]),
  );
  const imports = section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x00, ...uleb(1)]]));
  const functions = section(3, vec([[0], [1], [1], [2], [3], [0]]));
  const exports = section(
    7,
    vec([
      [...name('matvec'), 0x00, 0],
      [...name('dwacc'), 0x00, 1],
      [...name('widen8'), 0x00, 2],
      [...name('requant8'), 0x00, 3],
      [...name('addq'), 0x00, 5],
    ]),
  );
  const codes = section(
    10,
    vec([
      code(
        [
          [4, I32],
          [1, V128],
        ],
        matvecBody(),
      ),
      code(
        [
          [2, I32],
          [1, V128],
        ],
        dwaccBody(),
      ),
      code([[1, I32]], widen8Body()),
      code([[2, I32]], requant8Body(4)),
      code(
        [
          [3, I32],
          [1, 0x7e],
        ],
        mbqmBody(),
      ),
      code([[2, I32]], addqBody(4)),
    ]),
  );
  return Uint8Array.from([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...types,
    ...imports,
    ...functions,
    ...exports,
    ...codes,
  ]);
}

/**
 * The slice of the WebAssembly JS API used here, typed locally: the project compiles without the
 * DOM lib, which is where TypeScript declares `WebAssembly`.
 */
interface WasmModule {
  readonly __brand: 'WebAssembly.Module';
}
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  readonly Module: new (bytes: Uint8Array) => WasmModule;
  readonly Instance: new (
    module: WasmModule,
    imports: Record<string, Record<string, unknown>>,
  ) => { readonly exports: unknown };
  readonly Memory: new (descriptor: { initial: number; maximum: number }) => WasmMemory;
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

export interface SimdExports {
  readonly matvec: (w: number, x: number, depth: number, rows: number, out: number) => void;
  readonly dwacc: (acc: number, w: number, x: number, n: number) => void;
  readonly widen8: (src: number, dst: number, n: number, offset: number) => void;
  readonly addq: (a: number, b: number, out: number, n: number, params: number) => void;
  readonly requant8: (
    acc: number,
    bias: number,
    mult: number,
    shift: number,
    n: number,
    out: number,
    outOffset: number,
    min: number,
    max: number,
  ) => void;
}

let compiled: WasmModule | undefined;

/** Compiles the module once per thread; undefined when this runtime has no wasm SIMD. */
function simdModule(): WasmModule | undefined {
  if (compiled === undefined) {
    const bytes = simdModuleBytes();
    if (!wasm.validate(bytes)) return undefined;
    compiled = new wasm.Module(bytes);
  }
  return compiled;
}

/**
 * One wasm memory with the SIMD kernels over it, owned by one model in one thread. Kernels copy
 * their weights in once at load (`reserve`), and share a scratch region at run time: sessions of
 * one thread never run at the same time, so they can share it.
 */
export class SimdHeap {
  #top = 64;
  #scratch = 0;
  #memory: WasmMemory | undefined;
  #exports: SimdExports | undefined;
  #pending: { offset: number; bytes: Uint8Array }[] = [];

  /** Reserves `bytes` (16-byte aligned) holding a copy of `data`; returns the offset. */
  reserve(data: Uint8Array, bytes = data.byteLength): number {
    if (this.#memory !== undefined) throw new Error('SimdHeap is sealed');
    const offset = this.#top;
    this.#top += Math.ceil(bytes / 16) * 16;
    this.#pending.push({ offset, bytes: data });
    return offset;
  }

  /** Declares scratch bytes a kernel needs while it runs (the heap keeps the maximum). */
  needScratch(bytes: number): void {
    this.#scratch = Math.max(this.#scratch, Math.ceil(bytes / 16) * 16);
  }

  /** Where the shared scratch region starts. */
  get scratchOffset(): number {
    return this.#top;
  }

  /** Bytes the heap needs: reserved copies plus the largest scratch. */
  get plannedBytes(): number {
    return this.#pending.length === 0 && this.#scratch === 0 ? 0 : this.#top + this.#scratch;
  }

  /** Allocates the memory and copies reserved data in (once); later calls return the same. */
  seal(): { memory: ArrayBuffer; exports: SimdExports } | undefined {
    if (this.#exports !== undefined && this.#memory !== undefined)
      return { memory: this.#memory.buffer, exports: this.#exports };
    const module = simdModule();
    if (module === undefined || (this.#pending.length === 0 && this.#scratch === 0))
      return undefined;
    const pages = Math.ceil((this.#top + this.#scratch) / 65536) + 1;
    this.#memory = new wasm.Memory({ initial: pages, maximum: pages });
    const heap = new Uint8Array(this.#memory.buffer);
    for (const p of this.#pending) heap.set(p.bytes, p.offset);
    this.#pending = [];
    const instance = new wasm.Instance(module, { env: { memory: this.#memory } });
    this.#exports = instance.exports as SimdExports;
    return { memory: this.#memory.buffer, exports: this.#exports };
  }

  /** Whether the SIMD kernels can run here. */
  static available(): boolean {
    return simdModule() !== undefined;
  }
}
