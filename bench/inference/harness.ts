/**
 * Measuring helpers shared by the inference benchmarks (bench/inference/run.ts, bench/onnx): a
 * model served by a LocalStack with its /run body serialized once, a keep-alive /run client that
 * times answers to the sub-millisecond, a closed-loop load generator, raw engine medians on the
 * calling thread, and readers for the runtime's /metrics and resident memory.
 */
import { readFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import type { LocalStack, Party } from '../../src/cli/local-stack.js';
import { decryptEnvelope } from '../../src/crypto/envelope.js';
import type { Tensor } from '../../src/engines/engine.js';
import { loadModel } from '../../src/engines/registry.js';
import { PHASES, type Phase } from '../../src/inference/phases.js';

/** The value at percentile `p` (0–100) of `values` (nearest rank; NaN when empty). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((sorted.length * p) / 100) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))]!;
}

/** A model in the stack's store, ready to be asked: the /run body is built and serialized once. */
export interface ServedModel {
  readonly name: string;
  readonly modelId: string;
  readonly input: Tensor;
  /** The whole OpenWhisk /run body (JSON), sent unchanged by every request. */
  readonly body: Buffer;
  readonly requestKey: Buffer;
}

/**
 * Puts a model file into the stack (owner upload, grant, user request key) and builds the /run
 * body of one encrypted request for `input`. The deadline is an hour away: the bench must never
 * see work dropped for lateness.
 */
export async function serveModel(
  stack: LocalStack,
  parties: { readonly owner: Party; readonly user: Party },
  model: { readonly name: string; readonly file: string; readonly input: Tensor },
): Promise<ServedModel> {
  const modelId = await stack.addModel(parties.owner, model.name, model.file);
  await stack.grant(parties.owner, modelId, parties.user);
  const requestKey = await stack.addRequestKey(parties.user, modelId);
  const body = Buffer.from(
    JSON.stringify({
      value: stack.request(parties.user, modelId, requestKey, model.input.data),
      namespace: 'guest',
      action_name: '/guest/semirt-inference',
      action_version: '0.0.1',
      activation_id: 'bench',
      transaction_id: 'bench',
      deadline: String(Date.now() + 3_600_000),
    }),
  );
  return { name: model.name, modelId, input: model.input, body, requestKey };
}

/** One answered /run: client-side latency and the phase timings the runtime reported. */
export interface RunSample {
  readonly ms: number;
  readonly aux: Readonly<Record<Phase, number>>;
  /** Hex of the encrypted output tensor. */
  readonly output: string;
}

/** POSTs prepared bodies over kept-alive connections; every answer must be a successful inference. */
export class RunClient {
  readonly #agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  readonly #url: URL;

  constructor(runtimeUrl: string) {
    this.#url = new URL('/run', runtimeUrl);
  }

  /** Sends one /run; rejects unless the runtime answered `{msg: {status: true}}`. */
  run(body: Buffer): Promise<RunSample> {
    return new Promise((resolve, reject) => {
      const started = performance.now();
      const req = request(
        this.#url,
        {
          method: 'POST',
          agent: this.#agent,
          headers: { 'content-type': 'application/json', 'content-length': body.length },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            const ms = performance.now() - started;
            const text = Buffer.concat(chunks).toString('utf8');
            const answer = JSON.parse(text) as {
              msg?: { status?: boolean; output?: string; aux?: Record<Phase, number> };
            };
            const { msg } = answer;
            if (res.statusCode !== 200 || msg?.status !== true || msg.aux === undefined) {
              reject(new Error(`/run answered ${res.statusCode ?? '?'}: ${text.slice(0, 300)}`));
              return;
            }
            resolve({ ms, aux: msg.aux, output: msg.output ?? '' });
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  /** Closes the kept-alive connections. */
  close(): void {
    this.#agent.destroy();
  }
}

/** The decrypted output tensor bytes of an answer. */
export function decryptOutput(model: ServedModel, sample: RunSample): Buffer {
  return decryptEnvelope(model.requestKey, Buffer.from(sample.output, 'hex'));
}

/** Sends `count` requests one after another; answers the samples. */
export async function sequential(
  client: RunClient,
  body: Buffer,
  count: number,
): Promise<RunSample[]> {
  const samples: RunSample[] = [];
  for (let i = 0; i < count; i++) samples.push(await client.run(body));
  return samples;
}

/** Throughput and latency of a closed-loop load. */
export interface LoadResult {
  readonly concurrency: number;
  readonly requests: number;
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly samples: readonly RunSample[];
}

/**
 * `concurrency` clients each send the next request as soon as their previous one is answered,
 * for `seconds`; requests still in flight at the end are awaited and counted.
 */
export async function closedLoop(
  client: RunClient,
  body: Buffer,
  concurrency: number,
  seconds: number,
): Promise<LoadResult> {
  const samples: RunSample[] = [];
  const started = performance.now();
  const until = started + seconds * 1000;
  const loop = async (): Promise<void> => {
    while (performance.now() < until) samples.push(await client.run(body));
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  const elapsed = (performance.now() - started) / 1000;
  const latencies = samples.map((s) => s.ms);
  return {
    concurrency,
    requests: samples.length,
    rps: samples.length / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    samples,
  };
}

/** Median milliseconds of `session.run` on the calling thread (one intra-op thread), after warm-up; also its output. */
export async function rawEngineMedian(
  modelBytes: Uint8Array,
  input: Tensor,
  runs: number,
): Promise<{ median: number; output: Uint8Array }> {
  const model = await loadModel({ kind: 'single', bytes: modelBytes }, { intraOpThreads: 1 });
  const session = await model.createSession();
  try {
    let output = new Uint8Array();
    for (let i = 0; i < 5; i++) output = new Uint8Array((await session.run([input]))[0]!.data);
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const start = performance.now();
      await session.run([input]);
      times.push(performance.now() - start);
    }
    return { median: percentile(times, 50), output };
  } finally {
    await session.dispose();
    await model.dispose();
  }
}

/** Median of each phase over the samples, plus `rest`: client latency not covered by any phase (HTTP, JSON, proxy). */
export function phaseMedians(
  samples: readonly RunSample[],
): Record<Phase | 'rest' | 'total', number> {
  const medians = Object.fromEntries(
    PHASES.map((phase) => [
      phase,
      percentile(
        samples.map((s) => s.aux[phase]),
        50,
      ),
    ]),
  ) as Record<Phase, number>;
  const rest = percentile(
    samples.map((s) => Math.max(0, s.ms - PHASES.reduce((sum, phase) => sum + s.aux[phase], 0))),
    50,
  );
  return {
    ...medians,
    rest,
    total: percentile(
      samples.map((s) => s.ms),
      50,
    ),
  };
}

/** The value of an unlabelled sample in Prometheus text exposition (undefined when absent). */
export function metricValue(exposition: string, name: string): number | undefined {
  const line = exposition.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined
    ? undefined
    : Number(
        line
          .slice(name.length + 1)
          .trim()
          .split(' ')[0],
      );
}

/** GETs the runtime's /metrics text. */
export async function scrape(metricsUrl: string): Promise<string> {
  const response = await fetch(metricsUrl);
  if (response.status !== 200) throw new Error(`${metricsUrl} answered ${response.status}`);
  return response.text();
}

/** Resident memory (VmRSS) of a process in MB, from /proc (Linux). */
export async function residentMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  if (kb === undefined) throw new Error(`No VmRSS in /proc/${pid}/status`);
  return Number(kb) / 1024;
}
