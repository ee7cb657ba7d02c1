import { SemirtError } from '../errors.js';

/** Where a setting came from, for error messages that name the exact flag or variable. */
export interface Source {
  readonly flag: string;
  readonly env?: string;
}

/** Picks the flag value, else the environment value, else undefined; empty strings count as unset. */
export function pick(
  flagValue: string | undefined,
  env: NodeJS.ProcessEnv,
  source: Source,
): { value: string; from: string } | undefined {
  if (flagValue !== undefined && flagValue !== '') return { value: flagValue, from: source.flag };
  const envValue = source.env === undefined ? undefined : env[source.env];
  if (envValue !== undefined && envValue !== '' && source.env !== undefined) {
    return { value: envValue, from: source.env };
  }
  return undefined;
}

/** Parses an integer setting within bounds, naming the flag or variable when it is invalid. */
export function intSetting(
  flagValue: string | undefined,
  env: NodeJS.ProcessEnv,
  source: Source,
  bounds: { min: number; max: number; fallback: number },
): number {
  const picked = pick(flagValue, env, source);
  if (picked === undefined) return bounds.fallback;
  const n = Number(picked.value);
  if (
    !/^\s*-?\d+\s*$/.test(picked.value) ||
    !Number.isSafeInteger(n) ||
    n < bounds.min ||
    n > bounds.max
  ) {
    throw new SemirtError(
      'INVALID_OPTION',
      `Invalid ${picked.from} "${picked.value}": expected an integer from ${bounds.min} to ${bounds.max}`,
    );
  }
  return n;
}

/** Parses a choice among fixed values, naming the flag or variable when it is invalid. */
export function choiceSetting<T extends string>(
  flagValue: string | undefined,
  env: NodeJS.ProcessEnv,
  source: Source,
  choices: readonly T[],
  fallback: T,
): T {
  const picked = pick(flagValue, env, source);
  if (picked === undefined) return fallback;
  const value = picked.value.toLowerCase();
  const found = choices.find((c) => c === value);
  if (found === undefined) {
    throw new SemirtError(
      'INVALID_OPTION',
      `Invalid ${picked.from} "${picked.value}": expected one of ${choices.join(', ')}`,
    );
  }
  return found;
}
