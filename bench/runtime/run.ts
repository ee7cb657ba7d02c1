// Load benchmark of the action runtime: /run of a trivial echo action at several concurrency
// levels, against semirt and any other OpenWhisk runtime given on the command line, plus an
// anchor measured in the same run (a bare node:http JSON echo server, the floor for any runtime
// on this machine). Prints requests/s and p50/p99 latency, and ratios against the anchor and
// against the first --target.
//
//   npm run build && node dist/bench/runtime/run.js [--duration 5] [--connections 1,16,128]
//       [--target official=http://127.0.0.1:8080]
import autocannon from 'autocannon';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SEMIRT_CLI, startNodeProcess, type SemirtProcess } from '../../src/cli/child-process.js';
import { REPO_ROOT } from '../../test/support/paths.js';

interface Target {
  readonly name: string;
  readonly url: string;
  readonly needsInit: boolean;
}

interface Row {
  readonly target: string;
  readonly connections: number;
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
}

const ECHO = 'function main(params) { return params; }';
const RUN_BODY = JSON.stringify({
  value: { name: 'semirt', n: 42, tags: ['a', 'b'] },
  namespace: 'guest',
  action_name: '/guest/echo',
  action_version: '0.0.1',
  activation_id: '0123456789abcdef0123456789abcdef',
  transaction_id: 'bench',
  deadline: String(Date.now() + 3_600_000),
});

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '1,16,128' },
    target: { type: 'string', multiple: true, default: [] },
  },
});
const duration = Number(values.duration);
const levels = values.connections.split(',').map(Number);

/** Starts a server with its output in a log file (startNodeProcess); resolves with its URL (group 1 of `ready` = port). */
async function startServer(
  script: string,
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
): Promise<string> {
  const logPath = join(mkdtempSync(join(tmpdir(), 'semirt-bench-')), 'server.log');
  const server = await startNodeProcess(script, args, {
    logPath,
    ready,
    env: { PATH: process.env['PATH'] ?? '', ...env },
  });
  children.push(server);
  return `http://127.0.0.1:${server.ready[0] ?? ''}`;
}

async function init(target: Target): Promise<void> {
  if (!target.needsInit) return;
  const response = await fetch(`${target.url}/init`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ value: { name: 'echo', main: 'main', binary: false, code: ECHO } }),
  });
  await response.text();
  // 403 means the runtime was initialized before (e.g. by an earlier run of this bench).
  if (response.status !== 200 && response.status !== 403) {
    throw new Error(`/init of ${target.name} answered ${response.status}`);
  }
}

async function load(target: Target, connections: number, seconds: number): Promise<Row> {
  const result = await autocannon({
    url: `${target.url}/run`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: RUN_BODY,
    connections,
    duration: seconds,
  });
  return {
    target: target.name,
    connections,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx,
  };
}

const children: SemirtProcess[] = [];
try {
  const targets: Target[] = [
    {
      name: 'anchor (bare node:http echo)',
      url: await startServer(
        join(REPO_ROOT, 'dist', 'bench', 'runtime', 'bare-echo.js'),
        [],
        {},
        /listening (\d+)/,
      ),
      needsInit: false,
    },
    {
      name: 'semirt',
      url: await startServer(
        SEMIRT_CLI,
        ['runtime', '--host', '127.0.0.1', '--port', '0', '--log-level', 'info'],
        { __OW_ALLOW_CONCURRENT: 'true' },
        /"port":(\d+).*runtime listening/,
      ),
      needsInit: true,
    },
    ...values.target.map((spec) => {
      const [name, url] = spec.split('=', 2);
      if (name === undefined || url === undefined)
        throw new Error(`--target expects name=url, got "${spec}"`);
      return { name, url, needsInit: true };
    }),
  ];
  for (const target of targets) await init(target);

  const rows: Row[] = [];
  for (const connections of levels) {
    for (const target of targets) {
      await load(target, connections, 1); // warm-up: JIT, connection pools
      rows.push(await load(target, connections, duration));
    }
  }
  printTable(rows, targets);
} finally {
  await Promise.all(children.map((child) => child.stop('SIGKILL')));
}

function printTable(rows: readonly Row[], targets: readonly Target[]): void {
  const anchor = targets[0]!.name;
  const reference = targets[2]?.name;
  const ratio = (a: number, b: number): string => (b > 0 ? (a / b).toFixed(2) : '-');
  console.log(`\n/run of an echo action, ${duration} s per cell (after a 1 s warm-up).`);
  console.log(
    'Latency percentiles have 1 ms resolution (autocannon); mean = connections / req/s.\n',
  );
  const header = [
    'runtime',
    'conns',
    'req/s',
    'mean ms',
    'p50 ms',
    'p99 ms',
    'errors',
    'req/s vs anchor',
  ];
  if (reference !== undefined) header.push(`req/s vs ${reference}`, `p99 vs ${reference}`);
  console.log(`| ${header.join(' | ')} |\n|${'---|'.repeat(header.length)}`);
  for (const row of rows) {
    const same = (name: string): Row | undefined =>
      rows.find((r) => r.target === name && r.connections === row.connections);
    const base = same(anchor);
    const ref = reference === undefined ? undefined : same(reference);
    const cells = [
      row.target,
      String(row.connections),
      row.rps.toFixed(0),
      ((row.connections / row.rps) * 1000).toFixed(3),
      String(row.p50),
      String(row.p99),
      String(row.errors),
      base ? ratio(row.rps, base.rps) : '-',
    ];
    if (ref) cells.push(ratio(row.rps, ref.rps), ratio(row.p99, ref.p99));
    console.log(`| ${cells.join(' | ')} |`);
  }
}
