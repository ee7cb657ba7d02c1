import { SemirtError } from '../errors.js';
import type { Engine, Model, ModelArtifact, LoadOptions } from './engine.js';
import { onnxEngine } from './onnx/onnx-engine.js';
import { tfliteEngine } from './tflite/engine.js';
import { tvmEngine } from './tvm/tvm-engine.js';

/** Every engine semirt ships, in the order they are asked whether they read an artifact. */
export const ENGINES: readonly Engine[] = [tfliteEngine, onnxEngine, tvmEngine];

/**
 * Picks the engine that reads an artifact, by content. Engines register in ENGINES (one line
 * each); the first whose `accepts` answers true wins.
 */
export function engineFor(engines: readonly Engine[], artifact: ModelArtifact): Engine | undefined {
  return engines.find((engine) => engine.accepts(artifact));
}

/** Loads an artifact with the engine that recognizes it; fails with MODEL_FORMAT_UNKNOWN otherwise. */
export async function loadModel(
  artifact: ModelArtifact,
  options?: LoadOptions,
  engines: readonly Engine[] = ENGINES,
): Promise<Model> {
  const engine = engineFor(engines, artifact);
  if (engine === undefined) {
    throw new SemirtError(
      'MODEL_FORMAT_UNKNOWN',
      `Cannot load the model: no engine recognizes it (tried ${engines.map((e) => e.name).join(', ')})`,
    );
  }
  return engine.load(artifact, options);
}
