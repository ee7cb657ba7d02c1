import type { Logger } from '../log/logger.js';

/** On SIGTERM or SIGINT, runs a graceful stop once, then exits (0 when drained cleanly). */
export function exitOnSignals(
  logger: Logger,
  stop: () => Promise<{ readonly drained: boolean }>,
): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    stop().then(
      ({ drained }) => process.exit(drained ? 0 : 1),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
