import { ByteBuffer } from 'flatbuffers';
import { SemirtError } from '../../errors.js';

/**
 * Bounds-checked access to a flatbuffer. The `flatbuffers` runtime reads primitives but trusts
 * every offset; a hostile file could point anywhere, so each offset, vtable and vector is
 * checked here against the buffer length before it is followed.
 */
export class FlatBuffer {
  readonly bytes: Uint8Array;
  readonly #bb: ByteBuffer;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.#bb = new ByteBuffer(bytes);
  }

  /** Fails with MODEL_CORRUPT, naming what was being read. */
  corrupt(what: string): never {
    throw new SemirtError(
      'MODEL_CORRUPT',
      `Cannot read the model: ${what} is out of bounds or malformed`,
    );
  }

  #check(pos: number, size: number, what: string): void {
    if (!Number.isInteger(pos) || pos < 0 || pos + size > this.bytes.length) this.corrupt(what);
  }

  u8(pos: number, what: string): number {
    this.#check(pos, 1, what);
    return this.#bb.readUint8(pos);
  }
  i8(pos: number, what: string): number {
    this.#check(pos, 1, what);
    return this.#bb.readInt8(pos);
  }
  u16(pos: number, what: string): number {
    this.#check(pos, 2, what);
    return this.#bb.readUint16(pos);
  }
  i32(pos: number, what: string): number {
    this.#check(pos, 4, what);
    return this.#bb.readInt32(pos);
  }
  u32(pos: number, what: string): number {
    this.#check(pos, 4, what);
    return this.#bb.readUint32(pos);
  }
  f32(pos: number, what: string): number {
    this.#check(pos, 4, what);
    return this.#bb.readFloat32(pos);
  }
  /** Reads a 64-bit integer as a number; values beyond 2^53 are refused. */
  i64(pos: number, what: string): number {
    this.#check(pos, 8, what);
    const value = this.#bb.readInt64(pos);
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
      this.corrupt(`${what} (value beyond 2^53)`);
    }
    return Number(value);
  }

  /** The root table (the offset stored in the first 4 bytes). */
  root(what: string): Table {
    return this.table(this.u32(0, `${what} root offset`), what);
  }

  /** The table at `pos`, with its vtable validated. */
  table(pos: number, what: string): Table {
    this.#check(pos, 4, what);
    const vtable = pos - this.#bb.readInt32(pos);
    this.#check(vtable, 4, `${what} vtable`);
    const vtableSize = this.#bb.readUint16(vtable);
    const tableSize = this.#bb.readUint16(vtable + 2);
    if (vtableSize < 4 || vtableSize % 2 !== 0) this.corrupt(`${what} vtable size`);
    this.#check(vtable, vtableSize, `${what} vtable`);
    this.#check(pos, Math.max(tableSize, 4), `${what} table`);
    return new Table(this, pos, vtable, vtableSize, tableSize, what);
  }
}

/** A vector's element count and the position of its first element. */
export interface VectorRef {
  readonly start: number;
  readonly length: number;
}

/** One validated flatbuffer table; `slot` is the field id from the schema (0-based). */
export class Table {
  readonly fb: FlatBuffer;
  readonly pos: number;
  readonly #vtable: number;
  readonly #vtableSize: number;
  readonly #tableSize: number;
  readonly what: string;

  constructor(
    fb: FlatBuffer,
    pos: number,
    vtable: number,
    vtableSize: number,
    tableSize: number,
    what: string,
  ) {
    this.fb = fb;
    this.pos = pos;
    this.#vtable = vtable;
    this.#vtableSize = vtableSize;
    this.#tableSize = tableSize;
    this.what = what;
  }

  /** The absolute position of a field of `size` bytes, or 0 when the field is absent. */
  position(slot: number, size: number): number {
    const entry = 4 + 2 * slot;
    if (entry >= this.#vtableSize) return 0;
    const offset = this.fb.u16(this.#vtable + entry, `${this.what} vtable entry`);
    if (offset === 0) return 0;
    if (offset + size > this.#tableSize) this.fb.corrupt(`${this.what} field ${slot}`);
    return this.pos + offset;
  }

  has(slot: number): boolean {
    return this.position(slot, 1) !== 0;
  }
  u8(slot: number, fallback: number): number {
    const p = this.position(slot, 1);
    return p === 0 ? fallback : this.fb.u8(p, `${this.what} field ${slot}`);
  }
  i8(slot: number, fallback: number): number {
    const p = this.position(slot, 1);
    return p === 0 ? fallback : this.fb.i8(p, `${this.what} field ${slot}`);
  }
  bool(slot: number, fallback: boolean): boolean {
    const p = this.position(slot, 1);
    return p === 0 ? fallback : this.fb.u8(p, `${this.what} field ${slot}`) !== 0;
  }
  i32(slot: number, fallback: number): number {
    const p = this.position(slot, 4);
    return p === 0 ? fallback : this.fb.i32(p, `${this.what} field ${slot}`);
  }
  u32(slot: number, fallback: number): number {
    const p = this.position(slot, 4);
    return p === 0 ? fallback : this.fb.u32(p, `${this.what} field ${slot}`);
  }
  f32(slot: number, fallback: number): number {
    const p = this.position(slot, 4);
    return p === 0 ? fallback : this.fb.f32(p, `${this.what} field ${slot}`);
  }
  i64(slot: number, fallback: number): number {
    const p = this.position(slot, 8);
    return p === 0 ? fallback : this.fb.i64(p, `${this.what} field ${slot}`);
  }

  /** Follows a uoffset field; returns the target position or 0 when absent. */
  #ref(slot: number, what: string): number {
    const p = this.position(slot, 4);
    if (p === 0) return 0;
    const target = p + this.fb.u32(p, what);
    if (target >= this.fb.bytes.length) this.fb.corrupt(what);
    return target;
  }

  table(slot: number, what: string): Table | undefined {
    const target = this.#ref(slot, what);
    return target === 0 ? undefined : this.fb.table(target, what);
  }

  /** A vector of `elementSize`-byte elements, bounds-checked as a whole. */
  vector(slot: number, elementSize: number, what: string): VectorRef | undefined {
    const target = this.#ref(slot, what);
    if (target === 0) return undefined;
    const length = this.fb.u32(target, `${what} length`);
    const start = target + 4;
    if (start + length * elementSize > this.fb.bytes.length) this.fb.corrupt(what);
    return { start, length };
  }

  /** The bytes of a [ubyte] vector, as a view (no copy). */
  bytes(slot: number, what: string): Uint8Array | undefined {
    const v = this.vector(slot, 1, what);
    return v === undefined ? undefined : this.fb.bytes.subarray(v.start, v.start + v.length);
  }

  string(slot: number, what: string): string | undefined {
    const raw = this.bytes(slot, what);
    return raw === undefined ? undefined : new TextDecoder('utf-8').decode(raw);
  }

  i32s(slot: number, what: string): number[] | undefined {
    const v = this.vector(slot, 4, what);
    if (v === undefined) return undefined;
    const out = new Array<number>(v.length);
    for (let i = 0; i < v.length; i++) out[i] = this.fb.i32(v.start + 4 * i, what);
    return out;
  }

  f32s(slot: number, what: string): number[] | undefined {
    const v = this.vector(slot, 4, what);
    if (v === undefined) return undefined;
    const out = new Array<number>(v.length);
    for (let i = 0; i < v.length; i++) out[i] = this.fb.f32(v.start + 4 * i, what);
    return out;
  }

  i64s(slot: number, what: string): number[] | undefined {
    const v = this.vector(slot, 8, what);
    if (v === undefined) return undefined;
    const out = new Array<number>(v.length);
    for (let i = 0; i < v.length; i++) out[i] = this.fb.i64(v.start + 8 * i, what);
    return out;
  }

  /** A vector of tables. */
  tables(slot: number, what: string): Table[] {
    const v = this.vector(slot, 4, what);
    if (v === undefined) return [];
    const out: Table[] = [];
    for (let i = 0; i < v.length; i++) {
      const p = v.start + 4 * i;
      out.push(this.fb.table(p + this.fb.u32(p, what), `${what}[${i}]`));
    }
    return out;
  }
}
