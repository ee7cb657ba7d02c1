import { decodeBase64 } from '../crypto/encoding.js';
import { SemirtError } from '../errors.js';
import { checkStoreModelId } from '../store/model-store.js';

/** An inference request (the /run `value`), validated. SeSeMI's format, unknown fields ignored. */
export interface InferenceRequest {
  readonly modelId: string;
  /** Hex SHA-256 of the user's id key, lower case. */
  readonly userId: string;
  readonly keyService: { readonly host: string; readonly port: number };
  /** The envelope of the raw input tensor bytes, under the user's request key. */
  readonly sample: Buffer;
}

const USER_ID = /^[0-9a-fA-F]{64}$/;
// A host name or an IP address; no scheme, path, credentials or spaces.
const HOST = /^[A-Za-z0-9._:[\]-]{1,253}$/;

function invalid(message: string): SemirtError {
  return new SemirtError('INFERENCE_REQUEST_INVALID', message);
}

function field(value: Record<string, unknown>, name: string): string {
  const text = value[name];
  if (typeof text !== 'string' || text === '') {
    throw invalid(`Invalid inference request: "${name}" must be a non-empty string`);
  }
  return text;
}

/** Validates the /run value of the inference action; every error names the field. */
export function parseInferenceRequest(value: unknown): InferenceRequest {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalid('Invalid inference request: the value must be a JSON object');
  }
  const request = value as Record<string, unknown>;
  const modelId = checkStoreModelId(field(request, 'model_type'));
  const userId = field(request, 'user_id');
  if (!USER_ID.test(userId)) {
    throw invalid(
      `Invalid "user_id": expected 64 hex digits (SHA-256 of the id key), got ${userId.length} characters`,
    );
  }
  const host = field(request, 'key_service_address');
  if (!HOST.test(host)) {
    throw invalid(
      `Invalid "key_service_address" ${JSON.stringify(host.slice(0, 64))}: expected a host name or IP address`,
    );
  }
  const rawPort = request['key_service_port'];
  const port = typeof rawPort === 'string' && /^\d{1,5}$/.test(rawPort) ? Number(rawPort) : rawPort;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw invalid('Invalid "key_service_port": expected an integer from 1 to 65535');
  }
  const sampleText = field(request, 'encrypted_sample');
  let sample: Buffer;
  try {
    sample = decodeBase64(sampleText, '"encrypted_sample"');
  } catch (err) {
    throw invalid((err as Error).message);
  }
  return { modelId, userId: userId.toLowerCase(), keyService: { host, port }, sample };
}
