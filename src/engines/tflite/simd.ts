/**
 * Hot integer loops as WebAssembly SIMD, assembled here from our own instruction list (no
 * toolchain, no binary blobs). Five kernels, all exact integer arithmetic:
 * - `matvec(w, x, depth, rows, out)`: out[o] = Σ_d w[o·depth + d] · x[d], with int8 weights,
 *   int16 inputs and int32 results (i32x4.dot_i16x8_s, 8 products per step);
 * - `dwacc(acc, w, x, n)`: acc[c] += w[c] · x[c] for int32 acc, int8 w, int16 x.
 * - `widen8(src, dst, n, offset)`: dst[i] = src[i] + offset, int8 → int16 (the offset input);
 * - `requant8(acc, bias, mult, shift, n, out, outOffset, min, max)`: TFLite's double-rounding
 *   MultiplyByQuantizedMultiplier per channel with exact 64-bit products, then offset and clamp;
 * - `addq(a, b, out, n, params)`: TFLite's quantized int8 ADD / SUB over whole tensors.
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

/** Instruction helpers (only what the kernels use). */
const op = {
  get: (i: number) => [0x20, ...uleb(i)],
  set: (i: number) => [0x21, ...uleb(i)],
  const: (v: number) => [0x41, ...sleb(v)],
  call: (f: number) => [0x10, ...uleb(f)],
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
  geS: [0x4e],
  gtS: [0x4a],
  shrS: [0x75],
  select: [0x1b],
  store8: [0x3a, 0, 0],
  store16: [0x3b, 1, 0],
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

/** Address of element `index` of an array at `base` with elements of 2^log2Size bytes. */
const addr = (base: number, index: number, log2Size: 0 | 1 | 2): number[] => [
  ...op.get(base),
  ...op.get(index),
  ...(log2Size === 0 ? [] : [...op.const(log2Size), ...op.shl]),
  ...op.add,
];

/** `local += step`. */
const increment = (local: number, step: number | number[]): number[] => [
  ...op.get(local),
  ...(typeof step === 'number' ? op.const(step) : step),
  ...op.add,
  ...op.set(local),
];

/** `while (i < limit) { body; i += step }` (i is not initialised here). */
const whileBelow = (i: number, limit: number, step: number, body: number[]): number[] => [
  ...op.block,
  ...op.loop,
  ...op.get(i),
  ...op.get(limit),
  ...op.geS,
  ...op.brIf(1),
  ...body,
  ...increment(i, step),
  ...op.br(0),
  ...op.end,
  ...op.end,
];

/** `local = 0`. */
const zero = (local: number): number[] => [...op.const(0), ...op.set(local)];

/** `dst = src & ~7`: the part of a count handled 8 lanes at a time. */
const floor8 = (src: number, dst: number): number[] => [
  ...op.get(src),
  ...op.const(-8),
  ...op.and,
  ...op.set(dst),
];

/** Leaves `r` clamped to [min, max] on the stack; `r` holds the lower-clamped value after. */
const clamp = (r: number, min: number[], max: number[]): number[] => [
  ...min,
  ...op.get(r),
  ...op.get(r),
  ...min,
  ...op.ltS,
  ...op.select,
  ...op.set(r),
  ...max,
  ...op.get(r),
  ...op.get(r),
  ...max,
  ...op.gtS,
  ...op.select,
];

/** Sum of the four i32 lanes of a v128 local. */
const laneSum = (v: number): number[] => [
  ...op.get(v),
  ...lane(0),
  ...[1, 2, 3].flatMap((i) => [...op.get(v), ...lane(i), ...op.add]),
];

/** matvec params: 0 w, 1 x, 2 depth, 3 rows, 4 out; locals: 5 o, 6 d, 7 depth8, 8 sum, 9 acc(v128). */
function matvecBody(): number[] {
  const [W, X, DEPTH, ROWS, OUT, O, D, DEPTH8, SUM, ACC] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  return [
    ...floor8(DEPTH, DEPTH8),
    ...zero(O),
    ...whileBelow(O, ROWS, 1, [
      ...v128Zero,
      ...op.set(ACC),
      ...zero(D),
      // SIMD part: 8 int8 weights (sign-extended to int16) · 8 int16 inputs per step.
      ...whileBelow(D, DEPTH8, 8, [
        ...op.get(ACC),
        ...addr(W, D, 0),
        ...load8x8s,
        ...addr(X, D, 1),
        ...i16x8Load,
        ...i32x4Dot,
        ...i32x4Add,
        ...op.set(ACC),
      ]),
      ...laneSum(ACC),
      ...op.set(SUM),
      // Scalar tail.
      ...whileBelow(D, DEPTH, 1, [
        ...op.get(SUM),
        ...addr(W, D, 0),
        ...op.load8s,
        ...addr(X, D, 1),
        ...op.load16s,
        ...op.mul,
        ...op.add,
        ...op.set(SUM),
      ]),
      ...addr(OUT, O, 2),
      ...op.get(SUM),
      ...op.store,
      ...increment(W, op.get(DEPTH)),
    ]),
  ];
}

/** dwacc params: 0 acc, 1 w, 2 x, 3 n; locals: 4 c, 5 n8, 6 wide(v128). */
function dwaccBody(): number[] {
  const [ACC, W, X, N, C, N8, WIDE] = [0, 1, 2, 3, 4, 5, 6];
  const accAt = (laneOffset: number) => [
    ...addr(ACC, C, 2),
    ...(laneOffset ? [...op.const(laneOffset), ...op.add] : []),
  ];
  // acc[c + laneOffset/4 ..] += one half of the exact int32 products w · x.
  const accumulateHalf = (laneOffset: number, extmul: number[]) => [
    ...accAt(laneOffset),
    ...accAt(laneOffset),
    ...v128Load,
    ...op.get(WIDE),
    ...addr(X, C, 1),
    ...i16x8Load,
    ...extmul,
    ...i32x4Add,
    ...v128Store,
  ];
  return [
    ...floor8(N, N8),
    ...zero(C),
    ...whileBelow(C, N8, 8, [
      ...addr(W, C, 0),
      ...load8x8s,
      ...op.set(WIDE),
      // acc[c..c+3] += low products; acc[c+4..c+7] += high products (exact int32 products).
      ...accumulateHalf(0, extmulLow),
      ...accumulateHalf(16, extmulHigh),
    ]),
    ...whileBelow(C, N, 1, [
      ...accAt(0),
      ...accAt(0),
      ...op.load,
      ...addr(W, C, 0),
      ...op.load8s,
      ...addr(X, C, 1),
      ...op.load16s,
      ...op.mul,
      ...op.add,
      ...op.store,
    ]),
  ];
}

/** widen8 params: 0 src, 1 dst, 2 n, 3 offset; local 4 i. */
function widen8Body(): number[] {
  const [SRC, DST, N, OFF, I] = [0, 1, 2, 3, 4];
  return [
    ...zero(I),
    ...whileBelow(I, N, 1, [
      ...addr(DST, I, 1),
      ...addr(SRC, I, 0),
      ...op.load8s,
      ...op.get(OFF),
      ...op.add,
      ...op.store16,
    ]),
  ];
}

/** requant8 params: 0 acc, 1 bias, 2 mult, 3 shift, 4 n, 5 out, 6 outOffset, 7 min, 8 max; locals 9 i, 10 r. */
function requant8Body(mbqmIndex: number): number[] {
  const [ACC, BIAS, MULT, SHIFT, N, OUT, OOFF, MIN, MAX, I, R] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const at = (base: number) => [...addr(base, I, 2), ...op.load];
  // prettier-ignore
  return [
    ...zero(I),
    ...whileBelow(I, N, 1, [
      ...at(ACC), ...at(BIAS), ...op.add,
      ...at(MULT), ...at(SHIFT), ...op.call(mbqmIndex),
      ...op.get(OOFF), ...op.add, ...op.set(R),
      ...addr(OUT, I, 0),
      ...clamp(R, op.get(MIN), op.get(MAX)),
      ...op.store8,
    ]),
  ];
}

/** mbqm params: 0 x, 1 multiplier, 2 shift; locals 3 right, 4 mask, 5 r, 6 ab (i64). Returns i32. */
function mbqmBody(): number[] {
  const [X, M, SH, RIGHT, MASK, R, AB] = [0, 1, 2, 3, 4, 5, 6];
  // `cond ? value : 0` with value on the stack before.
  const orZero = (cond: number[]) => [
    ...op.const(0),
    ...op.get(SH),
    ...op.const(0),
    ...cond,
    ...op.select,
  ];
  // ab + (ab compared with 0 ? ifTrue : ifFalse), in i64.
  const addSigned = (ifTrue: number, ifFalse: number, cond: number[]) => [
    ...op.get(AB),
    ...op.i64Const(ifTrue),
    ...op.i64Const(ifFalse),
    ...op.get(AB),
    ...op.i64Const(0),
    ...cond,
    ...op.select,
    ...op.i64Add,
  ];
  return [
    ...op.get(X),
    ...op.get(SH),
    ...orZero(op.gtS),
    ...op.shl,
    ...op.set(X),
    ...op.const(0),
    ...op.get(SH),
    ...op.sub,
    ...orZero(op.ltS),
    ...op.set(RIGHT),
    ...op.get(X),
    ...op.i64Extend,
    ...op.get(M),
    ...op.i64Extend,
    ...op.i64Mul,
    ...op.set(AB),
    ...addSigned(1 << 30, 1 - (1 << 30), op.i64GeS),
    ...op.set(AB),
    // C's truncating division by 2^31: add 2^31 − 1 to negative values, then shift.
    ...addSigned(0x7fffffff, 0, op.i64LtS),
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
  const call = op.call(mbqmIndex);
  const side = (src: number, offset: number, m: number, s: number) => [
    ...addr(src, I, 0),
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
    ...zero(I),
    ...whileBelow(I, N, 1, [
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
      ...addr(OUT, I, 0),
      ...clamp(R, param(10), param(11)),
      ...op.store8,
    ]),
  ];
}

function code(locals: number[][], body: number[]): number[] {
  const fn = [...vec(locals), ...body, ...op.end];
  return [...uleb(fn.length), ...fn];
}

/** A function type taking `params` i32 values and returning `results` i32 values. */
const i32Signature = (params: number, results: number): number[] => [
  0x60,
  ...vec(new Array<number[]>(params).fill([I32])),
  ...vec(new Array<number[]>(results).fill([I32])),
];

/** The module's bytes: imports env.memory, exports matvec, dwacc, widen8, requant8 and addq. */
export function simdModuleBytes(): Uint8Array {
  const types = section(
    1,
    vec([i32Signature(5, 0), i32Signature(4, 0), i32Signature(9, 0), i32Signature(3, 1)]),
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
