import type { Action } from '../actions/action.js';
import { jsActionLoader } from '../actions/js-action.js';
import type { RuntimeOptions } from '../config/runtime.js';
import type { Logger } from '../log/logger.js';
import { activationStorage } from './activation-context.js';
import { installEnvShim } from './env-shim.js';
import { processOutput, type ProxyOutput } from './output.js';
import { createProxy } from './proxy.js';
import { listen } from './server.js';

/** A started action runtime. */
export interface Runtime {
  readonly port: number;
  /** Graceful stop: new requests get 503, in-flight activations finish (up to the drain timeout), then the server closes. */
  shutdown(): Promise<{ readonly drained: boolean }>;
}

/** Extra parts a runtime may be started with. */
export interface RuntimeParts {
  readonly builtinAction?: Action;
  readonly output?: ProxyOutput;
  /** Runs after the drain, before the server closes (e.g. stopping the worker pool). */
  readonly afterDrain?: () => Promise<void>;
}

/** Starts the OpenWhisk action runtime on the configured host and port. */
export async function startRuntime(
  options: RuntimeOptions,
  logger: Logger,
  parts: RuntimeParts = {},
): Promise<Runtime> {
  installEnvShim(activationStorage);
  const proxy = createProxy({
    allowConcurrent: options.allowConcurrent,
    loadAction: jsActionLoader(),
    output: parts.output ?? processOutput,
    logger,
    ...(parts.builtinAction === undefined ? {} : { builtinAction: parts.builtinAction }),
  });
  const server = await listen(proxy, options, logger);
  logger.info(
    { host: options.host, port: server.port, concurrent: options.allowConcurrent },
    'runtime listening',
  );
  return {
    port: server.port,
    async shutdown() {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<false>((resolve) => {
        timer = setTimeout(() => {
          resolve(false);
        }, options.drainTimeoutMs);
      });
      const drained = await Promise.race([proxy.drain().then(() => true), timeout]);
      clearTimeout(timer);
      if (!drained)
        logger.warn(
          { inFlight: proxy.inFlight },
          'drain timeout: exiting with activations in flight',
        );
      await parts.afterDrain?.();
      await server.close();
      return { drained };
    },
  };
}
