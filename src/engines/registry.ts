import type { Engine, ModelArtifact } from './engine.js';

/**
 * Picks the engine that reads an artifact, by content. Engines register in ENGINES (one line
 * each); the first whose `accepts` answers true wins.
 */
export function engineFor(engines: readonly Engine[], artifact: ModelArtifact): Engine | undefined {
  return engines.find((engine) => engine.accepts(artifact));
}
