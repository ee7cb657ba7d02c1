// docs/walkthrough.md, run as written: its ```sh blocks in order, in one bash session, so the
// by-hand walkthrough cannot drift from the commands it documents.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { REPO_ROOT, SHARED_DATA } from '../support/paths.js';
import { CLI } from '../support/runtime-process.js';

const DOC = join(REPO_ROOT, 'docs', 'walkthrough.md');
/** The working folder the walkthrough names; the test gives it a fresh temporary folder. */
const DOC_DIR = '/tmp/semirt-walkthrough';
/** The fixed ports the walkthrough names; the test swaps in ports that are free right now. */
const DOC_PORTS = ['18080', '13570', '13571'] as const;

/** The fenced ```sh blocks of a markdown text, in order. */
function shellBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1] ?? '');
}

/** Quotes a string for a POSIX shell. */
function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** Distinct loopback ports that were free a moment ago (bound together, then released). */
async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer());
  await Promise.all(
    servers.map(async (server) => {
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
    }),
  );
  const ports = servers.map((server) => (server.address() as AddressInfo).port);
  await Promise.all(
    servers.map(
      (server) =>
        new Promise<void>((resolve) => {
          server.close(() => {
            resolve();
          });
        }),
    ),
  );
  return ports;
}

const base = mkdtempSync(join(tmpdir(), 'semirt-walkthrough-'));
/** The process group of the bash session: it and every process the walkthrough starts in the background. */
let group: number | undefined;

after(() => {
  // The walkthrough's last block stops what it started; this only matters when it failed midway.
  if (group !== undefined) {
    try {
      process.kill(-group, 'SIGKILL');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }
  rmSync(base, { recursive: true, force: true });
});

test(
  'docs/walkthrough.md runs as written and the person image scores "person" higher',
  {
    timeout: 180_000,
  },
  async () => {
    const markdown = readFileSync(DOC, 'utf8');
    const blocks = shellBlocks(markdown);
    assert.ok(blocks.length > 5, `expected the walkthrough's sh blocks, found ${blocks.length}`);
    let script = blocks.join('\n');
    assert.ok(script.includes(DOC_DIR), `the walkthrough no longer uses ${DOC_DIR}`);
    const work = join(base, 'work');
    script = script.replaceAll(DOC_DIR, work);
    const ports = await freePorts(DOC_PORTS.length);
    for (const [i, port] of DOC_PORTS.entries()) {
      const pattern = new RegExp(`\\b${port}\\b`, 'g');
      assert.match(script, pattern, `the walkthrough no longer uses port ${port}`);
      script = script.replace(pattern, String(ports[i]));
    }

    // `npx semirt …` as the walkthrough writes it, resolved to the compiled CLI under test (exec:
    // the pid the walkthrough reads from a log is then the process bash started).
    const bin = join(base, 'bin');
    mkdirSync(bin);
    writeFileSync(
      join(bin, 'npx'),
      [
        '#!/usr/bin/env bash',
        '[ "$1" = semirt ] || { echo "test shim: only \'npx semirt\' is available" >&2; exit 127; }',
        'shift',
        `exec ${shellQuote(process.execPath)} ${shellQuote(CLI)} "$@"`,
        '',
      ].join('\n'),
    );
    chmodSync(join(bin, 'npx'), 0o755);
    // Only the walkthrough's own settings: none inherited from the shell running the tests.
    const env: NodeJS.ProcessEnv = Object.fromEntries(
      Object.entries(process.env).filter(
        ([name]) => !name.startsWith('SEMIRT_') && !name.startsWith('__OW_'),
      ),
    );
    env['PATH'] = `${bin}:${process.env['PATH'] ?? ''}`;

    // Detached: bash leads its own process group, which `after` can stop as a whole.
    const bash = spawn('bash', ['-c', `set -euo pipefail\n${script}`], {
      cwd: REPO_ROOT,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const pgid = bash.pid;
    assert.ok(pgid !== undefined, 'bash did not start');
    group = pgid;
    let output = '';
    bash.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    bash.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const [code] = (await once(bash, 'close')) as [number | null];
    const logs = ['keyservice.log', 'runtime.log']
      .map((name) => join(work, name))
      .filter((path) => existsSync(path))
      .map((path) => `--- ${path}\n${readFileSync(path, 'utf8').split('\n').slice(-8).join('\n')}`)
      .join('\n');
    assert.equal(code, 0, `the walkthrough failed:\n${output}\n${logs}`);

    // Its last block stopped the KeyService and the runtime: nothing of the session is left.
    assert.throws(() => process.kill(-pgid, 0), { code: 'ESRCH' });
    group = undefined;

    // The /run body has SeSeMI's request shape: the same fields as its own OpenWhisk request file.
    const sesemi = JSON.parse(
      readFileSync(join(SHARED_DATA, 'sesemi-examples', 'ow_run_req.json'), 'utf8'),
    ) as { value: object };
    const sent = JSON.parse(readFileSync(join(work, 'run.json'), 'utf8')) as { value: object };
    assert.deepEqual(Object.keys(sent).sort(), Object.keys(sesemi).sort());
    assert.deepEqual(Object.keys(sent.value).sort(), Object.keys(sesemi.value).sort());

    // TFLM's person_detection_test: [no person, person] int8 scores, person higher, and the
    // very scores the walkthrough quotes.
    const scores = new Int8Array(readFileSync(join(work, 'output.bin')));
    assert.equal(scores.length, 2);
    assert.ok(scores[1]! > scores[0]!, `expected person > no person, got [${scores.join(', ')}]`);
    const quoted = /higher one: `(-?\d+) (-?\d+)`/.exec(markdown);
    assert.ok(quoted, 'the walkthrough no longer quotes the two scores');
    assert.deepEqual([...scores], [Number(quoted[1]), Number(quoted[2])]);
    assert.match(output, /encrypted and plaintext inference agree/);
  },
);
