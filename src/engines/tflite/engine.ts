import { SemirtError } from '../../errors.js';
import type { Engine, Model, ModelArtifact } from '../engine.js';
import { TfliteModel } from './interpreter.js';
import { hasTfliteIdentifier } from './model-reader.js';

/** The tflite engine: our own interpreter of TFLite flatbuffers with TFLM reference semantics. */
export const tfliteEngine: Engine = {
  name: 'tflite',
  accepts(artifact: ModelArtifact): boolean {
    return artifact.kind === 'single' && hasTfliteIdentifier(artifact.bytes);
  },
  load(artifact: ModelArtifact): Promise<Model> {
    if (artifact.kind !== 'single') {
      return Promise.reject(
        new SemirtError(
          'MODEL_CORRUPT',
          'Cannot load the model: the tflite engine reads single-file models',
        ),
      );
    }
    try {
      return Promise.resolve(TfliteModel.load(artifact.bytes));
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  },
};
