/**
 * The error catalog: every error semirt reports has a stable code listed here, with the HTTP
 * status it maps to and the shape of its OpenWhisk response. `proxy/responses.ts` is the one
 * place that turns an error into a response; `docs/errors.md` is generated from this table and
 * checked by a test.
 *
 * Shapes:
 * - `protocol`: errors of the OpenWhisk runtime protocol itself. They answer `{"error": "<message>"}`
 *   with the texts of the official Node.js runtime, which the platform's conformance suite checks.
 * - `application`: errors of a hosted action's work (the inference action). They answer 200 with
 *   `{"error": {"code", "message"}}` so that OpenWhisk keeps the container.
 * - `internal`: errors that never reach an HTTP response (command line, start-up).
 */

export type ErrorShape = 'protocol' | 'application' | 'internal';

export interface ErrorSpec {
  readonly status: number;
  readonly shape: ErrorShape;
  /** One sentence for docs/errors.md: when this error happens. */
  readonly doc: string;
}

export const ERROR_CATALOG = {
  // --- OpenWhisk proxy: request handling ---
  BAD_REQUEST: {
    status: 400,
    shape: 'protocol',
    doc: 'The request body is not valid JSON or a field has the wrong type.',
  },
  BODY_TOO_LARGE: {
    status: 413,
    shape: 'protocol',
    doc: 'The request body exceeds the configured limit (48 MB by default, as the Node.js runtime).',
  },
  ROUTE_NOT_FOUND: {
    status: 404,
    shape: 'protocol',
    doc: 'The path is neither /init nor /run.',
  },
  METHOD_NOT_ALLOWED: {
    status: 405,
    shape: 'protocol',
    doc: '/init and /run accept only POST.',
  },
  SHUTTING_DOWN: {
    status: 503,
    shape: 'protocol',
    doc: 'The runtime received SIGTERM and is finishing in-flight activations; OpenWhisk re-dispatches on 503.',
  },
  // --- OpenWhisk proxy: /init ---
  INIT_MISSING_CODE: {
    status: 403,
    shape: 'protocol',
    doc: '/init came without `value.code` (or with an empty one) and the runtime hosts no built-in action.',
  },
  INIT_ALREADY_DONE: {
    status: 403,
    shape: 'protocol',
    doc: 'A second /init after a successful one.',
  },
  NOT_READY: {
    status: 403,
    shape: 'protocol',
    doc: 'The runtime is initializing, has failed to initialize, or (without concurrency) is running another activation.',
  },
  INIT_FAILED: {
    status: 502,
    shape: 'protocol',
    doc: 'The action code could not be loaded: a syntax error, a load-time exception, a bad archive or a missing entry point.',
  },
  // --- OpenWhisk proxy: /run ---
  NOT_INITIALIZED: {
    status: 403,
    shape: 'protocol',
    doc: '/run before a successful /init.',
  },
  ACTION_FAILED: {
    status: 502,
    shape: 'protocol',
    doc: 'The action threw synchronously, returned something other than an object or array, or a result that cannot be serialized.',
  },
  // --- Command line and configuration ---
  INVALID_OPTION: {
    status: 500,
    shape: 'internal',
    doc: 'A command-line flag or environment variable has an invalid value.',
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

/** An error with a stable catalog code; the message must never contain key bytes or plaintext. */
export class SemirtError extends Error {
  override readonly name = 'SemirtError';
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  /** The HTTP status the catalog assigns to this error's code. */
  get status(): number {
    return ERROR_CATALOG[this.code].status;
  }
}

/** Tells whether a value is a SemirtError, optionally of one code. */
export function isSemirtError(value: unknown, code?: ErrorCode): value is SemirtError {
  return value instanceof SemirtError && (code === undefined || value.code === code);
}
