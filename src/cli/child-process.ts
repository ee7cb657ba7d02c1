import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../package-root.js';

/** The built `semirt` entry point, to start semirt processes as in deployment. */
export const SEMIRT_CLI = join(packageRoot(), 'dist', 'src', 'cli', 'main.js');

/** A child process whose output goes to a log file. */
export interface SemirtProcess {
  readonly child: ChildProcess;
  /** The capture groups of the `ready` pattern, e.g. the ports it listens on. */
  readonly ready: readonly string[];
  /** SIGTERM, then resolves with the exit code once it is gone. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface StartOptions {
  readonly logPath: string;
  readonly ready: RegExp;
  readonly env?: NodeJS.ProcessEnv;
  readonly timeoutMs?: number;
}

/** Starts `semirt <args>` (see startNodeProcess). */
export function startSemirt(
  args: readonly string[],
  options: StartOptions,
): Promise<SemirtProcess> {
  return startNodeProcess(SEMIRT_CLI, args, options);
}

/**
 * Starts `node <script> <args>` with its stdout and stderr written to `logPath` (a file, like
 * Docker's log driver: a pipe read by a busy parent would slow the child) and waits until the log
 * matches `ready`. Refuses to wait past `timeoutMs`.
 */
export async function startNodeProcess(
  script: string,
  args: readonly string[],
  options: StartOptions,
): Promise<SemirtProcess> {
  const name = `${script} ${args[0] ?? ''}`;
  const log = openSync(options.logPath, 'w');
  const child = spawn(process.execPath, [script, ...args], {
    env: options.env ?? process.env,
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    const exited = once(child, 'exit');
    child.kill(signal);
    const [code] = (await exited) as [number | null];
    return code;
  };
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`${name} exited with code ${child.exitCode}: ${tail(options.logPath)}`);
    }
    const match = options.ready.exec(readFileSync(options.logPath, 'utf8'));
    if (match !== null) return { child, ready: match.slice(1), stop };
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  await stop('SIGKILL');
  throw new Error(`${name} did not start in time: ${tail(options.logPath)}`);
}

function tail(path: string): string {
  return readFileSync(path, 'utf8').split('\n').slice(-5).join('\n');
}
