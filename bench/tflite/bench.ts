/**
 * TFLite engine benchmark: per-model median latency of one invoke, our interpreter against
 * LiteRT.js (TFLite + XNNPACK in wasm) on the same .tflite files and inputs, in the same run, plus
 * the TFLM reference-kernel median recorded with each golden (../shared/data/tflite). Prints
 * ratios; no assertions. Stateful models run back to back without reset, as TFLM's timings did.
 *
 * Run: `npm run build && node dist/bench/tflite/bench.js [model-name-filter]`
 * (or `npx tsx bench/tflite/bench.ts`).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SHARED_DATA } from '../../test/support/paths.js';
import { TfliteModel } from '../../src/engines/tflite/interpreter.js';
import { loadLiteRtForNode, patchForLiteRt } from './litert.js';

const DATA = join(SHARED_DATA, 'tflite');
/** Each model with the input file its TFLM timing used. */
const MODELS: readonly [string, string][] = [
  ['person_detect_int8', 'person'],
  ['micro_speech_lstm_int8', 'yes'],
  ['mnist_lstm_int8', 'sample0'],
  ['mnist_lstm_float', 'sample0'],
  ['dtln_noise_suppression_int8', 'feature_data'],
  ['micro_speech_quantized', 'yes_1000ms'],
  ['magic_wand_float', 'ring'],
  ['network_tester_int8', 'input_data'],
  ['hello_world_int8', 'q0'],
  ['hello_world_float', 'x1'],
  ['keyword_scrambled', 'seed1'],
  ['simple_add_int8', 'seed1'],
];
const BUDGET_MS = 1500;
const MAX_RUNS = 2000;
const WARMUP = 10;

interface GoldenReport {
  readonly invoke_ms_median: number;
  readonly inputs: readonly { readonly tensor_index: number }[];
}

function inputs(model: string, input: string, count: number): Uint8Array[] {
  const report = JSON.parse(
    readFileSync(join(DATA, 'golden', `${model}.${input}.json`), 'utf8'),
  ) as GoldenReport;
  return report.inputs.slice(0, count).map((info, k) => {
    try {
      return new Uint8Array(
        readFileSync(join(DATA, 'inputs', `${model}.${input}.bin${k === 0 ? '' : `.${k}`}`)),
      );
    } catch {
      return new Uint8Array(
        readFileSync(join(DATA, 'tensors', `${model}.${input}`, `t${info.tensor_index}.bin`)),
      );
    }
  });
}

/** Median time of `fn` over warmed-up runs, within the time budget. */
async function median(fn: () => unknown): Promise<number> {
  for (let i = 0; i < WARMUP; i++) await fn();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < MAX_RUNS && (times.length < 20 || performance.now() - start < BUDGET_MS)) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

const filter = process.argv[2];
const lrt = await loadLiteRtForNode();
const rows: string[][] = [];
for (const [name, input] of MODELS) {
  if (filter !== undefined && !name.includes(filter)) continue;
  const bytes = new Uint8Array(readFileSync(join(DATA, 'models', `${name}.tflite`)));
  const tflmMs = (
    JSON.parse(readFileSync(join(DATA, 'golden', `${name}.${input}.json`), 'utf8')) as GoldenReport
  ).invoke_ms_median;
  const model = TfliteModel.load(bytes);
  const data = inputs(name, input, model.inputs.length);
  const session = model.openSession();
  data.forEach((d, i) => {
    session.inputBytes(i).set(d);
  });
  const ours = await median(() => {
    session.invoke();
  });

  let litert = NaN;
  let note = '';
  if (model.report.variableBytes > 0) {
    note = 'LiteRT.js cannot run variable tensors (LSTM/SVDF state)';
  } else {
    try {
      const compiled = await lrt.loadAndCompile(patchForLiteRt(bytes), { accelerator: 'wasm' });
      const tensors = model.inputs.map((info, i) => {
        const raw = data[i]!;
        const buffer = raw.slice().buffer;
        const view =
          info.dtype === 'float32'
            ? new Float32Array(buffer)
            : info.dtype === 'int16'
              ? new Int16Array(buffer)
              : info.dtype === 'int8'
                ? new Int8Array(buffer)
                : new Uint8Array(buffer);
        return new lrt.Tensor(view, [...info.shape]);
      });
      litert = await median(async () => {
        for (const out of await compiled.run(tensors)) out.delete();
      });
      compiled.delete();
    } catch (error) {
      note = `LiteRT.js failed: ${(error as Error).message.split('\n')[0]}`;
    }
  }
  rows.push([
    name,
    ours.toFixed(4),
    Number.isNaN(litert) ? 'n/a' : litert.toFixed(4),
    Number.isNaN(litert) ? 'n/a' : (ours / litert).toFixed(2),
    tflmMs.toFixed(4),
    (ours / tflmMs).toFixed(2),
    note,
  ]);
  await session.dispose();
}

const header = [
  'model',
  'semirt ms',
  'LiteRT.js ms',
  'semirt/LiteRT',
  'TFLM ref ms',
  'semirt/TFLM',
  'note',
];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: readonly string[]): string =>
  cells
    .map((c, i) => c.padEnd(widths[i]!))
    .join('  ')
    .trimEnd();
console.log(line(header));
for (const row of rows) console.log(line(row));
console.log(
  '\nRatios below 1 mean semirt is faster. TFLM figures are the recorded reference-kernel medians (same machine kind, not this run).',
);
