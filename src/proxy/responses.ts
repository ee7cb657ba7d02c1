import { ERROR_CATALOG, isSemirtError, type ErrorSpec, type SemirtError } from '../errors.js';

/** An HTTP answer of the proxy; the server always sends it with Content-Length. */
export interface ProxyResponse {
  readonly status: number;
  readonly body: Buffer;
  /** Close the connection after answering (the request body was not fully read). */
  readonly close?: boolean;
}

/** A JSON answer; `value` must be serializable (callers check results of user code first). */
export function jsonResponse(status: number, value: unknown): ProxyResponse {
  return { status, body: Buffer.from(JSON.stringify(value)) };
}

/**
 * An error of an action's work: 200 with `{"error": {code, message}}`, the container stays.
 * Whatever its code, an error an action rejects with is the request's failure, not the runtime's.
 */
export function applicationErrorResponse(err: SemirtError): ProxyResponse {
  return jsonResponse(200, { error: { code: err.code, message: err.message } });
}

/**
 * The one place that turns an error into an OpenWhisk response. Protocol errors answer
 * `{"error": message}` with their catalog status (the Node.js runtime's shape, which the
 * platform's conformance suite checks); application errors answer 200 with
 * `{"error": {code, message}}` so OpenWhisk keeps the container; anything unexpected is a 500
 * whose details stay in the log, not in the answer.
 */
export function errorResponse(err: unknown): ProxyResponse {
  if (!isSemirtError(err)) return jsonResponse(500, { error: 'Internal error.' });
  const spec: ErrorSpec = ERROR_CATALOG[err.code];
  if (spec.shape === 'application') return applicationErrorResponse(err);
  const response = jsonResponse(spec.status, { error: err.message });
  return err.code === 'BODY_TOO_LARGE' ? { ...response, close: true } : response;
}
