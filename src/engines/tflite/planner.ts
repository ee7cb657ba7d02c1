/**
 * Arena planning, as TFLM's greedy planner does it: every non-constant tensor gets an offset
 * in one buffer, and tensors whose lifetimes (first write … last read, in operator order) do not
 * overlap may share bytes. Largest tensors are placed first, each at the lowest offset that does
 * not collide with an already placed tensor alive at the same time.
 */

export interface PlanRequest {
  readonly id: number;
  readonly bytes: number;
  /** First operator index that needs the tensor (-1: before the first operator). */
  readonly first: number;
  /** Last operator index that needs the tensor. */
  readonly last: number;
}

export interface Plan {
  readonly offsets: ReadonlyMap<number, number>;
  readonly size: number;
}

export const ARENA_ALIGNMENT = 16;

function align(n: number): number {
  return Math.ceil(n / ARENA_ALIGNMENT) * ARENA_ALIGNMENT;
}

/** Places the requests in one arena; offsets are aligned to 16 bytes. */
export function planArena(requests: readonly PlanRequest[]): Plan {
  const order = [...requests].sort((a, b) => b.bytes - a.bytes || a.first - b.first || a.id - b.id);
  const placed: { start: number; end: number; first: number; last: number }[] = [];
  const offsets = new Map<number, number>();
  let size = 0;
  for (const r of order) {
    const need = align(Math.max(r.bytes, 1));
    const live = placed
      .filter((p) => p.first <= r.last && r.first <= p.last)
      .sort((a, b) => a.start - b.start);
    let offset = 0;
    for (const p of live) {
      if (offset + need <= p.start) break;
      offset = Math.max(offset, p.end);
    }
    placed.push({ start: offset, end: offset + need, first: r.first, last: r.last });
    offsets.set(r.id, offset);
    size = Math.max(size, offset + need);
  }
  return { offsets, size };
}
