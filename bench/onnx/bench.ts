/**
 * ONNX engine benchmark, MobileNetV1-shaped network (224×224×3 float32, 1001 classes), in one run:
 * 1. raw session.run median on the main thread: onnxruntime directly (the anchor) vs the engine;
 * 2. resident memory per worker thread holding one session, with default malloc settings and
 *    (in a child process) with glibc's mmap threshold fixed;
 * 3. throughput and latency at concurrency 1/8/32 through real worker threads, for several pool
 *    layouts (workers × intra-op threads), with the main event loop's delay while they run.
 * 4. warm end-to-end /run through the inference action (a LocalStack: KeyService + runtime with
 *    the network encrypted in its store), one request at a time, next to the raw median of step 1,
 *    and its throughput at concurrency 1/8/32.
 *
 * Run compiled (worker threads load plain .js): `npm run build && node dist/bench/onnx/bench.js`.
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-node';
import type { Tensor } from '../../src/engines/engine.js';
import { buildMobileNetV1, seededRandom } from '../../src/engines/onnx/model-builder.js';
import { onnxEngine } from '../../src/engines/onnx/onnx-engine.js';
import { LocalStack } from '../../src/cli/local-stack.js';
import { closedLoop, percentile, RunClient, sequential, serveModel } from '../inference/harness.js';
import type { FromWorker, ToWorker } from './worker.js';

if (import.meta.url.endsWith('.ts')) {
  console.error('Run the compiled benchmark: npm run build && node dist/bench/onnx/bench.js');
  process.exit(2);
}
const WORKER_URL = new URL('./worker.js', import.meta.url);
const RAW_RUNS = 60;
const WARMUP_RUNS = 5;
const MB = 1024 * 1024;
// glibc keeps the freed buffers of model parsing in each thread's malloc arena unless large
// blocks are always mmapped; the child run shows the effect of fixing the mmap threshold.
const MALLOC_ENV = { MALLOC_MMAP_THRESHOLD_: '65536' };

const fmt = (n: number, digits = 2) => n.toFixed(digits);
const rssMb = () => process.memoryUsage.rss() / MB;

// The model, shared by all workers as one copy; the engine hands onnxruntime a transient plain
// copy per session (onnxruntime rejects SharedArrayBuffer views).
const modelBytes = buildMobileNetV1();
const sharedModelBytes = new Uint8Array(new SharedArrayBuffer(modelBytes.length));
sharedModelBytes.set(modelBytes);
const random = seededRandom(7);
const image = Float32Array.from({ length: 224 * 224 * 3 }, () => random());
const input: Tensor = {
  dtype: 'float32',
  shape: [1, 224, 224, 3],
  data: new Uint8Array(image.buffer),
};

async function medianRun(run: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < WARMUP_RUNS; i++) await run();
  const times: number[] = [];
  for (let i = 0; i < RAW_RUNS; i++) {
    const start = performance.now();
    await run();
    times.push(performance.now() - start);
  }
  return percentile(times, 50);
}

/** Section 1; answers the anchor (onnxruntime's own median) and the engine's median, in ms. */
async function rawSection(): Promise<{ anchorMs: number; engineMs: number }> {
  const ort = await InferenceSession.create(modelBytes, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    extra: { session: { 'intra_op.allow_spinning': '0' } },
  });
  const ortInput = new OrtTensor('float32', image, [1, 224, 224, 3]);
  const anchorMs = await medianRun(() => ort.run({ input: ortInput }));
  await ort.release();

  const model = await onnxEngine.load({ kind: 'single', bytes: modelBytes });
  const session = await model.createSession();
  const engineMs = await medianRun(() => session.run([input]));
  await session.dispose();
  await model.dispose();
  console.log(`\n1. raw session.run, main thread, 1 intra-op thread, median of ${RAW_RUNS}`);
  console.log(`   onnxruntime directly (anchor): ${fmt(anchorMs)} ms`);
  console.log(
    `   semirt onnx engine:            ${fmt(engineMs)} ms  (×${fmt(engineMs / anchorMs)} of anchor)`,
  );
  return { anchorMs, engineMs };
}

/** One real worker thread holding one session (bench/onnx/worker.ts). */
class BenchWorker {
  readonly worker = new Worker(WORKER_URL);
  #waiters = new Map<string, (m: FromWorker) => void>();

  constructor() {
    this.worker.on('message', (m: FromWorker) => {
      const key = m.type === 'result' ? `result:${m.id}` : m.type;
      const waiter = this.#waiters.get(key);
      this.#waiters.delete(key);
      waiter?.(m);
    });
  }

  next(key: string): Promise<FromWorker> {
    return new Promise((resolve) => this.#waiters.set(key, resolve));
  }

  async load(threads: number): Promise<void> {
    const loaded = this.next('loaded');
    this.#send({ type: 'load', bytes: sharedModelBytes, threads });
    await loaded;
  }

  async run(id: number): Promise<void> {
    // Each request brings its own input buffer, moved (not copied) to the worker.
    const copy = new Uint8Array(input.data);
    const done = this.next(`result:${id}`);
    this.#send({ type: 'run', id, input: { ...input, data: copy } }, [copy.buffer]);
    await done;
  }

  async close(): Promise<void> {
    const closed = this.next('closed');
    this.#send({ type: 'close' });
    await closed;
    await this.worker.terminate();
  }

  #send(message: ToWorker, transfer: ArrayBuffer[] = []): void {
    this.worker.postMessage(message, transfer);
  }
}

async function startWorker(): Promise<BenchWorker> {
  const worker = new BenchWorker();
  await worker.next('ready');
  return worker;
}

/** Section 2: RSS growth as workers start, load the model and run once. */
async function memorySection(label: string): Promise<void> {
  console.log(`\n2. resident memory (process RSS) per worker holding one session, ${label}`);
  const workers: BenchWorker[] = [];
  const base = rssMb();
  for (let n = 1; n <= 3; n++) {
    const before = rssMb();
    const worker = await startWorker();
    const started = rssMb();
    await worker.load(1);
    const loaded = rssMb();
    await worker.run(0);
    const ran = rssMb();
    workers.push(worker);
    console.log(
      `   worker ${n}: thread + onnxruntime ${fmt(started - before, 1)} MB, session ${fmt(loaded - started, 1)} MB, ` +
        `first run ${fmt(ran - loaded, 1)} MB → ${fmt(ran - before, 1)} MB`,
    );
  }
  const perWorker = (rssMb() - base) / workers.length;
  for (const worker of workers) await worker.close();
  console.log(
    `   average ${fmt(perWorker, 1)} MB per worker (model file ${fmt(modelBytes.length / MB, 1)} MB)`,
  );
}

/** Runs `requests` requests from `concurrency` clients over the workers, first free worker first. */
async function measure(workers: readonly BenchWorker[], concurrency: number, requests: number) {
  const idle = [...workers];
  const waiting: ((w: BenchWorker) => void)[] = [];
  const acquire = () =>
    idle.length > 0
      ? Promise.resolve(idle.pop()!)
      : new Promise<BenchWorker>((resolve) => waiting.push(resolve));
  const release = (worker: BenchWorker) => {
    const next = waiting.shift();
    if (next) next(worker);
    else idle.push(worker);
  };
  const latencies: number[] = [];
  let issued = 0;
  const client = async () => {
    while (issued < requests) {
      const id = issued++;
      const start = performance.now();
      const worker = await acquire();
      await worker.run(id);
      release(worker);
      latencies.push(performance.now() - start);
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, client));
  const seconds = (performance.now() - start) / 1000;
  return {
    throughput: requests / seconds,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
  };
}

/** Section 3: throughput per pool layout and concurrency. */
async function throughputSection(anchorMs: number): Promise<void> {
  const layouts = [
    { workers: 1, threads: 1 },
    { workers: 1, threads: 2 },
    { workers: 2, threads: 1 },
    { workers: 4, threads: 1 },
  ];
  console.log(
    `\n3. throughput through worker threads (anchor: 1000 / raw anchor median = ${fmt(1000 / anchorMs, 1)} req/s)`,
  );
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  for (const layout of layouts) {
    const workers = await Promise.all(Array.from({ length: layout.workers }, startWorker));
    await Promise.all(workers.map((w) => w.load(layout.threads)));
    await Promise.all(workers.map((w, i) => w.run(-1 - i)));
    for (const concurrency of [1, 8, 32]) {
      loopDelay.reset();
      loopDelay.enable();
      const r = await measure(workers, concurrency, Math.max(64, concurrency * 4));
      loopDelay.disable();
      console.log(
        `   ${layout.workers} worker(s) × ${layout.threads} thread(s), concurrency ${String(concurrency).padStart(2)}: ` +
          `${fmt(r.throughput, 1)} req/s (×${fmt((r.throughput * anchorMs) / 1000)} of anchor), ` +
          `latency p50 ${fmt(r.p50, 1)} ms p95 ${fmt(r.p95, 1)} ms, main loop delay max ${fmt(loopDelay.max / 1e6, 1)} ms`,
      );
    }
    for (const worker of workers) await worker.close();
  }
}

/** Section 4: the same network and input through the encrypted inference action, end to end. */
async function endToEndSection(raw: { anchorMs: number; engineMs: number }): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'semirt-bench-onnx-'));
  const file = join(dir, 'mobilenet_v1.onnx');
  writeFileSync(file, modelBytes);
  const workers = availableParallelism();
  const stack = await LocalStack.start({ dir, runtimePort: 0, workers });
  const client = new RunClient(stack.runtimeUrl);
  try {
    const owner = await stack.register();
    const user = await stack.register();
    const model = await serveModel(stack, { owner, user }, { name: 'mobilenet', file, input });
    // Every worker loads the model before anything is timed.
    for (let round = 0; round < 3; round++)
      await Promise.all(Array.from({ length: 2 * workers }, () => client.run(model.body)));
    const samples = await sequential(client, model.body, RAW_RUNS);
    const e2e = percentile(
      samples.map((s) => s.ms),
      50,
    );
    const infer = percentile(
      samples.map((s) => s.aux.infer),
      50,
    );
    console.log(
      `\n4. warm end-to-end /run through the inference action (encrypted input and output, ${workers} worker threads, one request at a time, median of ${RAW_RUNS})`,
    );
    console.log(
      `   /run: ${fmt(e2e)} ms (×${fmt(e2e / raw.anchorMs)} of anchor); overhead over the raw engine median ${fmt(e2e - raw.engineMs)} ms ` +
        `(target ≤ 3 ms); infer phase in the worker ${fmt(infer)} ms`,
    );
    for (const concurrency of [1, 8, 32]) {
      const r = await closedLoop(client, model.body, concurrency, 2);
      console.log(
        `   /run at concurrency ${String(concurrency).padStart(2)}: ${fmt(r.rps, 1)} req/s (×${fmt((r.rps * raw.anchorMs) / 1000)} of anchor), ` +
          `latency p50 ${fmt(r.p50, 1)} ms p99 ${fmt(r.p99, 1)} ms`,
      );
    }
  } finally {
    client.close();
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv.includes('--memory-only')) {
  const settings = Object.entries(MALLOC_ENV).map(([key, value]) => `${key}=${value}`);
  await memorySection(`with ${settings.join(' ')}`);
} else {
  console.log(
    `model: MobileNetV1-shaped, ${fmt(modelBytes.length / MB, 1)} MB of ONNX; cores: ${availableParallelism()}`,
  );
  const raw = await rawSection();
  const { anchorMs } = raw;
  await memorySection('default malloc settings');
  const child = fork(fileURLToPath(import.meta.url), ['--memory-only'], {
    env: { ...process.env, ...MALLOC_ENV },
  });
  await once(child, 'exit');
  await throughputSection(anchorMs);
  await endToEndSection(raw);
}
