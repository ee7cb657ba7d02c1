import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { multiplyByQuantizedMultiplier, quantizeMultiplier } from './quantization.js';
import { SimdHeap } from './simd.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s;
  };
}

/** A sealed heap with `weights` reserved and `scratch` bytes of scratch. */
function heapWith(weights: Int8Array, scratch: number) {
  const heap = new SimdHeap();
  const wOff = heap.reserve(new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength));
  heap.needScratch(scratch);
  const sealed = heap.seal();
  assert.ok(sealed !== undefined);
  return { ...sealed, wOff, base: heap.scratchOffset };
}

describe('SimdHeap wasm kernels', { skip: !SimdHeap.available() && 'no wasm SIMD here' }, () => {
  it('matvec() equals the scalar int8 × int16 dot products, including a ragged tail', () => {
    const next = rng(1);
    const depth = 37;
    const rows = 9;
    const w = Int8Array.from({ length: depth * rows }, () => (next() % 256) - 128);
    const { memory, exports, wOff, base } = heapWith(w, 4096);
    const x = new Int16Array(memory, base, depth);
    for (let i = 0; i < depth; i++) x[i] = (next() % 511) - 255;
    const out = new Int32Array(memory, base + 1024, rows);
    exports.matvec(wOff, base, depth, rows, base + 1024);
    for (let o = 0; o < rows; o++) {
      let sum = 0;
      for (let d = 0; d < depth; d++) sum += w[o * depth + d]! * x[d]!;
      assert.equal(out[o], sum, `row ${o}`);
    }
  });

  it('dwacc() adds elementwise products into int32 accumulators', () => {
    const n = 21;
    const w = Int8Array.from({ length: n }, (_, i) => i * 11 - 120);
    const { memory, exports, wOff, base } = heapWith(w, 4096);
    const acc = new Int32Array(memory, base, n).fill(5);
    const x = new Int16Array(memory, base + 512, n);
    for (let i = 0; i < n; i++) x[i] = 200 - i * 19;
    exports.dwacc(base, wOff, base + 512, n);
    for (let c = 0; c < n; c++) assert.equal(acc[c], 5 + w[c]! * x[c]!);
  });

  it('requant8() matches multiplyByQuantizedMultiplier() with offset and clamp', () => {
    const next = rng(2);
    const n = 3000;
    const { memory, exports, base } = heapWith(new Int8Array(16), n * 17 + 64);
    const acc = new Int32Array(memory, base, n);
    const bias = new Int32Array(memory, base + n * 4, n);
    const mult = new Int32Array(memory, base + n * 8, n);
    const shift = new Int32Array(memory, base + n * 12, n);
    const out = new Int8Array(memory, base + n * 16, n);
    for (let i = 0; i < n; i++) {
      acc[i] = (next() | 0) >> (next() % 20);
      bias[i] = (next() | 0) >> 12;
      const q = quantizeMultiplier(Math.exp(-(next() % 2000) / 100) * 3);
      mult[i] = q.multiplier;
      shift[i] = q.shift;
    }
    exports.requant8(
      base,
      base + n * 4,
      base + n * 8,
      base + n * 12,
      n,
      base + n * 16,
      -3,
      -128,
      127,
    );
    for (let i = 0; i < n; i++) {
      const r = multiplyByQuantizedMultiplier((acc[i]! + bias[i]!) | 0, mult[i]!, shift[i]!) - 3;
      assert.equal(out[i], Math.min(127, Math.max(-128, r)), `element ${i}`);
    }
  });

  it('widen8() writes int8 + offset as int16', () => {
    const { memory, exports, base } = heapWith(new Int8Array(16), 1024);
    const src = new Int8Array(memory, base, 100);
    for (let i = 0; i < 100; i++) src[i] = i * 7 - 128;
    exports.widen8(base, base + 512, 100, 5);
    const dst = new Int16Array(memory, base + 512, 100);
    for (let i = 0; i < 100; i++) assert.equal(dst[i], src[i]! + 5);
  });

  it('reserve() refuses to grow a sealed heap', () => {
    const heap = new SimdHeap();
    heap.needScratch(16);
    heap.seal();
    assert.throws(() => heap.reserve(new Uint8Array(4)), /sealed/);
  });
});
