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
  // --- Attestation (src/attestation): every failed check has its own code; all fail closed ---
  ATTESTATION_SETUP: {
    status: 500,
    shape: 'internal',
    doc: "The attestation configuration is unsafe or incomplete, e.g. production mode with a root other than Intel's SGX Root CA, with sim-dcap, or with debug enclaves allowed.",
  },
  ATTESTATION_DEVICE: {
    status: 500,
    shape: 'internal',
    doc: "The attester could not obtain evidence (e.g. Gramine's /dev/attestation is missing or returned no quote).",
  },
  ATTESTATION_SIM_AUTHORITY: {
    status: 500,
    shape: 'internal',
    doc: 'The sim-dcap authority folder is missing, incomplete or unreadable.',
  },
  ATTESTATION_QUOTE_MALFORMED: {
    status: 403,
    shape: 'application',
    doc: 'The quote is truncated or its structure is inconsistent (lengths, certification data).',
  },
  ATTESTATION_QUOTE_UNSUPPORTED: {
    status: 403,
    shape: 'application',
    doc: 'The quote has an unsupported version, TEE type, attestation key type or certification data type.',
  },
  ATTESTATION_COLLATERAL_MALFORMED: {
    status: 403,
    shape: 'application',
    doc: 'The collateral (TCB info, QE identity, CRLs, issuer chains) is missing a field or cannot be parsed.',
  },
  ATTESTATION_UNTRUSTED_ROOT: {
    status: 403,
    shape: 'application',
    doc: 'A certificate chain (PCK, TCB signing or CRL issuer) does not end at the pinned root certificate.',
  },
  ATTESTATION_CERT_CHAIN_INVALID: {
    status: 403,
    shape: 'application',
    doc: 'A certificate in a chain is not signed by its issuer, names the wrong issuer or is not a CA where it must be.',
  },
  ATTESTATION_CERT_EXPIRED: {
    status: 403,
    shape: 'application',
    doc: 'A certificate in a chain is outside its validity period at the verification time.',
  },
  ATTESTATION_CERT_REVOKED: {
    status: 403,
    shape: 'application',
    doc: 'A certificate in a chain (e.g. the PCK certificate) is listed in a CRL.',
  },
  ATTESTATION_CRL_INVALID: {
    status: 403,
    shape: 'application',
    doc: 'A CRL is not signed by the expected issuer or cannot be parsed.',
  },
  ATTESTATION_COLLATERAL_EXPIRED: {
    status: 403,
    shape: 'application',
    doc: 'The TCB info, QE identity or a CRL is not current at the verification time (issued later or past its next update).',
  },
  ATTESTATION_TCB_INFO_SIGNATURE: {
    status: 403,
    shape: 'application',
    doc: 'The TCB info signature does not verify with the TCB signing certificate.',
  },
  ATTESTATION_QE_IDENTITY_SIGNATURE: {
    status: 403,
    shape: 'application',
    doc: 'The QE identity signature does not verify with the TCB signing certificate.',
  },
  ATTESTATION_QE_REPORT_SIGNATURE: {
    status: 403,
    shape: 'application',
    doc: 'The quoting enclave report is not signed by the PCK certificate key.',
  },
  ATTESTATION_QE_REPORT_BINDING: {
    status: 403,
    shape: 'application',
    doc: 'The QE report data is not SHA-256 of the attestation key and QE authentication data.',
  },
  ATTESTATION_QE_IDENTITY_MISMATCH: {
    status: 403,
    shape: 'application',
    doc: 'The quoting enclave does not match the QE identity (MRSIGNER, product id, MISCSELECT, attributes, or an ISV SVN below every level).',
  },
  ATTESTATION_QUOTE_SIGNATURE: {
    status: 403,
    shape: 'application',
    doc: 'The quote header and body are not signed by the attestation key.',
  },
  ATTESTATION_TCB_INFO_MISMATCH: {
    status: 403,
    shape: 'application',
    doc: 'The TCB info does not describe this platform (TEE type, FMSPC, PCE id or TDX module identity differ).',
  },
  ATTESTATION_TCB_UNMATCHED: {
    status: 403,
    shape: 'application',
    doc: "No TCB level of the TCB info matches the platform's SVNs.",
  },
  ATTESTATION_TCB_REVOKED: {
    status: 403,
    shape: 'application',
    doc: 'The matching TCB level of the platform or quoting enclave has the status Revoked.',
  },
  ATTESTATION_NO_VERIFIER: {
    status: 403,
    shape: 'application',
    doc: 'No configured verifier accepts this kind of evidence (e.g. a TDX quote where only SGX is configured).',
  },
  RATLS_NO_PEER_CERT: {
    status: 403,
    shape: 'application',
    doc: 'The TLS peer presented no certificate (e.g. a client without one on a mutually attested listener).',
  },
  RATLS_NO_EVIDENCE: {
    status: 403,
    shape: 'application',
    doc: 'The peer certificate carries no attestation evidence extension.',
  },
  RATLS_EVIDENCE_MALFORMED: {
    status: 403,
    shape: 'application',
    doc: 'The evidence extension of the peer certificate cannot be decoded.',
  },
  RATLS_KEY_BINDING: {
    status: 403,
    shape: 'application',
    doc: "The evidence report data does not bind the certificate's public key (evidence copied from another certificate).",
  },
  POLICY_MEASUREMENT: {
    status: 403,
    shape: 'application',
    doc: 'The verified measurement (MRENCLAVE / MRTD) is not in the allowed list.',
  },
  POLICY_SIGNER: {
    status: 403,
    shape: 'application',
    doc: 'The verified signer (MRSIGNER) is not in the allowed list.',
  },
  POLICY_PRODUCT_ID: {
    status: 403,
    shape: 'application',
    doc: "The verified ISV product id differs from the policy's.",
  },
  POLICY_SVN: {
    status: 403,
    shape: 'application',
    doc: "The verified ISV SVN is below the policy's minimum.",
  },
  POLICY_TCB_STATUS: {
    status: 403,
    shape: 'application',
    doc: 'The verified TCB status is not one the policy accepts.',
  },
  POLICY_DEBUG: {
    status: 403,
    shape: 'application',
    doc: 'The evidence comes from a debug enclave or TD and the policy does not allow debug.',
  },
  // --- Envelope crypto and sealing (src/crypto) ---
  KEY_INVALID: {
    status: 400,
    shape: 'application',
    doc: 'A key has the wrong length: AES keys must be 16 or 32 bytes, the sealing key 32 bytes.',
  },
  ENVELOPE_MALFORMED: {
    status: 400,
    shape: 'application',
    doc: 'A ciphertext is not valid base64 or hex, or is shorter than the 32-byte envelope trailer (iv, tag, aad).',
  },
  ENVELOPE_AUTH_FAILED: {
    status: 400,
    shape: 'application',
    doc: "An envelope's AES-GCM tag does not verify: the key is wrong or the data was altered or truncated.",
  },
  SEALED_RECORD_INVALID: {
    status: 500,
    shape: 'internal',
    doc: 'A value sealed at rest does not unseal: the database was altered, or the sealing key is not the one that sealed it.',
  },
  // --- KeyService (src/keyservice): server replies are {"success": false, ...} with this status ---
  KEYSERVICE_BAD_REQUEST: {
    status: 400,
    shape: 'internal',
    doc: 'A KeyService request is malformed: not JSON, unknown type, a missing or invalid field, an undecryptable payload, or a replayed counter.',
  },
  KEYSERVICE_BODY_TOO_LARGE: {
    status: 413,
    shape: 'internal',
    doc: "A KeyService request body exceeds the listener's limit.",
  },
  KEYSERVICE_DENIED: {
    status: 403,
    shape: 'application',
    doc: 'The KeyService refused: unregistered user, model not owned by the sender, duplicate registration, no grant for (measurement, user), or no key stored.',
  },
  KEYSERVICE_UNAVAILABLE: {
    status: 502,
    shape: 'application',
    doc: 'The KeyService could not be reached, timed out, or failed internally.',
  },
  KEYSERVICE_PEER_REJECTED: {
    status: 502,
    shape: 'application',
    doc: 'The peer of a KeyService connection presented no certificate or one whose attestation did not verify.',
  },
  KEYSERVICE_PROTOCOL: {
    status: 502,
    shape: 'application',
    doc: 'A KeyService reply is not in the expected format.',
  },
  // --- Engines: tvm (src/engines/tvm). It also raises INPUT_MISMATCH, MODEL_FORMAT_UNKNOWN and
  // SESSION_CLOSED below; the TVM_ codes name which file of the bundle is at fault ---
  TVM_GRAPH_INVALID: {
    status: 422,
    shape: 'application',
    doc: 'The TVM graph JSON (or AOT entry-point signature) is malformed or inconsistent: a missing field, a node or storage id out of range, a bad shape or dtype, an unsupported operator kind.',
  },
  TVM_PARAMS_INVALID: {
    status: 422,
    shape: 'application',
    doc: 'The TVM params file is malformed (magic numbers, lengths, truncation), does not match the graph (unknown name, dtype or shape differs), or is not empty for an AOT model.',
  },
  TVM_LIBRARY_INVALID: {
    status: 422,
    shape: 'application',
    doc: 'The TVM operator library is not a usable wasm module: it does not compile, imports something the host does not provide, or lacks a function the graph calls.',
  },
  TVM_MEMORY_LIMIT: {
    status: 422,
    shape: 'application',
    doc: 'The TVM model needs more wasm linear memory (storage, workspaces) than the configured limit.',
  },
  TVM_OPERATOR_FAILED: {
    status: 500,
    shape: 'application',
    doc: 'A TVM operator returned an error or trapped (out-of-bounds access, unreachable) while running; the session recovers with a fresh instance.',
  },
  // --- Engines: onnx (src/engines/onnx). MODEL_CORRUPT, UNSUPPORTED_OPS and INPUT_MISMATCH are
  // meant for every engine (the tflite engine raises MODEL_CORRUPT too); the ONNX_ codes are onnxruntime's own cases ---
  MODEL_CORRUPT: {
    status: 422,
    shape: 'application',
    doc: 'The model bytes are not a well-formed model of their format (truncated, not the format, or an invalid graph).',
  },
  UNSUPPORTED_OPS: {
    status: 422,
    shape: 'application',
    doc: 'The model uses operators (or operator domains) the engine does not implement; the message lists them.',
  },
  INPUT_MISMATCH: {
    status: 400,
    shape: 'application',
    doc: "The inputs given to a model differ from the model's inputs in number, dtype, shape or byte length.",
  },
  ONNX_OPSET_UNSUPPORTED: {
    status: 422,
    shape: 'application',
    doc: 'The ONNX model imports an opset version newer than the bundled onnxruntime supports.',
  },
  ONNX_IO_UNSUPPORTED: {
    status: 422,
    shape: 'application',
    doc: 'An ONNX model input or output is not a tensor semirt can carry (strings, uint64, sequences, maps).',
  },
  ONNX_OUT_OF_MEMORY: {
    status: 500,
    shape: 'application',
    doc: 'onnxruntime could not allocate memory while loading or running a model; the runtime keeps serving.',
  },
  ONNX_RUN_FAILED: {
    status: 500,
    shape: 'application',
    doc: 'onnxruntime failed while running a model for a reason other than memory (e.g. a shape error inside the graph).',
  },
  // --- Engines: tflite (src/engines/tflite) and the engine registry (src/engines/registry.ts).
  // The tflite engine also raises MODEL_CORRUPT, UNSUPPORTED_OPS and INPUT_MISMATCH above ---
  MODEL_INVALID: {
    status: 422,
    shape: 'application',
    doc: 'The model file is readable but inconsistent: a tensor or opcode index out of range, a shape or type an operator cannot take, an operator writing into a constant.',
  },
  MODEL_FORMAT_UNKNOWN: {
    status: 422,
    shape: 'application',
    doc: 'No engine recognizes the model bytes (neither a TFLite flatbuffer, an ONNX protobuf nor a TVM bundle).',
  },
  SESSION_CLOSED: {
    status: 500,
    shape: 'application',
    doc: 'A session was used after dispose(), or a model was disposed while sessions were still open.',
  },
  // --- Secure inference action (src/inference, src/store): answered 200 so OpenWhisk keeps the container ---
  INFERENCE_REQUEST_INVALID: {
    status: 200,
    shape: 'application',
    doc: 'The /run value is not an inference request: a field is missing or has the wrong type or format (the message names it).',
  },
  MODEL_NOT_FOUND: {
    status: 200,
    shape: 'application',
    doc: 'The model store has no file (or no complete TVM bundle) for the requested model id.',
  },
  STORE_READ_FAILED: {
    status: 200,
    shape: 'application',
    doc: 'A model file exists in the store but could not be read (permissions, I/O error).',
  },
  INFERENCE_FAILED: {
    status: 200,
    shape: 'application',
    doc: 'An unexpected fault while serving the inference (a bug: the details are in the runtime log, not in the answer).',
  },
  KEYSERVICE_NOT_ALLOWED: {
    status: 200,
    shape: 'application',
    doc: "The request names a KeyService that is not in the runtime's --keyservice-allow list; no connection is made.",
  },
  MODEL_TOO_LARGE: {
    status: 200,
    shape: 'application',
    doc: 'The model is larger than the model cache may hold.',
  },
  // --- Worker pool (src/pool): the request failed, the runtime is fine ---
  POOL_BUSY: {
    status: 200,
    shape: 'application',
    doc: 'The inference queue is full; retry later (the container stays healthy).',
  },
  DEADLINE_EXCEEDED: {
    status: 200,
    shape: 'application',
    doc: "The activation's OpenWhisk deadline passed before its inference started; it was dropped, not run.",
  },
  WORKER_CRASHED: {
    status: 200,
    shape: 'application',
    doc: 'The worker thread running this inference died (e.g. out of memory); it is replaced and other requests are unaffected.',
  },
  POOL_CLOSED: {
    status: 200,
    shape: 'application',
    doc: 'The worker pool is shutting down and takes no more work.',
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
