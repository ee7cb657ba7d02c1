import type { Command } from 'commander';
import { processAttestation } from '../../attestation/process-attestation.js';
import {
  attestationConfig,
  tcbStatusesSetting,
  type AttestationFlags,
} from '../../config/attestation.js';
import { inferenceOptions, type InferenceFlags } from '../../config/inference.js';
import { runtimeOptions, type RuntimeFlags } from '../../config/runtime.js';
import { startInferenceService } from '../../inference/service.js';
import { createLogger } from '../../log/logger.js';
import { startRuntime } from '../../proxy/runtime.js';
import { exitOnSignals } from '../signals.js';
import { toolAction } from '../tooling.js';
import { attestationOptions } from '../attestation-options.js';

/** `semirt runtime`: the OpenWhisk action runtime (POST /init, POST /run), with the inference action when given a model store. */
export function registerRuntime(program: Command): void {
  const command = program
    .command('runtime')
    .description(
      'Start the OpenWhisk action runtime (POST /init, POST /run); with --store it serves the secure inference action',
    )
    .option('--port <port>', 'port to listen on (env PORT; default 8080)')
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
    .option('--store <dir>', 'model store folder: serve the inference action (env SEMIRT_STORE)')
    .option(
      '--keyservice-measurement <hex,...>',
      'measurement(s) of the KeyService to trust (env SEMIRT_KEYSERVICE_MEASUREMENT; required with --store)',
    )
    .option(
      '--keyservice-allow <host:port,...>',
      'KeyService endpoints requests may name (env SEMIRT_KEYSERVICE_ALLOW; default any attested one)',
    )
    .option('--workers <n>', 'inference worker threads (env SEMIRT_WORKERS; default the CPU count)')
    .option(
      '--max-queue <n>',
      'inferences waiting before "busy" (env SEMIRT_MAX_QUEUE; default 1024)',
    )
    .option('--key-ttl <seconds>', 'reuse released keys this long (env SEMIRT_KEY_TTL; default 60)')
    .option(
      '--model-cache-mb <mb>',
      'decrypted models kept (env SEMIRT_MODEL_CACHE_MB; default 1024)',
    )
    .option(
      '--keyservice-timeout <seconds>',
      'KeyService request timeout (env SEMIRT_KEYSERVICE_TIMEOUT; default 10)',
    )
    .option(
      '--metrics-port <port>',
      'serve Prometheus GET /metrics on this port (env SEMIRT_METRICS_PORT)',
    )
    .addHelpText(
      'after',
      '\nConcurrency: set __OW_ALLOW_CONCURRENT=true to serve overlapping /run requests.',
    );
  attestationOptions(command, true).action(
    toolAction(
      async (
        flags: RuntimeFlags & InferenceFlags & AttestationFlags & { acceptTcbStatuses?: string },
      ) => {
        const options = runtimeOptions(flags);
        const logger = createLogger(options.logLevel);
        const inference = inferenceOptions(flags);
        const service =
          inference === undefined
            ? undefined
            : await startInferenceService(
                inference,
                // The KeyService's measurement is added by the service (--keyservice-measurement).
                await processAttestation(attestationConfig(flags), 'runtime', {
                  acceptedTcbStatuses: tcbStatusesSetting(flags.acceptTcbStatuses),
                  allowDebug: false,
                }),
                logger,
                options.host,
              );
        const runtime = await startRuntime(
          options,
          logger,
          service === undefined
            ? {}
            : { builtinAction: service.action, afterDrain: () => service.close() },
        );
        exitOnSignals(logger, () => runtime.shutdown());
      },
    ),
  );
}
