import type { Action } from '../actions/action.js';
import { decryptEnvelope, encryptEnvelope } from '../crypto/envelope.js';
import { DTYPE_SIZE, type Tensor, type TensorInfo } from '../engines/engine.js';
import { isSemirtError, SemirtError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { WorkerPool } from '../pool/pool.js';
import { activation } from '../proxy/activation-context.js';
import type { KeyCache, RequestKeys } from './key-cache.js';
import type { InferenceMetrics } from './metrics.js';
import type { ModelCache } from './model-cache.js';
import { emptyTimings, PHASES, timed, type PhaseTimings } from './phases.js';
import { parseInferenceRequest } from './request.js';

export interface InferenceActionDeps {
  readonly keys: KeyCache;
  readonly models: ModelCache;
  readonly pool: WorkerPool;
  readonly logger: Logger;
  readonly metrics?: InferenceMetrics;
}

/** The answer of a successful inference, in SeSeMI's shape. */
export interface InferenceAnswer {
  readonly msg: {
    readonly status: true;
    /** Hex of the envelope of the raw output tensor bytes, under the user's request key. */
    readonly output: string;
    readonly aux: Record<string, unknown>;
  };
}

/**
 * The runtime's built-in action: decrypts the request with the user's key, runs the model
 * (decrypted in memory with the owner's key) in a worker thread, and answers the output
 * encrypted under a fresh IV. Failures reject with SemirtErrors, which the proxy answers as
 * application errors (200), so OpenWhisk keeps the container.
 */
export function createInferenceAction(deps: InferenceActionDeps): Action {
  return { invoke: (value) => infer(deps, value) };
}

async function infer(deps: InferenceActionDeps, value: unknown): Promise<InferenceAnswer> {
  const timings = emptyTimings();
  const context = activation();
  let keys: RequestKeys | undefined;
  let input: Tensor | undefined;
  let modelId: string | undefined;
  try {
    const request = parseInferenceRequest(value);
    modelId = request.modelId;
    const fetched = await timed(timings, 'key_fetch', () =>
      deps.keys.get(request.keyService, request.userId, request.modelId),
    );
    keys = fetched.keys;
    const waited = performance.now();
    const { model, source } = await deps.models.get(request.modelId, keys.modelKey);
    if (source === 'miss') addTimings(timings, model.timings);
    // Waiting for another request's load of the same model counts as loading.
    else if (source === 'inflight') timings.model_load += performance.now() - waited;
    const inputKey = keys.inputKey;
    const plainInput = await timed(timings, 'decrypt', () =>
      decryptInput(inputKey, request.sample, model.signature.inputs),
    );
    input = plainInput;
    const result = await deps.pool.run({
      modelKey: model.poolKey,
      inputs: [plainInput],
      ...(context === undefined ? {} : { deadline: context.deadline }),
    });
    timings.queue += result.queueMs;
    timings.model_load += result.loadMs;
    timings.infer += result.inferMs;
    const [output] = result.outputs;
    if (output === undefined) throw new Error('The model produced no output');
    const encrypted = await timed(timings, 'encrypt', () => encryptEnvelope(inputKey, output.data));
    for (const tensor of result.outputs) tensor.data.fill(0);
    finish(deps, context?.activationId, modelId, timings, 'ok');
    return {
      msg: {
        status: true,
        output: encrypted.toString('hex'),
        aux: {
          ...roundTimings(timings),
          cache: { keys: fetched.hit ? 'hit' : 'miss', model: source },
        },
      },
    };
  } catch (err) {
    const error = isSemirtError(err)
      ? err
      : new SemirtError('INFERENCE_FAILED', 'Internal error while serving the inference', {
          cause: err,
        });
    if (!isSemirtError(err))
      deps.logger.error({ err, activationId: context?.activationId }, 'inference failed');
    finish(deps, context?.activationId, modelId, timings, error.code);
    throw error;
  } finally {
    // A transferred input is detached here (the worker zeroed it); a copied one is zeroed now.
    if (input !== undefined && input.data.byteLength > 0) input.data.fill(0);
    keys?.inputKey.fill(0);
    keys?.modelKey.fill(0);
  }
}

/** Decrypts the sample and checks it is exactly one input tensor of the model. */
function decryptInput(inputKey: Buffer, sample: Buffer, inputs: readonly TensorInfo[]): Tensor {
  const [info] = inputs;
  if (info === undefined || inputs.length !== 1) {
    throw new SemirtError(
      'INPUT_MISMATCH',
      `The model takes ${inputs.length} inputs; an inference request carries exactly one (encrypted_sample)`,
    );
  }
  const plain = decryptEnvelope(inputKey, sample);
  try {
    // Large plaintexts own their whole buffer, so the pool transfers them to the worker without
    // a copy; the caller zeroes what stays behind.
    return { dtype: info.dtype, shape: concreteShape(info, plain.byteLength), data: plain };
  } catch (err) {
    plain.fill(0);
    throw err;
  }
}

/** The input's shape for a sample of `bytes` bytes: fixed shapes must match, one dynamic dimension is inferred. */
function concreteShape(info: TensorInfo, bytes: number): number[] {
  const elementSize = DTYPE_SIZE[info.dtype];
  const dynamic = info.shape.filter((d) => d < 0).length;
  const fixed = info.shape.reduce((n, d) => (d < 0 ? n : n * d), 1) * elementSize;
  const expected = `${info.shape.join('×')} ${info.dtype} = ${dynamic === 0 ? `${fixed} bytes` : `a multiple of ${fixed} bytes`}`;
  if (
    dynamic > 1 ||
    (dynamic === 0 && bytes !== fixed) ||
    (dynamic === 1 && (fixed === 0 || bytes % fixed !== 0))
  ) {
    throw new SemirtError(
      'INPUT_MISMATCH',
      `The decrypted sample has ${bytes} bytes; input "${info.name}" takes ${expected}`,
    );
  }
  return info.shape.map((d) => (d < 0 ? bytes / fixed : d));
}

function addTimings(into: PhaseTimings, from: PhaseTimings): void {
  for (const phase of PHASES) into[phase] += from[phase];
}

function roundTimings(timings: PhaseTimings): Record<string, number> {
  return Object.fromEntries(
    PHASES.map((phase) => [phase, Math.round(timings[phase] * 1000) / 1000]),
  );
}

function finish(
  deps: InferenceActionDeps,
  activationId: string | undefined,
  modelId: string | undefined,
  timings: PhaseTimings,
  outcome: string,
): void {
  deps.metrics?.observe(timings, outcome);
  deps.logger.info(
    { activationId, model: modelId, outcome, ms: roundTimings(timings) },
    'inference',
  );
}
