import type { Command } from 'commander';
import { runtimeOptions, type RuntimeFlags } from '../../config/runtime.js';
import { createLogger } from '../../log/logger.js';
import { startRuntime } from '../../proxy/runtime.js';
import { exitOnSignals } from '../signals.js';

/** `semirt runtime`: the OpenWhisk action runtime (POST /init, POST /run). */
export function registerRuntime(program: Command): void {
  program
    .command('runtime')
    .description('Start the OpenWhisk action runtime (POST /init, POST /run)')
    .option('--port <port>', 'port to listen on (env PORT)', undefined)
    .option('--host <host>', 'interface to listen on (env SEMIRT_HOST; default all interfaces)')
    .option('--max-body-mb <mb>', 'largest request body in MB (env SEMIRT_MAX_BODY_MB; default 48)')
    .option(
      '--drain-timeout <seconds>',
      'on SIGTERM, how long to wait for in-flight activations (env SEMIRT_DRAIN_TIMEOUT; default 300)',
    )
    .option(
      '--log-level <level>',
      'fatal|error|warn|info|debug|trace|silent (env SEMIRT_LOG_LEVEL; default warn)',
    )
    .addHelpText(
      'after',
      '\nConcurrency: set __OW_ALLOW_CONCURRENT=true to serve overlapping /run requests.',
    )
    .action(async (flags: RuntimeFlags) => {
      const options = runtimeOptions(flags);
      const logger = createLogger(options.logLevel);
      const runtime = await startRuntime(options, logger);
      exitOnSignals(logger, () => runtime.shutdown());
    });
}
