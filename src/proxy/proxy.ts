import { serializeError } from 'serialize-error';
import {
  ActionLoadError,
  type Action,
  type ActionLoader,
  type InitRequest,
} from '../actions/action.js';
import { SemirtError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { activationStorage, contextFromRunBody } from './activation-context.js';
import type { ProxyOutput } from './output.js';
import {
  applicationErrorResponse,
  errorResponse,
  jsonResponse,
  type ProxyResponse,
} from './responses.js';

/** What the proxy needs from its surroundings; the server only binds `handle` to a socket. */
export interface ProxyOptions {
  /** Serve overlapping /run requests (`__OW_ALLOW_CONCURRENT=true`); otherwise refuse them with 403. */
  readonly allowConcurrent: boolean;
  /** Loads user code sent by /init. */
  readonly loadAction: ActionLoader;
  /** A built-in action (the inference action): /init then needs no code. */
  readonly builtinAction?: Action;
  readonly output: ProxyOutput;
  readonly logger: Logger;
}

/** A request as the server hands it over, with the body fully read (and within limits). */
export interface ProxyRequest {
  readonly method: string;
  readonly path: string;
  readonly body: Buffer;
}

export interface Proxy {
  handle(request: ProxyRequest): Promise<ProxyResponse>;
  /** Stops taking new work (answers 503); resolves when no activation is in flight any more. */
  drain(): Promise<void>;
  /** Activations currently running. */
  readonly inFlight: number;
  /** True once drain() was called: answers then close their connections. */
  readonly draining: boolean;
}

type Status = 'uninitialized' | 'starting' | 'ready' | 'stopped';

type Outcome =
  | { readonly kind: 'returned'; readonly value: unknown }
  | { readonly kind: 'rejected'; readonly reason: unknown }
  | { readonly kind: 'thrown'; readonly error: unknown };

const OK_BODY = jsonResponse(200, { OK: true });

/** Creates the OpenWhisk action proxy: the /init and /run state machine of the runtime contract. */
export function createProxy(options: ProxyOptions): Proxy {
  const { output, logger } = options;
  let status: Status = 'uninitialized';
  let action: Action | undefined;
  let inFlight = 0;
  let running = 0;
  let draining = false;
  let drained: (() => void) | undefined;

  /** A refusal the Node.js runtime also reports on stderr (never with a sentinel). */
  function refuse(code: 'NOT_READY' | 'NOT_INITIALIZED' | 'INIT_ALREADY_DONE', message: string) {
    output.error(`Internal system error: ${message}`);
    return errorResponse(new SemirtError(code, message));
  }

  function parseBody(body: Buffer): Record<string, unknown> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch (err) {
      throw new SemirtError(
        'BAD_REQUEST',
        `Bad request: the body is not valid JSON: ${(err as Error).message}`,
      );
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new SemirtError('BAD_REQUEST', 'Bad request: the body must be a JSON object');
    }
    return parsed as Record<string, unknown>;
  }

  async function init(body: Buffer): Promise<ProxyResponse> {
    if (status === 'ready')
      return refuse('INIT_ALREADY_DONE', 'Cannot initialize the action more than once.');
    if (status !== 'uninitialized')
      return refuse('NOT_READY', `System not ready, status is ${status}.`);
    const message = parseBody(body)['value'];
    const value =
      message !== null && typeof message === 'object' ? (message as Record<string, unknown>) : {};
    applyInitEnv(value['env']);
    if (options.builtinAction !== undefined) {
      action = options.builtinAction;
      status = 'ready';
      return OK_BODY;
    }
    const request = initRequest(value);
    status = 'starting';
    try {
      action = await options.loadAction(request);
      status = 'ready';
      return OK_BODY;
    } catch (err) {
      status = 'stopped';
      // User code failing shows its stack; what the loader found is said by its message alone.
      const detail =
        err instanceof ActionLoadError
          ? err.message
          : err instanceof Error
            ? (err.stack ?? err.message)
            : String(err);
      output.error(`Error during initialization: ${detail}`);
      output.sentinels();
      return errorResponse(
        new SemirtError('INIT_FAILED', `Initialization has failed due to: ${detail}`),
      );
    }
  }

  async function run(body: Buffer): Promise<ProxyResponse> {
    if (status === 'uninitialized') return refuse('NOT_INITIALIZED', 'System not initialized.');
    if (status !== 'ready' || action === undefined) {
      return refuse('NOT_READY', `System not ready, status is ${status}.`);
    }
    if (!options.allowConcurrent && running > 0) {
      return refuse('NOT_READY', 'System not ready, status is running.');
    }
    const request = parseBody(body);
    const value = request['value'] ?? {};
    if (typeof value !== 'object') {
      throw new SemirtError(
        'BAD_REQUEST',
        `Bad request: "value" must be a JSON object or array, got ${typeof value}`,
      );
    }
    const context = contextFromRunBody(request);
    // Without concurrency the real environment is also written, as the Node.js runtime does, for
    // code that reads it outside the activation's async context (e.g. native addons).
    if (!options.allowConcurrent) Object.assign(process.env, context.env);
    const current = action;
    running++;
    try {
      const outcome = await activationStorage.run(context, () => invoke(current, value));
      const response = toResponse(outcome);
      output.sentinels();
      return response;
    } finally {
      running--;
    }
  }

  /** Serializes a result; one that cannot be (circular, BigInt) fails only this activation. */
  function serialize(status: number, value: unknown): ProxyResponse {
    try {
      return { status, body: Buffer.from(JSON.stringify(value)) };
    } catch (err) {
      const reason = (err as Error).message;
      output.error(`The action result cannot be serialized: ${reason}`);
      return errorResponse(
        new SemirtError(
          'ACTION_FAILED',
          `The action returned a result that cannot be serialized to JSON: ${reason}`,
        ),
      );
    }
  }

  function toResponse(outcome: Outcome): ProxyResponse {
    switch (outcome.kind) {
      case 'returned': {
        const result = outcome.value === undefined ? {} : outcome.value;
        if (result === null || typeof result !== 'object') {
          const type = result === null ? 'null' : typeof result;
          output.error(`Result must be of type object but has type "${type}"`);
          return errorResponse(
            new SemirtError('ACTION_FAILED', 'The action did not return a dictionary or array.'),
          );
        }
        return serialize(200, result);
      }
      case 'rejected': {
        // As the Node.js runtime: a rejection is an application error and the container is
        // kept; Errors become {name, message, stack}, other values are answered as they are.
        // semirt's own errors (the built-in actions') answer {code, message}.
        const { reason } = outcome;
        if (reason instanceof SemirtError) return applicationErrorResponse(reason);
        return serialize(200, {
          error: reason instanceof Error ? serializeError(reason) : (reason ?? {}),
        });
      }
      case 'thrown': {
        const { error } = outcome;
        output.error(error instanceof Error ? (error.stack ?? String(error)) : String(error));
        return errorResponse(
          new SemirtError('ACTION_FAILED', `An error has occurred: ${String(error)}`),
        );
      }
    }
  }

  async function dispatch(request: ProxyRequest): Promise<ProxyResponse> {
    const route = request.path.split('?', 1)[0];
    if (route !== '/init' && route !== '/run') {
      throw new SemirtError(
        'ROUTE_NOT_FOUND',
        `Not found: ${JSON.stringify(route)} (the runtime serves POST /init and POST /run)`,
      );
    }
    if (request.method !== 'POST') {
      throw new SemirtError(
        'METHOD_NOT_ALLOWED',
        `Method ${request.method} is not allowed on ${route}: use POST`,
      );
    }
    if (draining) throw new SemirtError('SHUTTING_DOWN', 'The runtime is shutting down.');
    return route === '/init' ? init(request.body) : run(request.body);
  }

  return {
    async handle(request) {
      inFlight++;
      try {
        return await dispatch(request);
      } catch (err) {
        if (!(err instanceof SemirtError)) logger.error({ err }, 'unexpected proxy failure');
        return errorResponse(err);
      } finally {
        inFlight--;
        if (draining && inFlight === 0) drained?.();
      }
    },
    drain() {
      draining = true;
      if (inFlight === 0) return Promise.resolve();
      return new Promise<void>((resolve) => {
        drained = resolve;
      });
    },
    get inFlight() {
      return inFlight;
    },
    get draining() {
      return draining;
    },
  };
}

/** Validates the /init `value` as the Node.js runtime does; `main` defaults to "main". */
function initRequest(value: Record<string, unknown>): InitRequest {
  const { code, main, name, binary } = value;
  if (
    typeof code !== 'string' ||
    code.trim() === '' ||
    (main !== undefined && typeof main !== 'string')
  ) {
    throw new SemirtError('INIT_MISSING_CODE', 'Missing main/no code to execute.');
  }
  return {
    name: typeof name === 'string' ? name : '',
    main: typeof main === 'string' && main !== '' ? main : 'main',
    code,
    binary: binary === true,
  };
}

/** Exports /init `env` entries before the action loads; the invoker sends strings, others are stringified. */
function applyInitEnv(env: unknown): void {
  if (env === null || env === undefined) return;
  if (typeof env !== 'object' || Array.isArray(env)) {
    throw new SemirtError('BAD_REQUEST', 'Bad request: "value.env" must be a JSON object or null');
  }
  for (const [key, value] of Object.entries(env)) {
    process.env[key] =
      typeof value === 'string'
        ? value
        : value === null
          ? ''
          : typeof value === 'object'
            ? JSON.stringify(value)
            : String(value);
  }
}

/** Calls the action, telling a synchronous throw from a rejection, as the contract answers them differently. */
async function invoke(action: Action, value: unknown): Promise<Outcome> {
  let returned: unknown;
  try {
    returned = action.invoke(value);
  } catch (error) {
    return { kind: 'thrown', error };
  }
  try {
    return { kind: 'returned', value: await returned };
  } catch (reason) {
    return { kind: 'rejected', reason };
  }
}
