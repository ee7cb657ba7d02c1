/**
 * The benchmark's worker thread: loads one ONNX model into one session (as a pool worker will)
 * and runs requests posted by bench.ts. Bench-only; the runtime's worker is src/pool/worker.ts.
 */
import { parentPort } from 'node:worker_threads';
import type { Session, Tensor } from '../../src/engines/engine.js';
import { onnxEngine } from '../../src/engines/onnx/onnx-engine.js';

export type ToWorker =
  | { readonly type: 'load'; readonly bytes: Uint8Array; readonly threads: number }
  | { readonly type: 'run'; readonly id: number; readonly input: Tensor }
  | { readonly type: 'close' };

export type FromWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'loaded' }
  | {
      readonly type: 'result';
      readonly id: number;
      readonly inferMs: number;
      readonly output: Tensor;
    }
  | { readonly type: 'closed' };

const port = parentPort;
if (port === null) throw new Error('bench/onnx/worker.ts must run in a worker thread');

let session: Session | undefined;

port.on('message', (message: ToWorker) => {
  void handle(message);
});

async function handle(message: ToWorker): Promise<void> {
  switch (message.type) {
    case 'load': {
      const model = await onnxEngine.load(
        { kind: 'single', bytes: message.bytes },
        { intraOpThreads: message.threads },
      );
      session = await model.createSession();
      reply({ type: 'loaded' });
      return;
    }
    case 'run': {
      if (session === undefined) throw new Error('run before load');
      const start = performance.now();
      const [output] = await session.run([message.input]);
      const inferMs = performance.now() - start;
      // The output's buffer moves to the main thread instead of being copied.
      reply({ type: 'result', id: message.id, inferMs, output: output! }, [output!.data.buffer]);
      return;
    }
    case 'close':
      await session?.dispose();
      reply({ type: 'closed' });
      return;
  }
}

function reply(message: FromWorker, transfer: ArrayBufferLike[] = []): void {
  port!.postMessage(message, transfer as ArrayBuffer[]);
}

reply({ type: 'ready' });
