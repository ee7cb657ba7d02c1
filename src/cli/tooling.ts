import { isSemirtError } from '../errors.js';

/** A one-line progress bar on a terminal; silent when the stream is not a TTY (pipes, CI logs). */
export class ProgressBar {
  readonly #label: string;
  readonly #stream: NodeJS.WriteStream;
  #lastDraw = 0;
  #drawn = false;

  constructor(label: string, stream: NodeJS.WriteStream = process.stderr) {
    this.#label = label;
    this.#stream = stream;
  }

  /** Redraws the bar (at most every 100 ms, and always at completion). */
  update(done: number, total: number): void {
    if (!this.#stream.isTTY) return;
    const now = Date.now();
    if (done < total && now - this.#lastDraw < 100) return;
    this.#lastDraw = now;
    const width = 30;
    const fraction = total === 0 ? 1 : Math.min(1, done / total);
    const filled = Math.round(fraction * width);
    const mb = (n: number): string => (n / 1_048_576).toFixed(1);
    this.#stream.write(
      `\r${this.#label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${Math.floor(
        fraction * 100,
      )
        .toString()
        .padStart(3)}% ${mb(done)}/${mb(total)} MB`,
    );
    this.#drawn = true;
  }

  /** Ends the bar's line. */
  finish(): void {
    if (this.#drawn) this.#stream.write('\n');
    this.#drawn = false;
  }
}

/**
 * Wraps a client-tool action so that a SemirtError prints as one line (`semirt: <message>`) with
 * exit code 1 instead of a stack trace; other errors still propagate.
 */
export function toolAction<A extends unknown[]>(
  action: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await action(...args);
    } catch (error) {
      if (!isSemirtError(error)) throw error;
      process.stderr.write(`semirt: ${error.message}\n`);
      process.exitCode = 1;
    }
  };
}
