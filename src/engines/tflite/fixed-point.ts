import { roundingDivideByPOT, saturatingRoundingDoublingHighMul as mul } from './quantization.js';

/**
 * gemmlowp's int32 fixed-point math as TFLite's quantized softmax uses it. Values are raw int32;
 * a "Qn" value has n integer bits and 31 − n fractional bits. Additions wrap like the C code.
 */

const INT32_MAX = 2147483647;
const INT32_MIN = -2147483648;

/** Multiplies by 2^exponent with saturation (exponent > 0) or rounding (exponent < 0). */
export function saturatingRoundingMultiplyByPOT(x: number, exponent: number): number {
  if (exponent === 0) return x;
  if (exponent < 0) return roundingDivideByPOT(x, -exponent);
  const threshold = (1 << (31 - exponent)) - 1;
  if (x > threshold) return INT32_MAX;
  if (x < -threshold) return INT32_MIN;
  return x << exponent;
}

/** (a + b) / 2 rounded half away from zero, computed without overflow. */
export function roundingHalfSum(a: number, b: number): number {
  const sum = a + b;
  return Math.trunc((sum + (sum >= 0 ? 1 : -1)) / 2);
}

/** exp(x) for x in [-1/4, 0), Q0 in and out. */
function expOnIntervalNegQuarterTo0(a: number): number {
  const constantTerm = 1895147668; // exp(-1/8)
  const oneThird = 715827883;
  const x = (a + (1 << 28)) | 0;
  const x2 = mul(x, x);
  const x3 = mul(x2, x);
  const x4 = mul(x2, x2);
  const x4Over4 = saturatingRoundingMultiplyByPOT(x4, -2);
  const poly = saturatingRoundingMultiplyByPOT((mul((x4Over4 + x3) | 0, oneThird) + x2) | 0, -1);
  return (constantTerm + mul(constantTerm, (x + poly) | 0)) | 0;
}

const EXP_BARREL: readonly (readonly [number, number])[] = [
  [-2, 1672461947],
  [-1, 1302514674],
  [0, 790015084],
  [1, 290630308],
  [2, 39332535],
  [3, 720401],
  [4, 242],
];

/** exp(a) for a <= 0 given in Q`integerBits` (integerBits <= 5 here); the result is Q0. */
export function expOnNegativeValues(a: number, integerBits: number): number {
  const fractionalBits = 31 - integerBits;
  const oneQuarter = 1 << (fractionalBits - 2);
  const modMinusQuarter = ((a & (oneQuarter - 1)) - oneQuarter) | 0;
  let result = expOnIntervalNegQuarterTo0(
    saturatingRoundingMultiplyByPOT(modMinusQuarter, integerBits),
  );
  const remainder = (modMinusQuarter - a) | 0;
  for (const [exponent, multiplier] of EXP_BARREL) {
    if (integerBits > exponent && (remainder & (1 << (fractionalBits + exponent))) !== 0) {
      result = mul(result, multiplier);
    }
  }
  if (integerBits > 5 && a < -(1 << (36 - integerBits))) result = 0;
  return a === 0 ? INT32_MAX : result;
}

/** 1 / (1 + a) for a in [0, 1), Q0 in and out (Newton–Raphson, as gemmlowp). */
export function oneOverOnePlusX(a: number): number {
  const halfDenominator = roundingHalfSum(a, INT32_MAX);
  const c48over17 = 1515870810;
  const cNeg32over17 = -1010580540;
  const oneQ2 = 1 << 29;
  let x = (c48over17 + mul(halfDenominator, cNeg32over17)) | 0;
  for (let i = 0; i < 3; i++) {
    const hx = mul(halfDenominator, x);
    const oneMinus = (oneQ2 - hx) | 0;
    x = (x + saturatingRoundingMultiplyByPOT(mul(x, oneMinus), 2)) | 0;
  }
  return saturatingRoundingMultiplyByPOT(x, 1);
}

/**
 * TFLite GetReciprocal: 1/x for x in Q`integerBits`, as a Q0 scale; the caller takes the bits
 * above one from `reciprocalBitsOverUnit` (two functions, so the hot loop allocates nothing).
 */
export function getReciprocal(x: number): number {
  const headroomPlusOne = Math.clz32(x >>> 0);
  const shiftedMinusOne = (((x >>> 0) * 2 ** headroomPlusOne) % 4294967296) - 2147483648;
  return oneOverOnePlusX(shiftedMinusOne | 0);
}

/** The `num_bits_over_unit` output of TFLite's GetReciprocal. */
export function reciprocalBitsOverUnit(x: number, integerBits: number): number {
  return integerBits - Math.clz32(x >>> 0);
}

/** (1 − a) / (1 + a) for a in [0, 1), Q0 in and out. */
function oneMinusXOverOnePlusX(a: number): number {
  const halfDenominator = roundingHalfSum(a, INT32_MAX);
  let x = (1515870810 + mul(halfDenominator, -1010580540)) | 0;
  for (let i = 0; i < 3; i++) {
    const oneMinus = ((1 << 29) - mul(halfDenominator, x)) | 0;
    x = (x + saturatingRoundingMultiplyByPOT(mul(x, oneMinus), 2)) | 0;
  }
  return saturatingRoundingMultiplyByPOT((x - (1 << 29)) | 0, 2);
}

/** gemmlowp logistic of a Q`integerBits` value; the result is Q0. */
export function logisticFixed(a: number, integerBits: number): number {
  if (a === 0) return 1 << 30;
  const abs = a > 0 ? a : -a | 0;
  const positive = oneOverOnePlusX(expOnNegativeValues(-abs | 0, integerBits));
  return a > 0 ? positive : (INT32_MAX - positive) | 0;
}

/** gemmlowp tanh of a Q`integerBits` value; the result is Q0. */
export function tanhFixed(a: number, integerBits: number): number {
  if (a === 0) return 0;
  const negative = a < 0 ? a : -a | 0;
  // exp(2·n): the same raw value read with one more integer bit.
  const t = oneMinusXOverOnePlusX(expOnNegativeValues(negative, integerBits + 1));
  return a < 0 ? -t | 0 : t;
}
