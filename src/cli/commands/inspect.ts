import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { SemirtError } from '../../errors.js';
import { TfliteModel } from '../../engines/tflite/interpreter.js';
import { KERNELS } from '../../engines/tflite/kernels/index.js';
import { renderOpsDoc } from '../../engines/tflite/ops-doc.js';
import { toolAction } from '../tooling.js';

interface InspectFlags {
  readonly supportedOps?: boolean;
  readonly tensors?: boolean;
}

/** `semirt inspect`: a TFLite model's operators, tensors and arena; or the supported-ops table. */
export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description("Print a TFLite model's operators, tensors and arena size")
    .argument('[file]', 'the .tflite model')
    .option('--tensors', 'list every tensor')
    .option(
      '--supported-ops',
      'print the operators the tflite engine supports (docs/tflite-ops.md)',
    )
    .action(
      toolAction(async (file: string | undefined, flags: InspectFlags) => {
        const out = process.stdout;
        if (flags.supportedOps === true) {
          out.write(renderOpsDoc(KERNELS.values()));
          return;
        }
        if (file === undefined)
          throw new SemirtError('INVALID_OPTION', 'Missing the model file: semirt inspect <file>');
        const model = TfliteModel.load(new Uint8Array(await readFile(file)));
        const r = model.report;
        if (r.description !== '') out.write(`description: ${r.description}\n`);
        out.write(
          `subgraphs: ${r.subgraphs}, operators: ${r.operators.length}, tensors: ${r.tensors.length}\n`,
        );
        out.write(
          `arena: ${r.arenaBytes} bytes per session (activations ${r.activationBytes}, variables ${r.variableBytes}, scratch ${r.scratchBytes})${r.simdHeapBytes > 0 ? `; wasm SIMD heap ${r.simdHeapBytes} bytes per thread (weight copies + scratch)` : ''}\n`,
        );
        const counts = new Map<string, number>();
        for (const op of r.operators) counts.set(op.name, (counts.get(op.name) ?? 0) + 1);
        out.write(`op counts: ${[...counts].map(([n, c]) => `${n} ×${c}`).join(', ')}\n`);
        for (const op of r.operators) {
          out.write(
            `  #${op.index} ${op.name} v${op.version}  in [${op.inputs.join(', ')}] → out [${op.outputs.join(', ')}]\n`,
          );
        }
        if (flags.tensors === true) {
          for (const t of r.tensors) {
            const kind = t.isVariable
              ? 'variable'
              : t.data !== undefined
                ? 'constant'
                : 'activation';
            const q =
              t.quant === undefined
                ? ''
                : ` q(scale ${t.quant.scale.length === 1 ? t.quant.scale[0] : `×${t.quant.scale.length}`}, zp ${t.quant.zeroPoint[0]})`;
            out.write(
              `  t${t.index} "${t.name}" ${t.dtype}[${t.shape.join(', ')}] ${t.bytes} B ${kind}${q}\n`,
            );
          }
        }
      }),
    );
}
