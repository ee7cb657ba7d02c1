import { Worker } from 'node:worker_threads';
import { mapModelFiles, modelFileList, type Tensor } from '../engines/engine.js';
import { SemirtError } from '../errors.js';
import {
  transferables,
  type FromWorker,
  type ModelSignature,
  type PoolModel,
  type ToWorker,
  type WorkerError,
} from './messages.js';

/** Validated pool options (see config/). */
export interface PoolOptions {
  /** Worker threads; each runs one inference at a time. */
  readonly size: number;
  /** Inferences that may wait for a worker; one more is refused with POOL_BUSY. */
  readonly maxQueue: number;
}

export interface RunRequest {
  readonly modelKey: string;
  readonly inputs: readonly Tensor[];
  /** Epoch milliseconds after which the work is dropped instead of run (OpenWhisk's deadline). */
  readonly deadline?: number;
}

export interface RunResult {
  readonly outputs: Tensor[];
  /** Waiting for a free worker. */
  readonly queueMs: number;
  /** Loading the model into the worker that ran it (0 when it had it). */
  readonly loadMs: number;
  readonly inferMs: number;
}

export interface LoadResult {
  readonly signature: ModelSignature;
  readonly loadMs: number;
}

type Task =
  | {
      readonly kind: 'run';
      readonly request: RunRequest;
      readonly enqueued: number;
      readonly resolve: (result: RunResult) => void;
      readonly reject: (err: unknown) => void;
      timer?: NodeJS.Timeout;
      dispatched?: number;
    }
  | {
      readonly kind: 'load';
      readonly model: PoolModel;
      readonly resolve: (result: LoadResult) => void;
      readonly reject: (err: unknown) => void;
    };

interface Slot {
  worker: Worker;
  task: Task | undefined;
  readonly loaded: Set<string>;
  readonly unloads: Map<string, () => void>;
}

// Under tsx (development) sources are .ts; compiled, the worker is worker.js beside this file.
const WORKER_URL = new URL(
  import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js',
  import.meta.url,
);

let nextJobId = 1;

/**
 * A fixed set of worker threads running engine sessions, so the main thread never runs
 * inference. Work waits in a bounded queue; a worker that already holds the model is preferred;
 * work whose deadline has passed is dropped; a crashed worker is replaced and only its own
 * task fails.
 */
export class WorkerPool {
  readonly #options: PoolOptions;
  readonly #slots: Slot[] = [];
  readonly #queue: Task[] = [];
  readonly #models = new Map<string, PoolModel>();
  /** Runs queued or running per model, so an unload waits for them. */
  readonly #uses = new Map<string, number>();
  readonly #idleWaiters = new Map<string, (() => void)[]>();
  readonly #retiring = new Set<string>();
  #closed = false;

  constructor(options: PoolOptions) {
    this.#options = options;
    for (let i = 0; i < options.size; i++) this.#slots.push(this.#spawn());
  }

  /** Inferences waiting for a worker, and workers busy. */
  get stats(): { readonly queued: number; readonly busy: number; readonly size: number } {
    return {
      queued: this.#queue.length,
      busy: this.#slots.filter((s) => s.task !== undefined).length,
      size: this.#slots.length,
    };
  }

  /**
   * Loads a model in one worker (validating it) and makes it available to all, which load it
   * when first used. Its bytes are moved into shared memory once, owned by the pool from then on
   * and zeroed when the model is unloaded.
   */
  load(input: PoolModel): Promise<LoadResult> {
    // Every file in shared memory, so workers share one copy.
    const model: PoolModel = { key: input.key, artifact: mapModelFiles(input.artifact, toShared) };
    this.#models.set(model.key, model);
    return new Promise<LoadResult>((resolve, reject) => {
      this.#enqueue({ kind: 'load', model, resolve, reject });
    }).catch((err: unknown) => {
      this.#models.delete(model.key);
      throw err;
    });
  }

  /** Runs one inference of a loaded model in a worker thread. */
  run(request: RunRequest): Promise<RunResult> {
    const key = request.modelKey;
    if (!this.#models.has(key) || this.#retiring.has(key)) {
      return Promise.reject(new Error(`Model "${key}" is not loaded in the pool`));
    }
    this.#uses.set(key, (this.#uses.get(key) ?? 0) + 1);
    return new Promise<RunResult>((resolve, reject) => {
      const task: Task = { kind: 'run', request, enqueued: performance.now(), resolve, reject };
      const { deadline } = request;
      if (deadline !== undefined && Number.isFinite(deadline)) {
        const wait = deadline - Date.now();
        if (wait <= 0) {
          reject(deadlineError());
          return;
        }
        task.timer = setTimeout(() => {
          this.#drop(task, deadlineError());
        }, wait);
      }
      this.#enqueue(task);
    }).finally(() => {
      this.#release(key);
    });
  }

  #release(key: string): void {
    const uses = (this.#uses.get(key) ?? 1) - 1;
    if (uses > 0) {
      this.#uses.set(key, uses);
      return;
    }
    this.#uses.delete(key);
    for (const wake of this.#idleWaiters.get(key) ?? []) wake();
    this.#idleWaiters.delete(key);
  }

  #idle(key: string): Promise<void> {
    if (!this.#uses.has(key)) return Promise.resolve();
    return new Promise((resolve) => {
      this.#idleWaiters.set(key, [...(this.#idleWaiters.get(key) ?? []), resolve]);
    });
  }

  /** Removes a model: refuses new runs at once, lets queued and running ones finish, then has every worker dispose it and zeroes its bytes. */
  async unload(modelKey: string): Promise<void> {
    // New runs are refused at once; those already queued or running finish first.
    this.#retiring.add(modelKey);
    await this.#idle(modelKey);
    this.#retiring.delete(modelKey);
    const model = this.#models.get(modelKey);
    this.#models.delete(modelKey);
    await Promise.all(
      this.#slots
        .filter((slot) => slot.loaded.has(modelKey))
        .map(
          (slot) =>
            new Promise<void>((resolve) => {
              slot.loaded.delete(modelKey);
              slot.unloads.set(modelKey, resolve);
              this.#post(slot, { type: 'unload', modelKey });
            }),
        ),
    );
    if (model !== undefined) for (const bytes of modelFileList(model.artifact)) bytes.fill(0);
  }

  /** Stops every worker; queued and running work fails with POOL_CLOSED (drain callers first). */
  async close(): Promise<void> {
    this.#closed = true;
    const closed = (): SemirtError =>
      new SemirtError('POOL_CLOSED', 'The worker pool is shutting down');
    for (const task of this.#queue.splice(0)) this.#fail(task, closed());
    for (const slot of this.#slots) {
      if (slot.task !== undefined) this.#fail(slot.task, closed());
      slot.task = undefined;
    }
    await Promise.all(this.#slots.map((slot) => slot.worker.terminate()));
  }

  #enqueue(task: Task): void {
    if (this.#closed) {
      this.#fail(task, new SemirtError('POOL_CLOSED', 'The worker pool is shutting down'));
      return;
    }
    if (
      this.#queue.length >= this.#options.maxQueue &&
      !this.#slots.some((s) => s.task === undefined)
    ) {
      this.#fail(
        task,
        new SemirtError(
          'POOL_BUSY',
          `The server is busy: ${this.#queue.length} inferences are already waiting`,
        ),
      );
      return;
    }
    this.#queue.push(task);
    this.#dispatch();
  }

  #dispatch(): void {
    for (;;) {
      const idle = this.#slots.filter((slot) => slot.task === undefined);
      if (idle.length === 0 || this.#queue.length === 0) return;
      const task = this.#queue.shift()!;
      const key = task.kind === 'run' ? task.request.modelKey : task.model.key;
      const slot = idle.find((s) => s.loaded.has(key)) ?? idle[0]!;
      this.#start(slot, task);
    }
  }

  #start(slot: Slot, task: Task): void {
    slot.task = task;
    if (task.kind === 'load') {
      slot.loaded.add(task.model.key);
      this.#post(slot, { type: 'load', model: task.model });
      return;
    }
    clearTimeout(task.timer);
    const { request } = task;
    const model = this.#models.get(request.modelKey);
    if (model === undefined) {
      slot.task = undefined;
      task.reject(new Error(`Model "${request.modelKey}" was unloaded before it ran`));
      return;
    }
    task.dispatched = performance.now();
    slot.loaded.add(request.modelKey);
    // The model travels with every run (a view of shared memory: nothing is copied), so a worker
    // that lacks it, e.g. a replacement after a crash, loads it on the spot.
    this.#post(
      slot,
      { type: 'run', jobId: nextJobId++, model, inputs: request.inputs },
      transferables(request.inputs),
    );
  }

  #post(slot: Slot, message: ToWorker, transfer: ArrayBuffer[] = []): void {
    slot.worker.postMessage(message, transfer);
  }

  #onMessage(slot: Slot, message: FromWorker): void {
    if (message.type === 'unloaded') {
      slot.unloads.get(message.modelKey)?.();
      slot.unloads.delete(message.modelKey);
      return;
    }
    const task = slot.task;
    slot.task = undefined;
    if (task !== undefined) this.#settle(slot, task, message);
    this.#dispatch();
  }

  #settle(slot: Slot, task: Task, message: Exclude<FromWorker, { type: 'unloaded' }>): void {
    switch (message.type) {
      case 'loaded':
        if (task.kind === 'load')
          task.resolve({ signature: message.signature, loadMs: message.loadMs });
        return;
      case 'load-failed':
        slot.loaded.delete(message.modelKey);
        task.reject(fromWorkerError(message.error));
        return;
      case 'result':
        if (task.kind === 'run') {
          task.resolve({
            outputs: [...message.outputs],
            queueMs: (task.dispatched ?? task.enqueued) - task.enqueued,
            loadMs: message.loadMs,
            inferMs: message.inferMs,
          });
        }
        return;
      case 'failed':
        task.reject(fromWorkerError(message.error));
        return;
    }
  }

  /** Removes a queued task (deadline passed); a task already running is left to finish. */
  #drop(task: Task, err: unknown): void {
    const index = this.#queue.indexOf(task);
    if (index < 0) return;
    this.#queue.splice(index, 1);
    this.#fail(task, err);
  }

  #fail(task: Task, err: unknown): void {
    if (task.kind === 'run') clearTimeout(task.timer);
    task.reject(err);
  }

  #spawn(): Slot {
    const slot: Slot = {
      worker: new Worker(WORKER_URL),
      task: undefined,
      loaded: new Set(),
      unloads: new Map(),
    };
    this.#watch(slot);
    return slot;
  }

  #watch(slot: Slot): void {
    const { worker } = slot;
    worker.on('message', (message: FromWorker) => {
      this.#onMessage(slot, message);
    });
    // A worker that dies (out of memory, an abort in native code) fails only its own task;
    // a fresh worker takes its place and loads models again when they are next used.
    const replace = (reason: string): void => {
      if (this.#closed || slot.worker !== worker) return;
      const task = slot.task;
      slot.task = undefined;
      slot.loaded.clear();
      for (const resolve of slot.unloads.values()) resolve();
      slot.unloads.clear();
      slot.worker = new Worker(WORKER_URL);
      this.#watch(slot);
      if (task !== undefined)
        this.#fail(
          task,
          new SemirtError('WORKER_CRASHED', `The inference worker stopped: ${reason}`),
        );
      this.#dispatch();
    };
    worker.on('error', (err) => {
      replace(err.message);
    });
    worker.on('exit', (code) => {
      replace(`exit code ${code}`);
    });
  }
}

function toShared(bytes: Uint8Array): Uint8Array {
  if (bytes.buffer instanceof SharedArrayBuffer) return bytes;
  const shared = new Uint8Array(new SharedArrayBuffer(bytes.byteLength));
  shared.set(bytes);
  return shared;
}

function deadlineError(): SemirtError {
  return new SemirtError(
    'DEADLINE_EXCEEDED',
    'The activation deadline passed before the inference could start',
  );
}

function fromWorkerError(error: WorkerError): Error {
  if (error.code === 'INTERNAL') return new Error(error.message);
  return new SemirtError(error.code, error.message);
}
