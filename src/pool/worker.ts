// The only file that runs inside the pool's worker threads: it loads models with the engine
// registry, keeps one session per model, and runs inferences the pool sends.
import { parentPort } from 'node:worker_threads';
import type { Model, Session, Tensor } from '../engines/engine.js';
import { loadModel } from '../engines/registry.js';
import { isSemirtError } from '../errors.js';
import {
  transferables,
  type FromWorker,
  type ModelSignature,
  type PoolModel,
  type ToWorker,
  type WorkerError,
} from './messages.js';

if (parentPort === null) throw new Error('pool/worker.ts must run in a worker thread');
const port = parentPort;

interface Loaded {
  readonly model: Model;
  readonly session: Session;
}

const models = new Map<string, Loaded>();

function send(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

function toWorkerError(err: unknown): WorkerError {
  if (isSemirtError(err)) return { code: err.code, message: err.message };
  return { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) };
}

async function load(
  model: PoolModel,
): Promise<{ loaded: Loaded; signature: ModelSignature; loadMs: number }> {
  const existing = models.get(model.key);
  const started = performance.now();
  const loaded = existing ?? (await open(model));
  const { engine, inputs, outputs } = loaded.model;
  return {
    loaded,
    signature: { engine, inputs, outputs },
    loadMs: existing ? 0 : performance.now() - started,
  };
}

async function open(model: PoolModel): Promise<Loaded> {
  const loadedModel = await loadModel(model.artifact, { intraOpThreads: 1 });
  try {
    const loaded = { model: loadedModel, session: await loadedModel.createSession() };
    models.set(model.key, loaded);
    return loaded;
  } catch (err) {
    await loadedModel.dispose();
    throw err;
  }
}

/** Copies outputs into buffers of their own: engines may hand out views of reused memory. */
function detach(outputs: readonly Tensor[]): Tensor[] {
  return outputs.map((t) => ({
    dtype: t.dtype,
    shape: [...t.shape],
    data: new Uint8Array(t.data),
  }));
}

async function handle(message: ToWorker): Promise<void> {
  switch (message.type) {
    case 'load': {
      try {
        const { signature, loadMs } = await load(message.model);
        send({ type: 'loaded', modelKey: message.model.key, signature, loadMs });
      } catch (err) {
        send({ type: 'load-failed', modelKey: message.model.key, error: toWorkerError(err) });
      }
      return;
    }
    case 'run': {
      try {
        const { loaded, loadMs } = await load(message.model);
        const started = performance.now();
        const outputs = detach(await loaded.session.run(message.inputs));
        const inferMs = performance.now() - started;
        // Plaintext inputs are no longer needed: clear them before answering.
        for (const input of message.inputs) input.data.fill(0);
        send(
          { type: 'result', jobId: message.jobId, outputs, loadMs, inferMs },
          transferables(outputs),
        );
      } catch (err) {
        for (const input of message.inputs) input.data.fill(0);
        send({ type: 'failed', jobId: message.jobId, error: toWorkerError(err) });
      }
      return;
    }
    case 'unload': {
      const loaded = models.get(message.modelKey);
      models.delete(message.modelKey);
      if (loaded !== undefined) {
        await loaded.session.dispose();
        await loaded.model.dispose();
      }
      send({ type: 'unloaded', modelKey: message.modelKey });
      return;
    }
  }
}

// Messages are handled one at a time, in order: a worker runs one inference at once, and an
// unload sent after a run is processed after that run.
let queue = Promise.resolve();
port.on('message', (message: ToWorker) => {
  queue = queue.then(() => handle(message));
});
