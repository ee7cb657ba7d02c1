import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { escapeXml, phaseChart, SEGMENT_COLORS } from './svg.js';

const widths = (svg: string, color: string): number[] =>
  [...svg.matchAll(new RegExp(`<rect [^>]*width="([\\d.]+)"[^>]*fill="${color}"`, 'g'))].map((m) =>
    Number(m[1]),
  );

describe('phaseChart()', () => {
  test('splits each bar in proportion to its segments and writes the bar total', () => {
    const svg = phaseChart('t', 's', [
      {
        label: 'warm',
        segments: [
          { name: 'infer', ms: 3 },
          { name: 'encrypt', ms: 1 },
        ],
      },
      { label: 'cold', segments: [{ name: 'infer', ms: 400 }] },
    ]);
    const [warmInfer, coldInfer] = widths(svg, SEGMENT_COLORS['infer']!);
    const [warmEncrypt] = widths(svg, SEGMENT_COLORS['encrypt']!);
    assert.equal(warmInfer, 525);
    assert.equal(warmEncrypt, 175);
    // Each bar has its own scale: a lone segment fills the bar whatever its duration.
    assert.equal(coldInfer, 700);
    assert.match(svg, />4\.00 ms</);
    assert.match(svg, />400 ms</);
  });

  test('leaves out empty segments and lists only the segments drawn in the legend', () => {
    const svg = phaseChart('t', 's', [
      {
        label: 'x',
        segments: [
          { name: 'key_fetch', ms: 0 },
          { name: 'queue', ms: 2 },
        ],
      },
    ]);
    assert.doesNotMatch(svg, />key_fetch</);
    assert.match(svg, />queue</);
  });

  test('escapes labels and titles', () => {
    const svg = phaseChart('a < b & c', 's', [
      { label: '"x"', segments: [{ name: 'infer', ms: 1 }] },
    ]);
    assert.match(svg, /a &lt; b &amp; c/);
    assert.match(svg, /&quot;x&quot;/);
    assert.equal(escapeXml('<&>"'), '&lt;&amp;&gt;&quot;');
  });
});
