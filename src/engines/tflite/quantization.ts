/**
 * The fixed-point arithmetic of TFLite's reference kernels (gemmlowp's rounding helpers and
 * TFLite's multiplier handling), reproduced bit for bit. 64-bit intermediate products are
 * computed exactly by splitting operands so that every partial product stays below 2^53.
 */

const TWO_31 = 2147483648;
const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

/** C's round(): halves away from zero (JavaScript's Math.round rounds halves up). */
export function roundHalfAway(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

/** frexp: x = m * 2^e with 0.5 <= |m| < 1 (for finite non-zero x). */
export function frexp(x: number): [number, number] {
  if (x === 0 || !Number.isFinite(x)) return [x, 0];
  let e = Math.max(-1073, Math.floor(Math.log2(Math.abs(x))) + 1);
  let m = x * 2 ** -e;
  while (Math.abs(m) < 0.5) {
    m *= 2;
    e -= 1;
  }
  while (Math.abs(m) >= 1) {
    m /= 2;
    e += 1;
  }
  return [m, e];
}

/** TFLite QuantizeMultiplier: a double → (int32 significand with fixed point at bit 31, shift). */
export function quantizeMultiplier(real: number): { multiplier: number; shift: number } {
  if (real === 0) return { multiplier: 0, shift: 0 };
  const [q, e] = frexp(real);
  let shift = e;
  let fixed = roundHalfAway(q * TWO_31);
  if (fixed === TWO_31) {
    fixed /= 2;
    shift += 1;
  }
  if (shift < -31) return { multiplier: 0, shift: 0 };
  if (shift > 30) {
    shift = 30;
    fixed = TWO_31 - 1;
  }
  return { multiplier: fixed, shift };
}

/** quantizeMultiplier for each of `count` channels, whose real multiplier is `realOf(channel)`. */
export function quantizeMultipliers(
  count: number,
  realOf: (channel: number) => number,
): { multipliers: Int32Array; shifts: Int32Array } {
  const multipliers = new Int32Array(count);
  const shifts = new Int32Array(count);
  for (let c = 0; c < count; c++) {
    const { multiplier, shift } = quantizeMultiplier(realOf(c));
    multipliers[c] = multiplier;
    shifts[c] = shift;
  }
  return { multipliers, shifts };
}

/** gemmlowp SaturatingRoundingDoublingHighMul for int32 a, b (exact 64-bit product). */
export function saturatingRoundingDoublingHighMul(a: number, b: number): number {
  if (a === INT32_MIN && b === INT32_MIN) return INT32_MAX;
  // a*b = hi*2^16 + lo with |hi| < 2^46 and |lo| < 2^47, both exact in doubles.
  const bh = b >> 16;
  const bl = b & 0xffff;
  const hi = a * bh;
  const lo = a * bl;
  const nudge = a < 0 !== b < 0 && a !== 0 && b !== 0 ? 1 - (1 << 30) : 1 << 30;
  // hi*2^16 = hiHigh*2^31 + hiLow*2^16 with 0 <= hiLow < 2^15.
  const hiHigh = Math.floor(hi / 32768);
  const hiLow = hi - hiHigh * 32768;
  const rest = hiLow * 65536 + lo + nudge;
  const restHigh = Math.floor(rest / TWO_31);
  const remainder = rest - restHigh * TWO_31;
  const floorQ = hiHigh + restHigh;
  // C++ integer division truncates toward zero.
  return floorQ < 0 && remainder !== 0 ? floorQ + 1 : floorQ;
}

/** gemmlowp RoundingDivideByPOT: x / 2^exponent rounded to nearest, halves away from zero. */
export function roundingDivideByPOT(x: number, exponent: number): number {
  if (exponent === 0) return x;
  if (exponent >= 32) {
    // Undefined in C (gemmlowp asserts exponent <= 31). Release x86 builds compute a 64-bit mask
    // of all ones and a shift count taken mod 32 (as JavaScript's >> does): reproduce that.
    return (x >> exponent) + (x > (x < 0 ? 0 : -1) ? 1 : 0);
  }
  const mask = (1 << exponent) - 1;
  const remainder = x & mask;
  const threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/** TFLite MultiplyByQuantizedMultiplier for an int32 x (double rounding, TFLM's default). */
export function multiplyByQuantizedMultiplier(
  x: number,
  multiplier: number,
  shift: number,
): number {
  const left = shift > 0 ? shift : 0;
  const right = shift > 0 ? 0 : -shift;
  return roundingDivideByPOT(
    saturatingRoundingDoublingHighMul(Math.imul(x, 1 << left), multiplier),
    right,
  );
}

/**
 * TFLite MultiplyByQuantizedMultiplier for an int64 x (|x| < 2^47, as a double): the multiplier is
 * reduced to 16 bits and one rounding shift is applied.
 */
export function multiplyByQuantizedMultiplier64(
  x: number,
  multiplier: number,
  shift: number,
): number {
  const reduced = multiplier < 0x7fff0000 ? (multiplier + (1 << 15)) >> 16 : 0x7fff;
  const totalShift = 15 - shift;
  // x*reduced < 2^62: split x = xh*2^24 + xl so both partial products are exact.
  const xh = Math.floor(x / 16777216);
  const xl = x - xh * 16777216;
  const ph = xh * reduced; // times 2^24
  const pl = xl * reduced + 2 ** (totalShift - 1);
  // floor((ph*2^24 + pl) / 2^totalShift), with totalShift in [8, 46].
  const div = 2 ** totalShift;
  if (totalShift >= 24) {
    const d2 = 2 ** (totalShift - 24);
    const phq = Math.floor(ph / d2);
    const phr = ph - phq * d2; // remaining ph part, times 2^24
    return phq + Math.floor((phr * 16777216 + pl) / div);
  }
  const scaled = ph * 2 ** (24 - totalShift);
  return scaled + Math.floor(pl / div);
}

/** Saturates to a signed integer range. */
export function clamp(x: number, min: number, max: number): number {
  return x < min ? min : x > max ? max : x;
}
