/**
 * Inference benchmark (issue 6): the secure inference action end to end, with real processes
 * (`LocalStack`: a KeyService and a runtime on loopback, sim-dcap attested TLS, encrypted model
 * store), for person_detect_int8 (the main model) and a MobileNetV1-shaped ONNX network fed the
 * SeSeMI 224×224×3 float32 image. Printed in one run:
 * 1. raw engine `session.run` median on this thread (the anchor) vs warm end-to-end `/run` median;
 * 2. cold start: runtime process spawn → first successful /run (attestation, /init, key fetch,
 *    model read, decrypt, load);
 * 3. requests/s and p50/p99 at concurrency 1/8/32 with 1 and N worker threads;
 * 4. the runtime's event-loop delay under full load (prom-client's histogram on --metrics-port,
 *    plus HTTP round trips to the metrics listener, which the runtime's main thread answers);
 * 5. the runtime's resident memory (VmRSS) with 1 vs N worker threads;
 * 6. the phase breakdown, written as an SVG chart to docs/img/inference-phases.svg.
 *
 *   npm run build && node dist/bench/inference/run.js [--quick] [--duration <s>] [--svg <file>]
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LocalStack } from '../../src/cli/local-stack.js';
import type { Tensor } from '../../src/engines/engine.js';
import { buildMobileNetV1 } from '../../src/engines/onnx/model-builder.js';
import { PHASES } from '../../src/inference/phases.js';
import { REPO_ROOT, SHARED_DATA } from '../../test/support/paths.js';
import {
  closedLoop,
  decryptOutput,
  metricValue,
  percentile,
  phaseMedians,
  rawEngineMedian,
  residentMb,
  RunClient,
  scrape,
  sequential,
  serveModel,
  type LoadResult,
  type RunSample,
  type ServedModel,
} from './harness.js';
import { phaseChart, type BarRow, type Segment } from './svg.js';

if (import.meta.url.endsWith('.ts')) {
  console.error('Run the compiled benchmark: npm run build && node dist/bench/inference/run.js');
  process.exit(2);
}

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    duration: { type: 'string' },
    svg: { type: 'string', default: join(REPO_ROOT, 'docs', 'img', 'inference-phases.svg') },
  },
});
const quick = values.quick;
const seconds = Number(values.duration ?? (quick ? '1' : '3'));
const RAW_RUNS = quick ? 30 : 100;
const WARM_RUNS = quick ? 40 : 200;
const CONCURRENCY = [1, 8, 32] as const;
const MAX_WORKERS = Math.max(2, availableParallelism());
const WORKER_COUNTS = [1, MAX_WORKERS];
const MB = 1024 * 1024;

// The original C++ SeMIRT (libuv, TFLM, no encryption), person_detect_int8 on this machine kind.
const REFERENCE = {
  medianMs: 7.1,
  tflmMs: 6.6,
  rps: new Map([
    [1, 150],
    [2, 290],
  ]),
};

const fmt = (n: number, digits = 2): string => (Number.isFinite(n) ? n.toFixed(digits) : '-');

interface ModelSpec {
  readonly name: string;
  readonly file: string;
  readonly bytes: Uint8Array;
  readonly input: Tensor;
}

const dir = mkdtempSync(join(tmpdir(), 'semirt-bench-inference-'));
const personFile = join(REPO_ROOT, 'examples', 'models', 'person_detect_int8.tflite');
const mobilenetFile = join(dir, 'mobilenet_v1.onnx');
writeFileSync(mobilenetFile, buildMobileNetV1());
const sesemiImage = Buffer.from(
  (
    JSON.parse(
      readFileSync(join(SHARED_DATA, 'sesemi-examples', 'inference_req_nenc.json'), 'utf8'),
    ) as { encrypted_sample: string }
  ).encrypted_sample,
  'base64',
);
const specs: readonly ModelSpec[] = [
  {
    name: 'person_detect',
    file: personFile,
    bytes: new Uint8Array(readFileSync(personFile)),
    input: {
      dtype: 'int8',
      shape: [1, 96, 96, 1],
      data: new Uint8Array(readFileSync(join(REPO_ROOT, 'examples', 'models', 'person.int8'))),
    },
  },
  {
    name: 'mobilenet',
    file: mobilenetFile,
    bytes: new Uint8Array(readFileSync(mobilenetFile)),
    input: { dtype: 'float32', shape: [1, 224, 224, 3], data: new Uint8Array(sesemiImage) },
  },
];

console.log(
  `semirt inference benchmark${quick ? ' (--quick)' : ''}: ${availableParallelism()} cores, ` +
    `worker threads ${WORKER_COUNTS.join(' and ')}, ${seconds} s per load cell, Node ${process.version}`,
);
console.log(
  `models: person_detect_int8 (${fmt(specs[0]!.bytes.length / 1024, 0)} KiB TFLite, int8 96×96×1), ` +
    `MobileNetV1-shaped (${fmt(specs[1]!.bytes.length / MB, 1)} MB ONNX, float32 224×224×3 SeSeMI image)`,
);

// 1. The anchor: each engine's session.run on this thread, before any other process runs.
const raw = new Map<string, { median: number; output: Uint8Array }>();
for (const spec of specs)
  raw.set(spec.name, await rawEngineMedian(spec.bytes, spec.input, RAW_RUNS));

interface Stage {
  readonly workers: number;
  readonly coldMs: number;
  readonly coldStartupMs: number;
  readonly coldFirst: RunSample;
  readonly firstOther: RunSample;
  readonly rssPersonMb: number;
  readonly rssBothMb: number;
  readonly loads: Map<string, LoadResult[]>;
  readonly loop: { idle: LoopStats; loaded: LoopStats; probeP50: number; probeP99: number };
}

interface LoopStats {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

const stack = await LocalStack.start({ dir, runtimePort: 0, workers: 1, metricsPort: 0 });
const stages: Stage[] = [];
let warm = new Map<string, RunSample[]>();
/** Whether the first warm /run answer decrypted to the raw session.run output bytes. */
const matches = new Map<string, boolean>();
try {
  const owner = await stack.register();
  const user = await stack.register();
  const served: ServedModel[] = [];
  for (const spec of specs) served.push(await serveModel(stack, { owner, user }, spec));
  const [person, mobilenet] = served as [ServedModel, ServedModel];

  for (const workers of WORKER_COUNTS) {
    // 2. Cold start: a fresh runtime process, empty key and model caches.
    const { spawnedAt } = await stack.restartRuntime(workers);
    const client = new RunClient(stack.runtimeUrl);
    const coldFirst = await client.run(person.body);
    const coldMs = performance.now() - spawnedAt;
    const pid = stack.runtime.child.pid;
    if (pid === undefined) throw new Error('The runtime process has no pid');

    // Every worker loads every model: rounds of 2×workers concurrent requests.
    const spread = async (model: ServedModel): Promise<void> => {
      for (let round = 0; round < 4; round++)
        await Promise.all(Array.from({ length: 2 * workers }, () => client.run(model.body)));
    };
    await spread(person);
    const rssPersonMb = await residentMb(pid);
    const firstOther = await client.run(mobilenet.body);
    await spread(mobilenet);
    const rssBothMb = await residentMb(pid);

    // 1. (continued) warm end-to-end medians, one request at a time, with one worker thread.
    if (workers === 1) {
      warm = new Map([
        [person.name, await sequential(client, person.body, WARM_RUNS)],
        [mobilenet.name, await sequential(client, mobilenet.body, Math.ceil(WARM_RUNS / 2))],
      ]);
      for (const model of served) {
        const same = decryptOutput(model, warm.get(model.name)![0]!).equals(
          Buffer.from(raw.get(model.name)!.output),
        );
        matches.set(model.name, same);
      }
    }

    // 3. and 4. Throughput; the loop delay is sampled during person_detect at the top concurrency.
    const metricsUrl = stack.metricsUrl;
    if (metricsUrl === undefined) throw new Error('The runtime serves no /metrics');
    const loopStats = (text: string): LoopStats => ({
      p50: (metricValue(text, 'semirt_nodejs_eventloop_lag_p50_seconds') ?? NaN) * 1000,
      p99: (metricValue(text, 'semirt_nodejs_eventloop_lag_p99_seconds') ?? NaN) * 1000,
      max: (metricValue(text, 'semirt_nodejs_eventloop_lag_max_seconds') ?? NaN) * 1000,
    });
    await scrape(metricsUrl); // each scrape resets prom-client's delay histogram
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const idle = loopStats(await scrape(metricsUrl));
    const loads = new Map<string, LoadResult[]>();
    let loaded: LoopStats = { p50: NaN, p99: NaN, max: NaN };
    const probes: number[] = [];
    for (const model of served) {
      const results: LoadResult[] = [];
      for (const concurrency of CONCURRENCY) {
        const top = model === person && concurrency === CONCURRENCY[CONCURRENCY.length - 1];
        if (!top) {
          results.push(await closedLoop(client, model.body, concurrency, seconds));
          continue;
        }
        await scrape(metricsUrl);
        const probing = new AbortController();
        const probed = (async () => {
          // A round trip to the metrics listener (404 path: no collection) every 50 ms.
          const probeUrl = new URL('/health-probe', metricsUrl);
          while (!probing.signal.aborted) {
            const started = performance.now();
            await (await fetch(probeUrl)).text();
            probes.push(performance.now() - started);
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        })();
        results.push(await closedLoop(client, model.body, concurrency, seconds));
        probing.abort();
        await probed;
        loaded = loopStats(await scrape(metricsUrl));
      }
      loads.set(model.name, results);
    }
    client.close();
    stages.push({
      workers,
      coldMs,
      coldStartupMs: coldMs - coldFirst.ms,
      coldFirst,
      firstOther,
      rssPersonMb,
      rssBothMb,
      loads,
      loop: { idle, loaded, probeP50: percentile(probes, 50), probeP99: percentile(probes, 99) },
    });
  }
} finally {
  await stack.stop();
  rmSync(dir, { recursive: true, force: true });
}

// ---- report ----
const rawPerson = raw.get('person_detect')!.median;
const line = (cells: readonly string[], widths: readonly number[]): string =>
  cells
    .map((c, i) => c.padEnd(widths[i] ?? 0))
    .join('  ')
    .trimEnd();

console.log('\n1. raw engine session.run (this thread, 1 intra-op thread) vs warm end-to-end /run');
console.log(
  '   (1 worker thread, one request at a time; /run latency measured by the client, loopback HTTP)',
);
const w1 = [16, 12, 14, 14, 10, 12];
console.log(
  '   ' + line(['model', 'raw ms', '/run p50 ms', 'overhead ms', '× raw', '/run p99 ms'], w1),
);
for (const spec of specs) {
  const samples = warm.get(spec.name)!;
  const rawMs = raw.get(spec.name)!.median;
  const e2e = percentile(
    samples.map((s) => s.ms),
    50,
  );
  console.log(
    '   ' +
      line(
        [
          spec.name,
          fmt(rawMs),
          fmt(e2e),
          fmt(e2e - rawMs),
          fmt(e2e / rawMs),
          fmt(
            percentile(
              samples.map((s) => s.ms),
              99,
            ),
          ),
        ],
        w1,
      ),
  );
}
console.log(
  '   decrypted /run output = raw session.run output bytes: ' +
    specs
      .map((spec) => `${spec.name} ${matches.get(spec.name) === true ? 'yes' : 'NO'}`)
      .join(', '),
);
const mobilenetOverhead =
  percentile(
    warm.get('mobilenet')!.map((s) => s.ms),
    50,
  ) - raw.get('mobilenet')!.median;
console.log(
  `   target: overhead ≤ 3 ms at the median for the MobileNet input → ${fmt(mobilenetOverhead)} ms (${mobilenetOverhead <= 3 ? 'met' : 'NOT met'})`,
);
console.log(
  `   reference, not measured here: C++ SeMIRT (no encryption) person_detect ${REFERENCE.medianMs} ms median, ` +
    `${REFERENCE.tflmMs} ms of it TFLM → semirt /run p50 is ×${fmt(
      percentile(
        warm.get('person_detect')!.map((s) => s.ms),
        50,
      ) / REFERENCE.medianMs,
    )} of it`,
);
console.log("   median phases of the warm requests (ms, from the answers' aux):");
for (const spec of specs) {
  const m = phaseMedians(warm.get(spec.name)!);
  console.log(
    `     ${spec.name.padEnd(14)} ` +
      ['decrypt', 'queue', 'infer', 'encrypt', 'key_fetch']
        .map((p) => `${p} ${fmt(m[p as keyof typeof m], 3)}`)
        .join(', ') +
      `, not in any phase (HTTP, JSON, base64, proxy, thread hand-off) ${fmt(m.rest, 3)}`,
  );
}

console.log('\n2. cold start: runtime process spawn → first successful person_detect /run');
for (const stage of stages) {
  const f = stage.coldFirst;
  console.log(
    `   ${stage.workers} worker(s): ${fmt(stage.coldMs, 0)} ms = process start, attestation, /init ${fmt(stage.coldStartupMs, 0)} ms + first /run ${fmt(f.ms, 1)} ms ` +
      `(key_fetch ${fmt(f.aux.key_fetch, 1)}, model_fetch ${fmt(f.aux.model_fetch, 2)}, decrypt ${fmt(f.aux.decrypt, 2)}, model_load ${fmt(f.aux.model_load, 1)}, infer ${fmt(f.aux.infer, 1)})` +
      `; first MobileNet /run on the warm process ${fmt(stage.firstOther.ms, 0)} ms (model_load ${fmt(stage.firstOther.aux.model_load, 0)})`,
  );
}

console.log(
  `\n3. throughput, closed loop, ${seconds} s per cell (ratios: req/s × raw ms / 1000 = share of one thread running the engine back to back)`,
);
const w3 = [16, 8, 6, 10, 9, 9, 14, 28];
console.log(
  '   ' +
    line(
      [
        'model',
        'workers',
        'conc',
        'req/s',
        'p50 ms',
        'p99 ms',
        'req/s × raw',
        'reference (not measured here)',
      ],
      w3,
    ),
);
for (const spec of specs) {
  const rawMs = raw.get(spec.name)!.median;
  for (const stage of stages) {
    for (const r of stage.loads.get(spec.name)!) {
      const ref = spec.name === 'person_detect' ? REFERENCE.rps.get(stage.workers) : undefined;
      console.log(
        '   ' +
          line(
            [
              spec.name,
              String(stage.workers),
              String(r.concurrency),
              fmt(r.rps, 1),
              fmt(r.p50),
              fmt(r.p99),
              fmt((r.rps * rawMs) / 1000),
              ref === undefined ? '' : `C++ SeMIRT ${ref} req/s (×${fmt(r.rps / ref)})`,
            ],
            w3,
          ),
      );
    }
  }
}

console.log(
  "\n4. event-loop delay of the runtime's main thread (prom-client monitorEventLoopDelay, 10 ms sampling; values include the 10 ms interval)",
);
for (const stage of stages) {
  const { idle, loaded, probeP50, probeP99 } = stage.loop;
  console.log(
    `   ${stage.workers} worker(s): idle p50 ${fmt(idle.p50)} / p99 ${fmt(idle.p99)} / max ${fmt(idle.max)} ms; ` +
      `under person_detect at concurrency ${CONCURRENCY[CONCURRENCY.length - 1]}: p50 ${fmt(loaded.p50)} / p99 ${fmt(loaded.p99)} / max ${fmt(loaded.max)} ms; ` +
      `metrics-listener round trip while loaded p50 ${fmt(probeP50)} / p99 ${fmt(probeP99)} ms`,
  );
}

console.log(
  '\n5. resident memory of the runtime process (VmRSS after warm-up, every worker holding the models)',
);
const [one, many] = [stages[0]!, stages[stages.length - 1]!];
for (const stage of stages) {
  console.log(
    `   ${stage.workers} worker(s): ${fmt(stage.rssPersonMb, 1)} MB with person_detect, ${fmt(stage.rssBothMb, 1)} MB with person_detect + MobileNet`,
  );
}
const extra = many.workers - one.workers;
const perWorker = (many.rssPersonMb - one.rssPersonMb) / extra;
const onnxPerWorker =
  (many.rssBothMb - many.rssPersonMb - (one.rssBothMb - one.rssPersonMb)) / extra;
console.log(
  `   per extra worker: ${fmt(perWorker, 1)} MB with person_detect (a thread, its V8 heap and session arena; the ` +
    `${fmt(specs[0]!.bytes.length / 1024, 0)} KiB of TFLite weights are one SharedArrayBuffer), ` +
    `MobileNet adds ${fmt(onnxPerWorker, 1)} MB more per extra worker (onnxruntime keeps its own copy of the ` +
    `${fmt(specs[1]!.bytes.length / MB, 1)} MB of weights per session)`,
);

// 6. Where the time goes.
const segments = (sample: RunSample): Segment[] => {
  const phases = PHASES.map((name) => ({ name, ms: sample.aux[name] }));
  const covered = phases.reduce((total, p) => total + p.ms, 0);
  return [...phases, { name: 'HTTP, JSON, base64, proxy', ms: Math.max(0, sample.ms - covered) }];
};
const medianRow = (samples: readonly RunSample[]): Segment[] => {
  const m = phaseMedians(samples);
  return [
    ...PHASES.map((name) => ({ name, ms: m[name] })),
    { name: 'HTTP, JSON, base64, proxy', ms: m.rest },
  ];
};
const loadedPerson = many.loads.get('person_detect')!.at(-1)!;
const rows: BarRow[] = [
  {
    label: `cold start → first person_detect answer (${one.workers} worker; process start includes attestation)`,
    segments: [
      { name: 'process start, attestation, /init', ms: one.coldStartupMs },
      ...segments(one.coldFirst),
    ],
  },
  {
    label: 'first MobileNet /run on a warm process (model not yet loaded)',
    segments: segments(one.firstOther),
  },
  {
    label: 'warm person_detect /run, median of each part (1 worker, one at a time)',
    segments: medianRow(warm.get('person_detect')!),
  },
  {
    label: 'warm MobileNet /run, median of each part (1 worker, one at a time)',
    segments: medianRow(warm.get('mobilenet')!),
  },
  {
    label: `person_detect under load, median of each part (${many.workers} workers, concurrency ${loadedPerson.concurrency})`,
    segments: medianRow(loadedPerson.samples),
  },
];
writeFileSync(
  values.svg,
  phaseChart(
    'Where the time of an encrypted /run goes (semirt inference action)',
    `Each bar is scaled to its own total. Measured by bench/inference on ${availableParallelism()} vCPUs; raw person_detect session.run ${fmt(rawPerson)} ms.`,
    rows,
  ),
);
console.log(`\n6. phase breakdown chart written to ${values.svg}`);
