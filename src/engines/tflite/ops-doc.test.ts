import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../../../test/support/paths.js';
import { KERNELS, buildKernelTable } from './kernels/index.js';
import { renderOpsDoc } from './ops-doc.js';

/** Ignores what a markdown formatter may change: table padding and dash runs. */
function normalize(markdown: string): string {
  return markdown
    .split('\n')
    .map((line) =>
      line
        .replace(/\s*\|\s*/g, '|')
        .replace(/-{3,}/g, '---')
        .trim(),
    )
    .filter((line) => line !== '')
    .join('\n');
}

describe('docs/tflite-ops.md', () => {
  it('renderOpsDoc() output matches the committed file (regenerate: semirt inspect --supported-ops)', () => {
    const committed = readFileSync(join(REPO_ROOT, 'docs', 'tflite-ops.md'), 'utf8');
    assert.equal(normalize(committed), normalize(renderOpsDoc(KERNELS.values())));
  });

  it('buildKernelTable() throws on a duplicate kernel name', () => {
    const kernel = KERNELS.get('ADD')!;
    assert.throws(() => buildKernelTable([kernel, kernel]), /registered twice/);
  });
});
