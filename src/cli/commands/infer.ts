import { readFile, writeFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import type { Command } from 'commander';
import { SemirtError } from '../../errors.js';
import type { TensorInfo } from '../../engines/engine.js';
import { loadModel } from '../../engines/registry.js';
import { toolAction } from '../tooling.js';

interface InferFlags {
  readonly model: string;
  readonly input: string[];
  readonly output?: string;
  readonly runs: string;
}

function describe(info: TensorInfo): string {
  const q = info.quantization;
  const quant =
    q === undefined
      ? ''
      : ` scale=${q.scale.length === 1 ? q.scale[0] : `[${q.scale.length}]`} zero_point=${q.zeroPoint.length === 1 ? q.zeroPoint[0] : `[${q.zeroPoint.length}]`}`;
  return `"${info.name}" ${info.dtype}[${info.shape.join(', ')}]${quant}`;
}

/**
 * `semirt infer`: one plaintext inference on this machine, the way a model owner checks a model
 * before encrypting it. Prints the signature and timings; writes output K to `<output>` (K = 0)
 * or `<output>.K`.
 */
export function registerInfer(program: Command): void {
  program
    .command('infer')
    .description('Run one local plaintext inference and print the model signature and timings')
    .requiredOption('--model <file>', 'the model file (.tflite or .onnx)')
    .option(
      '--input <file>',
      'raw little-endian bytes of one input, in input order (repeat for each input)',
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option('--output <file>', 'where to write output 0 (output K goes to <file>.K)')
    .option('--runs <n>', 'extra timed runs after the first, to report a median', '0')
    .action(
      toolAction(async (flags: InferFlags) => {
        const runs = Number(flags.runs);
        if (!Number.isInteger(runs) || runs < 0 || runs > 100000) {
          throw new SemirtError(
            'INVALID_OPTION',
            `Invalid --runs "${flags.runs}": expected an integer from 0 to 100000`,
          );
        }
        const bytes = new Uint8Array(await readFile(flags.model));
        const t0 = performance.now();
        const model = await loadModel({ kind: 'single', bytes });
        const loadMs = performance.now() - t0;
        const out = process.stdout;
        out.write(
          `model: ${flags.model} (${model.engine}, ${bytes.length} bytes, loaded in ${loadMs.toFixed(2)} ms)\n`,
        );
        model.inputs.forEach((info, i) => out.write(`input ${i}: ${describe(info)}\n`));
        model.outputs.forEach((info, i) => out.write(`output ${i}: ${describe(info)}\n`));
        if (flags.input.length !== model.inputs.length) {
          throw new SemirtError(
            'INPUT_MISMATCH',
            `Cannot run the model: it takes ${model.inputs.length} inputs, got ${flags.input.length} --input files`,
          );
        }
        const inputs = await Promise.all(
          model.inputs.map(async (info, i) => ({
            dtype: info.dtype,
            shape: info.shape,
            data: new Uint8Array(await readFile(flags.input[i]!)),
          })),
        );
        const session = await model.createSession();
        try {
          const t1 = performance.now();
          const outputs = await session.run(inputs);
          out.write(`first run: ${(performance.now() - t1).toFixed(3)} ms\n`);
          if (runs > 0) {
            const times: number[] = [];
            for (let r = 0; r < runs; r++) {
              session.reset();
              const t = performance.now();
              await session.run(inputs);
              times.push(performance.now() - t);
            }
            times.sort((a, b) => a - b);
            out.write(
              `median of ${runs} runs (state reset before each): ${times[Math.floor(runs / 2)]!.toFixed(3)} ms\n`,
            );
          }
          if (flags.output !== undefined) {
            const target = flags.output;
            await Promise.all(
              outputs.map((t, k) => writeFile(k === 0 ? target : `${target}.${k}`, t.data)),
            );
            out.write(
              `wrote ${outputs.length} output${outputs.length === 1 ? '' : 's'} to ${target}\n`,
            );
          }
        } finally {
          await session.dispose();
          await model.dispose();
        }
      }),
    );
}
