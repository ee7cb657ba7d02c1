import { SemirtError } from '../errors.js';
import { isModelId, MODEL_ID_RULE } from '../model-id.js';
import { decodeBase64 } from '../crypto/encoding.js';
import { gcmAlgorithm } from '../crypto/envelope.js';

/**
 * KeyService wire messages, compatible with SeSeMI (DESIGN.md §3). Client requests are
 * `{type, user_id, payload}`; the payload is a base64 envelope, under the sender's id key, of a
 * JSON object. semirt adds type 4 (revoke) and, inside the payload, `counter` (strictly
 * increasing per user, against replay) and `type` (binding the payload to its request type).
 */
export const REQUEST_TYPES = {
  REGISTER: 0,
  ADD_REQUEST_KEY: 1,
  UPSERT_MODEL_KEY: 2,
  GRANT_MODEL_ACCESS: 3,
  REVOKE_MODEL_ACCESS: 4,
} as const;

/** A user request after validation (the fields of its decrypted payload), as both sides see it. */
export type UserRequest =
  | {
      readonly type: typeof REQUEST_TYPES.ADD_REQUEST_KEY;
      readonly modelId: string;
      readonly measurement: string;
      readonly requestKey: Uint8Array;
    }
  | {
      readonly type: typeof REQUEST_TYPES.UPSERT_MODEL_KEY;
      readonly modelId: string;
      readonly modelKey: Uint8Array;
    }
  | {
      readonly type:
        typeof REQUEST_TYPES.GRANT_MODEL_ACCESS | typeof REQUEST_TYPES.REVOKE_MODEL_ACCESS;
      readonly modelId: string;
      readonly measurement: string;
      readonly userId: string;
    };

export type UserRequestType = UserRequest['type'];

/** A client request's outer fields after validation. */
export type ClientEnvelope =
  | { readonly type: typeof REQUEST_TYPES.REGISTER; readonly idKey: Buffer }
  | { readonly type: UserRequestType; readonly userId: string; readonly payload: Buffer };

/** The reply to a client request. */
export interface ClientReply {
  readonly success: boolean;
  readonly reply: string;
}

/** The reply to a worker: on success `msg` is the JSON text of the released keys. */
export interface WorkerReply {
  readonly success: boolean;
  readonly msg: string;
}

/** The keys released to a worker, as SeSeMI's `msg` object (keys in base64). */
export interface ReleasedKeysMessage {
  readonly user_id: string;
  readonly input_key: string;
  readonly model_id: string;
  readonly model_key: string;
}

/** A worker's request for the keys of one (user, model). */
export interface WorkerRequest {
  readonly userId: string;
  readonly modelId: string;
}

const USER_ID = /^[0-9a-fA-F]{64}$/;
const MEASUREMENT = /^(?:[0-9a-fA-F]{64}|[0-9a-fA-F]{96})$/;
// Model ids name files in the model store: no separators, no leading dot.

function badRequest(message: string): SemirtError {
  return new SemirtError('KEYSERVICE_BAD_REQUEST', message);
}

/** Quotes a client-supplied value for a message, shortened so that absurd inputs stay readable. */
export function quote(value: string): string {
  return JSON.stringify(value.length > 72 ? `${value.slice(0, 72)}…` : value);
}

function asObject(json: unknown, what: string): Record<string, unknown> {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw badRequest(`Invalid ${what}: expected a JSON object`);
  }
  return json as Record<string, unknown>;
}

function stringField(object: Record<string, unknown>, name: string, what: string): string {
  const value = object[name];
  if (typeof value !== 'string') {
    throw badRequest(`Invalid ${what}: field "${name}" must be a string`);
  }
  return value;
}

/** Validates a user id (hex SHA-256 of an id key) and returns it in lower case. */
export function checkUserId(value: string, field: string): string {
  if (!USER_ID.test(value)) {
    throw badRequest(
      `Invalid ${field} ${quote(value)}: expected 64 hex digits (SHA-256 of the id key), got ${value.length} characters`,
    );
  }
  return value.toLowerCase();
}

/** Validates a measurement (MRENCLAVE: 32 bytes, or a TDX MRTD: 48 bytes) and returns it in lower case. */
export function checkMeasurement(value: string, field: string): string {
  if (!MEASUREMENT.test(value)) {
    throw badRequest(
      `Invalid ${field} ${quote(value)}: expected 64 or 96 hex digits, got ${value.length} characters`,
    );
  }
  return value.toLowerCase();
}

/** Validates a model id: 1 to 255 letters, digits, '.', '_' or '-', not starting with '.', '_' or '-'. */
export function checkModelId(value: string, field = 'model_id'): string {
  if (!isModelId(value)) {
    throw badRequest(`Invalid ${field} ${quote(value)}: ${MODEL_ID_RULE}`);
  }
  return value;
}

function keyField(object: Record<string, unknown>, name: string, what: string): Buffer {
  const text = stringField(object, name, what);
  let key: Buffer;
  try {
    key = decodeBase64(text, `${what} field "${name}"`);
    gcmAlgorithm(key, `${what} field "${name}"`);
  } catch {
    // Never echo the value: it is key material.
    throw badRequest(
      `Invalid ${what}: field "${name}" must be the base64 of a 16- or 32-byte AES key`,
    );
  }
  return key;
}

/** Parses and validates the outer fields of a client request. */
export function parseClientEnvelope(json: unknown): ClientEnvelope {
  const object = asObject(json, 'request');
  const type = object['type'];
  if (type === REQUEST_TYPES.REGISTER) {
    // For REGISTER, SeSeMI puts the base64 id key itself in `user_id`.
    return { type, idKey: keyField(object, 'user_id', 'register request') };
  }
  if (
    type !== REQUEST_TYPES.ADD_REQUEST_KEY &&
    type !== REQUEST_TYPES.UPSERT_MODEL_KEY &&
    type !== REQUEST_TYPES.GRANT_MODEL_ACCESS &&
    type !== REQUEST_TYPES.REVOKE_MODEL_ACCESS
  ) {
    throw badRequest(
      `Invalid request: unknown type ${quote(type === undefined ? 'undefined' : JSON.stringify(type))}; expected 0 (register), 1 (add request key), 2 (upsert model key), 3 (grant) or 4 (revoke)`,
    );
  }
  const userId = checkUserId(stringField(object, 'user_id', 'request'), 'user_id');
  let payload: Buffer;
  try {
    payload = decodeBase64(stringField(object, 'payload', 'request'), 'request field "payload"');
  } catch (error) {
    throw badRequest(error instanceof Error ? error.message : String(error));
  }
  return { type, userId, payload };
}

/** Parses a decrypted payload of the given type; `counter` is absent in SeSeMI's own requests. */
export function parsePayload(
  type: UserRequestType,
  json: unknown,
): { request: UserRequest; counter: number | undefined } {
  const object = asObject(json, 'payload');
  const what = 'payload';
  let counter: number | undefined;
  if (object['counter'] !== undefined) {
    const value = object['counter'];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
      throw badRequest('Invalid payload: field "counter" must be a positive integer');
    }
    if (object['type'] !== type) {
      throw badRequest(
        `Invalid payload: field "type" must repeat the request type ${type} when "counter" is present`,
      );
    }
    counter = value;
  }
  const modelId = checkModelId(stringField(object, 'model_id', what), 'payload field "model_id"');
  switch (type) {
    case REQUEST_TYPES.ADD_REQUEST_KEY:
      return {
        counter,
        request: {
          type,
          modelId,
          measurement: checkMeasurement(
            stringField(object, 'mrenclave', what),
            'payload field "mrenclave"',
          ),
          requestKey: keyField(object, 'decrypt_key', what),
        },
      };
    case REQUEST_TYPES.UPSERT_MODEL_KEY:
      return {
        counter,
        request: { type, modelId, modelKey: keyField(object, 'decrypt_key', what) },
      };
    case REQUEST_TYPES.GRANT_MODEL_ACCESS:
    case REQUEST_TYPES.REVOKE_MODEL_ACCESS:
      return {
        counter,
        request: {
          type,
          modelId,
          measurement: checkMeasurement(
            stringField(object, 'mrenclave', what),
            'payload field "mrenclave"',
          ),
          userId: checkUserId(stringField(object, 'user_id', what), 'payload field "user_id"'),
        },
      };
  }
}

/** The JSON payload object of a user request, as SeSeMI names its fields, with the replay counter. */
export function payloadObject(request: UserRequest, counter: number): Record<string, unknown> {
  const base = { type: request.type, counter, model_id: request.modelId };
  switch (request.type) {
    case REQUEST_TYPES.ADD_REQUEST_KEY:
      return {
        ...base,
        mrenclave: request.measurement,
        decrypt_key: Buffer.from(request.requestKey).toString('base64'),
      };
    case REQUEST_TYPES.UPSERT_MODEL_KEY:
      return { ...base, decrypt_key: Buffer.from(request.modelKey).toString('base64') };
    case REQUEST_TYPES.GRANT_MODEL_ACCESS:
    case REQUEST_TYPES.REVOKE_MODEL_ACCESS:
      return { ...base, mrenclave: request.measurement, user_id: request.userId };
  }
}

/** Parses and validates a worker request `{user_id, model_id}`. */
export function parseWorkerRequest(json: unknown): WorkerRequest {
  const object = asObject(json, 'worker request');
  return {
    userId: checkUserId(stringField(object, 'user_id', 'worker request'), 'user_id'),
    modelId: checkModelId(stringField(object, 'model_id', 'worker request')),
  };
}
