/**
 * A small SVG writer for the phase breakdown chart: one horizontal bar per scenario, split into
 * segments in proportion to their share of that bar's total. Each bar has its own scale (a cold
 * start takes ~100× a warm request), so its total is written beside it.
 */

export interface Segment {
  readonly name: string;
  readonly ms: number;
}

export interface BarRow {
  readonly label: string;
  readonly segments: readonly Segment[];
}

/** Colours by segment name, in legend order; unknown names get grey. */
export const SEGMENT_COLORS: Readonly<Record<string, string>> = {
  'process start, attestation, /init': '#6b7280',
  key_fetch: '#e15759',
  model_fetch: '#f28e2b',
  decrypt: '#edc948',
  model_load: '#b07aa1',
  queue: '#9c755f',
  infer: '#4e79a7',
  encrypt: '#59a14f',
  'HTTP, JSON, base64, proxy': '#bab0ac',
};

const WIDTH = 860;
const LEFT = 20;
const BAR_WIDTH = 700;
const BAR_HEIGHT = 26;
const ROW_HEIGHT = 62;
const TOP = 52;
const LEGEND_COLUMNS = 4;

/** Escapes text for SVG character data and attribute values. */
export function escapeXml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');
}

const ms = (value: number): string =>
  value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);

/** Renders the rows as a standalone SVG document. */
export function phaseChart(title: string, subtitle: string, rows: readonly BarRow[]): string {
  const used = new Set(
    rows.flatMap((row) => row.segments.filter((s) => s.ms > 0).map((s) => s.name)),
  );
  const legend = [
    ...Object.keys(SEGMENT_COLORS).filter((name) => used.has(name)),
    ...[...used].filter((name) => !(name in SEGMENT_COLORS)),
  ];
  const legendTop = TOP + rows.length * ROW_HEIGHT + 4;
  const legendRows = Math.ceil(legend.length / LEGEND_COLUMNS);
  const height = legendTop + legendRows * 22 + 14;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="${LEFT}" y="22" font-size="16" font-weight="bold">${escapeXml(title)}</text>`,
    `<text x="${LEFT}" y="40" fill="#555555">${escapeXml(subtitle)}</text>`,
  ];
  rows.forEach((row, i) => {
    const y = TOP + i * ROW_HEIGHT;
    const total = row.segments.reduce((sum, s) => sum + Math.max(0, s.ms), 0);
    parts.push(`<text x="${LEFT}" y="${y + 12}">${escapeXml(row.label)}</text>`);
    let x = LEFT;
    for (const segment of row.segments) {
      if (segment.ms <= 0 || total <= 0) continue;
      const width = (segment.ms / total) * BAR_WIDTH;
      const color = SEGMENT_COLORS[segment.name] ?? '#cccccc';
      parts.push(
        `<rect x="${x.toFixed(2)}" y="${y + 18}" width="${width.toFixed(2)}" height="${BAR_HEIGHT}" fill="${color}"><title>${escapeXml(`${segment.name}: ${ms(segment.ms)} ms`)}</title></rect>`,
      );
      if (width > 44) {
        parts.push(
          `<text x="${(x + width / 2).toFixed(2)}" y="${y + 35}" text-anchor="middle" fill="#ffffff" font-size="11">${ms(segment.ms)}</text>`,
        );
      }
      x += width;
    }
    parts.push(
      `<text x="${LEFT + BAR_WIDTH + 8}" y="${y + 35}" font-weight="bold">${ms(total)} ms</text>`,
    );
  });
  legend.forEach((name, i) => {
    const x = LEFT + (i % LEGEND_COLUMNS) * 205;
    const y = legendTop + Math.floor(i / LEGEND_COLUMNS) * 22;
    parts.push(
      `<rect x="${x}" y="${y}" width="12" height="12" fill="${SEGMENT_COLORS[name] ?? '#cccccc'}"/>`,
      `<text x="${x + 18}" y="${y + 10}">${escapeXml(name)}</text>`,
    );
  });
  parts.push('</svg>', '');
  return parts.join('\n');
}
