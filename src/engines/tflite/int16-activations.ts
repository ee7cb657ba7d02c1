import { SIGMOID_TABLE_U16 as T } from './sigmoid-table.js';

/**
 * TFLite's int16 LOGISTIC and TANH reference arithmetic: the input (Q3.12 after scaling by
 * multiplier·2^-shift) indexes a 256-entry sigmoid table with linear interpolation; outputs are
 * Q0.15. `multiplier` 0 means "3 · 2^shift", as in the C code.
 */

function scaleInput(x: number, multiplier: number, leftShift: number): number {
  let m = multiplier;
  let shift = leftShift;
  if (m === 0) {
    m = 3 << shift;
    shift = 0;
  }
  const round = shift > 0 ? 1 << (shift - 1) : 0;
  return (x * m + round) >> shift;
}

/** int16 logistic of one value. */
export function logistic16(x: number, multiplier: number, leftShift: number): number {
  const v = scaleInput(x, multiplier, leftShift);
  const abs = Math.abs(v);
  const uh = abs >>> 9;
  let result: number;
  if (uh >= 255) {
    result = 0x7fff * 1024;
  } else {
    const ua = T[uh]!;
    const ub = T[uh + 1]!;
    result = ua * 512 + (abs & 0x1ff) * (ub - ua);
  }
  result = v >= 0 ? result + 512 : 33554432 - result + 511;
  return ((result >>> 10) << 16) >> 16;
}

/** int16 tanh of one value. */
export function tanh16(x: number, multiplier: number, leftShift: number): number {
  const v = scaleInput(x, multiplier, leftShift);
  const abs = Math.abs(v);
  const uh = abs >>> 8;
  let result: number;
  if (uh >= 255) {
    result = 0xffff * 256;
  } else {
    const ua = T[uh]!;
    const ub = T[uh + 1]!;
    result = ua * 256 + (abs & 0xff) * (ub - ua);
  }
  result = v >= 0 ? result - 8388608 + 128 : -result + 8388608 + 127;
  return ((result >> 8) << 16) >> 16;
}
