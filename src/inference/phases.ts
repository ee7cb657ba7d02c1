/** The phases of one inference, as SeSeMI stamped them; every answer and metric uses these names. */
export const PHASES = [
  'key_fetch',
  'model_fetch',
  'decrypt',
  'model_load',
  'queue',
  'infer',
  'encrypt',
] as const;
export type Phase = (typeof PHASES)[number];

/** Milliseconds per phase for one request; a phase that did not happen stays 0. */
export type PhaseTimings = Record<Phase, number>;

/** A zeroed set of timings. */
export function emptyTimings(): PhaseTimings {
  return {
    key_fetch: 0,
    model_fetch: 0,
    decrypt: 0,
    model_load: 0,
    queue: 0,
    infer: 0,
    encrypt: 0,
  };
}

/** Runs `work`, adding its duration to `phase`. */
export async function timed<T>(
  timings: PhaseTimings,
  phase: Phase,
  work: () => Promise<T> | T,
): Promise<T> {
  const started = performance.now();
  try {
    return await work();
  } finally {
    timings[phase] += performance.now() - started;
  }
}
