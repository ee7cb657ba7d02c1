import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, openSync, readFileSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { intSetting } from '../../config/parse.js';
import { packageRoot } from '../../package-root.js';

interface UpFlags {
  readonly port?: string;
  readonly once?: boolean;
  readonly dir?: string;
}

/** `semirt up`: the local stack on embedded defaults, then a demonstration through it. */
export function registerUp(program: Command): void {
  program
    .command('up')
    .description(
      'Start the local stack (the action runtime with the sample action) and show it answering concurrent activations',
    )
    .option('--port <port>', 'runtime port on 127.0.0.1 (default 8080)')
    .option('--dir <dir>', 'working folder for logs (default .semirt/up)')
    .option('--once', 'stop the stack after the demonstration instead of serving until Ctrl-C')
    .action(async (flags: UpFlags) => {
      const port = intSetting(
        flags.port,
        {},
        { flag: '--port' },
        { min: 0, max: 65535, fallback: 8080 },
      );
      await up({ port, once: flags.once === true, dir: flags.dir ?? join('.semirt', 'up') });
    });
}

async function up(options: { port: number; once: boolean; dir: string }): Promise<void> {
  mkdirSync(options.dir, { recursive: true });
  const logPath = join(options.dir, 'runtime.log');
  const runtime = await startRuntimeChild(options.port, logPath);
  const stop = async (): Promise<void> => {
    if (runtime.child.exitCode !== null) return;
    const exited = once(runtime.child, 'exit');
    runtime.child.kill('SIGTERM');
    await exited;
  };
  try {
    console.log(`runtime   ${runtime.url}  (logs: ${logPath})`);
    const code = readFileSync(join(packageRoot(), 'examples', 'hello', 'index.js'), 'utf8');
    const init = await postJson(`${runtime.url}/init`, {
      value: { name: 'hello', main: 'main', binary: false, code },
    });
    console.log(`/init     ${init.status} ${init.text}`);
    const names = ['Ada', 'Grace', 'Edsger', 'Barbara', 'Tony', 'Frances', 'Donald', 'Leslie'];
    const started = performance.now();
    const answers = await Promise.all(
      names.map((name, i) =>
        postJson(`${runtime.url}/run`, {
          value: { name, delayMs: 50 },
          activation_id: `demo-activation-${i}`,
          namespace: 'guest',
          action_name: '/guest/hello',
          action_version: '0.0.1',
          transaction_id: `demo-${i}`,
          deadline: String(Date.now() + 60_000),
        }),
      ),
    );
    const elapsed = performance.now() - started;
    for (const answer of answers) console.log(`/run      ${answer.status} ${answer.text}`);
    console.log(
      `${names.length} concurrent activations of a 50 ms action answered in ${elapsed.toFixed(0)} ms, each with its own context.`,
    );
    if (options.once) return;
    console.log(
      `\nServing until Ctrl-C. Try:\n  curl -s -X POST ${runtime.url}/run -H 'content-type: application/json' -d '{"value":{"name":"you"}}'`,
    );
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
  } finally {
    await stop();
  }
}

/** Runs `semirt runtime` as its own process, as in deployment, with its output in a log file. */
async function startRuntimeChild(
  port: number,
  logPath: string,
): Promise<{ child: ChildProcess; url: string }> {
  const log = openSync(logPath, 'w');
  const cli = fileURLToPath(new URL('../main.js', import.meta.url));
  const child = spawn(
    process.execPath,
    [cli, 'runtime', '--host', '127.0.0.1', '--port', String(port), '--log-level', 'info'],
    { env: { ...process.env, __OW_ALLOW_CONCURRENT: 'true' }, stdio: ['ignore', log, log] },
  );
  closeSync(log);
  for (let waited = 0; waited < 15_000; waited += 25) {
    if (child.exitCode !== null) {
      throw new Error(`The runtime exited with code ${child.exitCode}; see ${logPath}`);
    }
    const match = /"port":(\d+)[^\n]*"msg":"runtime listening"/.exec(readFileSync(logPath, 'utf8'));
    if (match?.[1] !== undefined) return { child, url: `http://127.0.0.1:${match[1]}` };
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  child.kill('SIGKILL');
  throw new Error(`The runtime did not start within 15 s; see ${logPath}`);
}

async function postJson(url: string, body: unknown): Promise<{ status: number; text: string }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, text: await response.text() };
}
