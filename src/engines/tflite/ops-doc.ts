import type { Kernel } from './kernels/kernel.js';

/** Renders docs/tflite-ops.md from the kernel table (`semirt inspect --supported-ops` prints it). */
export function renderOpsDoc(kernels: Iterable<Kernel>): string {
  const rows = [...kernels]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((k) => `| ${k.name} | ${k.versions[0]}–${k.versions[1]} | ${k.types.join(', ')} |`);
  return [
    '# TFLite operators supported by the tflite engine',
    '',
    'Generated from the `KERNELS` table in `src/engines/tflite/kernels/index.ts` by',
    '`semirt inspect --supported-ops`; a test fails when this file and the table disagree.',
    'Quantized kernels reproduce TFLite Micro reference kernels bit for bit.',
    '',
    '| operator | versions | types |',
    '|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}
