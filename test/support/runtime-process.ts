import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { SEMIRT_CLI } from '../../src/cli/child-process.js';
import { SENTINEL } from '../../src/proxy/output.js';

/** The compiled CLI; tests run the real `semirt` entry point as a separate process. */
export const CLI = SEMIRT_CLI;

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  readonly json: unknown;
}

/** A `semirt runtime` child process on a loopback port, with its real stdout and stderr captured. */
export interface RuntimeProcess {
  readonly url: string;
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Lines equal to the sentinel on each stream. */
  sentinels(): { readonly stdout: number; readonly stderr: number };
  post(path: string, body: unknown): Promise<HttpAnswer>;
  /** Resolves when stdout contains `text` (the action's own output), without polling sleeps. */
  waitForStdout(text: string): Promise<void>;
  /** Resolves when stderr contains `text`. */
  waitForStderr(text: string): Promise<void>;
  /**
   * Resolves when each stream holds at least `n` sentinels. Output reaches the test through pipes
   * that are read independently of the HTTP answer, so assertions on it wait for it first; a
   * stream keeps its order, so once the n-th sentinel is here, everything before it is too.
   */
  waitForSentinels(n: number): Promise<void>;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `semirt runtime --port 0` and waits for its "listening" log line to learn the port. */
export async function startRuntimeProcess(
  options: { env?: Record<string, string>; args?: readonly string[] } = {},
): Promise<RuntimeProcess> {
  const child = spawn(
    process.execPath,
    [
      CLI,
      'runtime',
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--log-level',
      'info',
      ...(options.args ?? []),
    ],
    { env: { PATH: process.env['PATH'] ?? '', ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  const waiters: { done: () => boolean; resolve: () => void }[] = [];
  const wake = (): void => {
    for (const waiter of waiters.filter((w) => w.done())) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  };
  const until = (done: () => boolean): Promise<void> =>
    done()
      ? Promise.resolve()
      : new Promise((resolve) => {
          waiters.push({ done, resolve });
        });
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    wake();
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => {
      reject(new Error(`runtime exited with ${code} before listening: ${err}`));
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      err += chunk;
      wake();
      const match = /"port":(\d+).*"msg":"runtime listening"/.exec(err);
      if (match?.[1] !== undefined) resolve(Number(match[1]));
    });
  });
  const url = `http://127.0.0.1:${port}`;
  const count = (text: string): number =>
    text.split('\n').filter((line) => line === SENTINEL).length;
  return {
    url,
    child,
    stdout: () => out,
    stderr: () => err,
    sentinels: () => ({ stdout: count(out), stderr: count(err) }),
    post: (path, body) => post(url + path, body),
    waitForStdout: (text) => until(() => out.includes(text)),
    waitForStderr: (text) => until(() => err.includes(text)),
    waitForSentinels: (n) => until(() => count(out) >= n && count(err) >= n),
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      const exited = once(child, 'exit');
      child.kill(signal);
      const [code] = (await exited) as [number | null];
      return code;
    },
  };
}

/** POSTs a JSON value (or a raw string as is) and reads the whole answer. */
export async function post(url: string, body: unknown): Promise<HttpAnswer> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** An /init body for JavaScript source text. */
export function initBody(code: string, extra: Record<string, unknown> = {}): unknown {
  return { value: { name: 'test', main: 'main', binary: false, code, env: null, ...extra } };
}

/** A /run body as the invoker sends it. */
export function runBody(value: unknown, context: Record<string, unknown> = {}): unknown {
  return {
    value,
    namespace: 'guest',
    action_name: '/guest/test',
    action_version: '0.0.1',
    activation_id: 'a0',
    transaction_id: 't0',
    deadline: String(Date.now() + 60_000),
    ...context,
  };
}
