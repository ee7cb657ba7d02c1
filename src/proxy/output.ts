/** The token the invoker looks for, alone on its line, once on stdout and once on stderr. */
export const SENTINEL = 'XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX';

/** Where the proxy writes activation markers and runtime messages meant for the activation log. */
export interface ProxyOutput {
  /** Ends one activation's logs: one sentinel line on each stream. */
  sentinels(): void;
  /** A runtime message on stderr, as the Node.js runtime prints them (never secrets). */
  error(line: string): void;
}

/** Writes to the process's real stdout and stderr (pipes are synchronous on Linux, keeping order). */
export const processOutput: ProxyOutput = {
  sentinels() {
    process.stdout.write(`${SENTINEL}\n`);
    process.stderr.write(`${SENTINEL}\n`);
  },
  error(line) {
    process.stderr.write(`${line}\n`);
  },
};
