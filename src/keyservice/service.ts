import type { Logger } from '../log/logger.js';
import { SemirtError, isSemirtError } from '../errors.js';
import { decryptEnvelope, hasZeroIv } from '../crypto/envelope.js';
import { userIdOf } from '../crypto/id-key.js';
import {
  REQUEST_TYPES,
  parseClientEnvelope,
  parsePayload,
  parseWorkerRequest,
  quote,
  type ClientReply,
  type ReleasedKeysMessage,
  type UserRequest,
  type WorkerReply,
} from './messages.js';
import type { KeyStore } from './store.js';

/** Options of the KeyService logic. */
export interface KeyServiceOptions {
  /**
   * Accept SeSeMI's own requests: payloads without a replay counter, and payloads under the
   * all-zero IV of SeSeMI's tools. Such requests can be replayed, so this is off by default;
   * even when on, a user who has once sent a counter is never again accepted without one.
   */
  readonly sesemiCompat: boolean;
  readonly logger: Logger;
}

/** An HTTP status and the JSON body to answer with. */
export interface Answer<T> {
  readonly status: number;
  readonly body: T;
}

function denied(message: string): SemirtError {
  return new SemirtError('KEYSERVICE_DENIED', message);
}

function badRequest(message: string): SemirtError {
  return new SemirtError('KEYSERVICE_BAD_REQUEST', message);
}

/**
 * The KeyService's request handling, independent of transport: the server parses JSON and
 * verifies the worker's attestation, then calls in here. Every state change commits durably
 * before the reply is built, so a success reply means the write survives a crash.
 */
export class KeyService {
  readonly #store: KeyStore;
  readonly #options: KeyServiceOptions;

  constructor(store: KeyStore, options: KeyServiceOptions) {
    this.#store = store;
    this.#options = options;
  }

  /** Handles an owner's or user's request `{type, user_id, payload}`. */
  handleClient(json: unknown): Answer<ClientReply> {
    try {
      this.#client(json);
      return { status: 200, body: { success: true, reply: 'Request success' } };
    } catch (error) {
      const status = this.#failureStatus(error, 'client request');
      const detail = status === 500 ? 'internal error' : (error as Error).message;
      return { status, body: { success: false, reply: `Request failed: ${detail}` } };
    }
  }

  /**
   * Handles a worker's request `{user_id, model_id}`. `measurement` is the one verified from the
   * worker's attestation evidence by the caller; nothing in the request can choose it.
   */
  handleWorker(json: unknown, measurement: string): Answer<WorkerReply> {
    try {
      return { status: 200, body: { success: true, msg: this.#worker(json, measurement) } };
    } catch (error) {
      const status = this.#failureStatus(error, 'worker request');
      const detail = status === 500 ? 'internal error' : (error as Error).message;
      return { status, body: { success: false, msg: detail } };
    }
  }

  #client(json: unknown): void {
    const store = this.#store;
    const envelope = parseClientEnvelope(json);
    if (envelope.type === REQUEST_TYPES.REGISTER) {
      const userId = userIdOf(envelope.idKey);
      if (!store.transaction(() => store.addUser(userId, envelope.idKey))) {
        throw denied(`user id ${userId} already taken`);
      }
      this.#options.logger.info({ event: 'register', userId }, 'user registered');
      return;
    }
    const { userId, type } = envelope;
    const user = store.getUser(userId);
    if (user === undefined) throw denied(`user ${quote(userId)} is not registered`);
    let plain: Buffer;
    try {
      plain = decryptEnvelope(user.idKey, envelope.payload);
    } catch (error) {
      throw badRequest(
        `Cannot decrypt payload with the id key of user ${userId}: ${(error as Error).message}`,
      );
    }
    let payloadJson: unknown;
    try {
      payloadJson = JSON.parse(plain.toString('utf8'));
    } catch {
      throw badRequest('Invalid payload: the decrypted payload is not JSON');
    } finally {
      plain.fill(0);
    }
    const { request, counter } = parsePayload(type, payloadJson);
    if (!this.#options.sesemiCompat) {
      if (counter === undefined) {
        throw badRequest(
          'Invalid payload: no replay "counter" (SeSeMI requests without one are accepted only in compatibility mode)',
        );
      }
      if (hasZeroIv(envelope.payload)) {
        throw badRequest(
          "Invalid payload: encrypted under the all-zero IV of SeSeMI's tools (accepted only in compatibility mode)",
        );
      }
    }
    if (request.type !== REQUEST_TYPES.ADD_REQUEST_KEY && !request.modelId.startsWith(userId)) {
      throw denied(
        `model id ${quote(request.modelId)} is not bound to the owner id (it must start with it)`,
      );
    }
    const done = store.transaction(() => {
      // Re-read inside the write lock, so that two racing requests cannot both pass the check.
      const current = store.getUser(userId);
      if (current === undefined) throw denied(`user ${quote(userId)} is not registered`);
      if (counter !== undefined) {
        if (counter <= current.counter) {
          throw badRequest(
            `Replayed or stale request: counter ${counter} is not above the last accepted counter ${current.counter}`,
          );
        }
        store.setCounter(userId, current.idKey, counter);
      } else if (current.counter > 0) {
        throw badRequest(
          'Replayed request refused: this user has sent replay counters, so a request without one is not accepted',
        );
      }
      return this.#apply(userId, request);
    });
    this.#options.logger.info(done.fields, done.message);
  }

  /** Applies a request inside the caller's transaction; returns what to log once it committed. */
  #apply(userId: string, request: UserRequest): { fields: object; message: string } {
    const store = this.#store;
    switch (request.type) {
      case REQUEST_TYPES.ADD_REQUEST_KEY: {
        const { modelId, measurement } = request;
        store.putRequestKey(modelId, measurement, userId, request.requestKey);
        return {
          fields: { event: 'add_request_key', userId, modelId, measurement },
          message: 'request key stored',
        };
      }
      case REQUEST_TYPES.UPSERT_MODEL_KEY:
        store.putModelKey(request.modelId, request.modelKey);
        return {
          fields: { event: 'upsert_model_key', userId, modelId: request.modelId },
          message: 'model key stored',
        };
      case REQUEST_TYPES.GRANT_MODEL_ACCESS: {
        const { modelId, measurement, userId: grantee } = request;
        store.addGrant(modelId, measurement, grantee);
        return {
          fields: { event: 'grant', modelId, measurement, grantee },
          message: 'access granted',
        };
      }
      case REQUEST_TYPES.REVOKE_MODEL_ACCESS: {
        const { modelId, measurement, userId: grantee } = request;
        const removed = store.removeGrant(modelId, measurement, grantee);
        return {
          fields: { event: 'revoke', modelId, measurement, grantee, removed },
          message: 'access revoked',
        };
      }
    }
  }

  #worker(json: unknown, measurement: string): string {
    const { userId, modelId } = parseWorkerRequest(json);
    const store = this.#store;
    if (!store.hasGrant(modelId, measurement, userId)) {
      throw denied(
        `worker-user not in access list: model ${quote(modelId)} grants no access to user ${userId} on measurement ${measurement}`,
      );
    }
    const inputKey = store.getRequestKey(modelId, measurement, userId);
    if (inputKey === undefined) {
      throw denied(
        `user ${userId} stored no request key for model ${quote(modelId)} and measurement ${measurement}`,
      );
    }
    const modelKey = store.getModelKey(modelId);
    if (modelKey === undefined) throw denied(`no key stored for model ${quote(modelId)}`);
    const message: ReleasedKeysMessage = {
      user_id: userId,
      input_key: inputKey.toString('base64'),
      model_id: modelId,
      model_key: modelKey.toString('base64'),
    };
    inputKey.fill(0);
    modelKey.fill(0);
    this.#options.logger.info({ event: 'release', userId, modelId, measurement }, 'keys released');
    return JSON.stringify(message);
  }

  #failureStatus(error: unknown, what: string): number {
    if (
      isSemirtError(error, 'KEYSERVICE_BAD_REQUEST') ||
      isSemirtError(error, 'KEYSERVICE_DENIED')
    ) {
      this.#options.logger.warn({ code: error.code, reason: error.message }, `${what} refused`);
      return error.status;
    }
    // Store or sealing failures: the message names records, never values.
    this.#options.logger.error(
      { code: isSemirtError(error) ? error.code : undefined, reason: (error as Error).message },
      `${what} failed`,
    );
    return 500;
  }
}
