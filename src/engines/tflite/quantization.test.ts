import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  multiplyByQuantizedMultiplier,
  multiplyByQuantizedMultiplier64,
  quantizeMultiplier,
  quantizeMultipliers,
  roundingDivideByPOT,
  saturatingRoundingDoublingHighMul,
} from './quantization.js';

/** Exact references in BigInt, written from the C definitions (int64 products, truncating division). */
function srdhmRef(a: number, b: number): number {
  if (a === -2147483648 && b === -2147483648) return 2147483647;
  const ab = BigInt(a) * BigInt(b);
  const nudge = ab >= 0n ? 1n << 30n : 1n - (1n << 30n);
  return Number((ab + nudge) / (1n << 31n));
}
function mbqm64Ref(x: number, m: number, shift: number): number {
  const reduced = m < 0x7fff0000 ? (m + (1 << 15)) >> 16 : 0x7fff;
  const total = BigInt(15 - shift);
  return Number((BigInt(x) * BigInt(reduced) + (1n << (total - 1n))) >> total);
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s;
  };
}

describe('quantization arithmetic', () => {
  it('saturatingRoundingDoublingHighMul() equals the int64 definition on edge and random values', () => {
    const edges = [0, 1, -1, 2147483647, -2147483648, 1073741824, -1073741824, 12345, -98765];
    for (const a of edges)
      for (const b of edges)
        assert.equal(saturatingRoundingDoublingHighMul(a, b), srdhmRef(a, b), `${a}·${b}`);
    const next = rng(1);
    for (let i = 0; i < 20000; i++) {
      const a = next() | 0;
      const b = next() | 0;
      assert.equal(saturatingRoundingDoublingHighMul(a, b), srdhmRef(a, b), `${a}·${b}`);
    }
  });

  it('roundingDivideByPOT() rounds halves away from zero', () => {
    const cases: [number, number, number][] = [
      [5, 1, 3],
      [-5, 1, -3],
      [4, 1, 2],
      [-6, 2, -2],
      [7, 2, 2],
      [-7, 2, -2],
      [2147483647, 31, 1],
    ];
    for (const [x, e, want] of cases) assert.equal(roundingDivideByPOT(x, e), want, `${x} >> ${e}`);
  });

  it('multiplyByQuantizedMultiplier64() equals the int64 definition', () => {
    const next = rng(2);
    for (let i = 0; i < 20000; i++) {
      const x = ((next() | 0) * 4096 + (next() & 4095)) % 2 ** 44;
      const m = (next() >>> 1) | 0x40000000;
      const shift = -(next() % 31) + 7;
      const want = mbqm64Ref(x, m, shift);
      if (Math.abs(want) >= 2 ** 31) continue;
      assert.equal(multiplyByQuantizedMultiplier64(x, m, shift), want, `${x}, ${m}, ${shift}`);
    }
  });

  it('quantizeMultiplier() produces a Q31 significand in [2^30, 2^31) and reconstructs the value', () => {
    for (const real of [0.5, 0.0001234, 0.75, 1.5, 3.9, 1e-9, 0.999999999]) {
      const { multiplier, shift } = quantizeMultiplier(real);
      assert.ok(multiplier >= 2 ** 30 && multiplier < 2 ** 31, `${real}: ${multiplier}`);
      assert.ok(Math.abs((multiplier / 2 ** 31) * 2 ** shift - real) <= real * 2 ** -30);
    }
    assert.deepEqual(quantizeMultiplier(0), { multiplier: 0, shift: 0 });
  });

  it('multiplyByQuantizedMultiplier() applies left shifts before the high multiply', () => {
    const { multiplier, shift } = quantizeMultiplier(3);
    assert.equal(multiplyByQuantizedMultiplier(100, multiplier, shift), 300);
    // −1.5 becomes −1: the high multiply's nudge rounds negative ties toward zero.
    const half = quantizeMultiplier(0.5);
    assert.equal(multiplyByQuantizedMultiplier(-3, half.multiplier, half.shift), -1);
  });
});

describe('quantizeMultipliers()', () => {
  it('quantizeMultipliers() gives each channel quantizeMultiplier of its real multiplier', () => {
    const reals = [0.5, 0.0003, 1.75, 0, 3e-12];
    const { multipliers, shifts } = quantizeMultipliers(reals.length, (c) => reals[c]!);
    reals.forEach((real, c) => {
      const { multiplier, shift } = quantizeMultiplier(real);
      assert.equal(multipliers[c], multiplier, `channel ${c} multiplier`);
      assert.equal(shifts[c], shift, `channel ${c} shift`);
    });
  });
});
