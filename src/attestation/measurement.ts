import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AttestationConfig } from '../config/attestation.js';
import { SemirtError } from '../errors.js';

/**
 * The measurement of a semirt runtime in simulation, the value a model owner puts in an access
 * list. It is SHA-256 over a canonical manifest:
 *
 *     semirt-runtime-measurement/1
 *     file <sha256 hex> <path relative to the code root, "/"-separated>   (sorted by path)
 *     config <key>=<JSON value>                                            (sorted by key)
 *
 * Files: every module the runtime can load from its code tree (.js, .mjs, .cjs and .wasm; .ts when
 * run from sources), excluding tests (*.test.*) and source maps. The whole tree is measured rather
 * than the modules imported so far, because modules are imported lazily and the value must not
 * depend on which requests came first. Dependencies in node_modules are not measured (see
 * docs/security.md).
 */

export const MEASUREMENT_FORMAT = 'semirt-runtime-measurement/1';

/** Security-relevant configuration that enters the measurement (flat, JSON-serializable values). */
export type MeasuredConfig = Readonly<Record<string, string | number | boolean>>;

export interface RuntimeMeasurement {
  /** Lowercase hex SHA-256 of the manifest (32 bytes, the size of MRENCLAVE). */
  measurement: string;
  manifest: string;
  files: number;
}

const CODE_EXTENSIONS = ['.js', '.mjs', '.cjs', '.wasm'];

/** The code tree of this semirt installation: dist/src when compiled, src when run from sources. */
export function runtimeCodeRoot(): string {
  // This file is <root>/attestation/measurement.(js|ts).
  return dirname(dirname(fileURLToPath(import.meta.url)));
}

function measured(name: string, fromSources: boolean): boolean {
  if (name.includes('.test.') || name.endsWith('.map') || name.endsWith('.d.ts')) return false;
  return (
    CODE_EXTENSIONS.some((ext) => name.endsWith(ext)) || (fromSources && /\.[mc]?ts$/.test(name))
  );
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/** Computes the measurement of the code tree at `codeRoot` with `config`. */
export async function measureRuntime(options: {
  codeRoot: string;
  config: MeasuredConfig;
}): Promise<RuntimeMeasurement> {
  let files: string[];
  try {
    files = await listFiles(options.codeRoot);
  } catch (error) {
    throw new SemirtError(
      'INVALID_OPTION',
      `Cannot measure "${options.codeRoot}": the folder is not readable`,
      { cause: error },
    );
  }
  const fromSources = !files.some((f) => f.endsWith('.js'));
  const lines: string[] = [];
  const entries = files
    .filter((f) => measured(f, fromSources))
    .map((f) => ({ path: relative(options.codeRoot, f).split(sep).join('/'), file: f }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  if (entries.length === 0) {
    throw new SemirtError(
      'INVALID_OPTION',
      `Cannot measure "${options.codeRoot}": it holds no JavaScript or wasm module`,
    );
  }
  for (const { path, file } of entries) {
    if (/[\n\r]/.test(path))
      throw new SemirtError(
        'INVALID_OPTION',
        `Cannot measure "${options.codeRoot}": a file name contains a line break`,
      );
    const digest = createHash('sha256')
      .update(await readFile(file))
      .digest('hex');
    lines.push(`file ${digest} ${path}`);
  }
  for (const key of Object.keys(options.config).sort()) {
    if (!/^[A-Za-z0-9_.-]+$/.test(key))
      throw new SemirtError(
        'INVALID_OPTION',
        `Cannot measure: config key "${key}" has characters outside [A-Za-z0-9_.-]`,
      );
    lines.push(`config ${key}=${JSON.stringify(options.config[key])}`);
  }
  const manifest = `${MEASUREMENT_FORMAT}\n${lines.join('\n')}\n`;
  return {
    measurement: createHash('sha256').update(manifest).digest('hex'),
    manifest,
    files: entries.length,
  };
}

/** The semirt processes that attest themselves; the role enters the measurement. */
export const PROCESS_ROLES = ['runtime', 'keyservice'] as const;
export type ProcessRole = (typeof PROCESS_ROLES)[number];

/**
 * The configuration a process's measurement covers: its role, how it attests and which evidence it
 * accepts. The role keeps a KeyService's measurement distinct from a runtime's built from the same
 * code, so a grant for the runtime can never be satisfied by a KeyService and an access policy
 * naming the KeyService never accepts a runtime. `semirt measure` and the processes both call this.
 */
export function runtimeMeasuredConfig(
  attestation: Pick<AttestationConfig, 'mode' | 'attesterScheme' | 'verifierSchemes'>,
  role: ProcessRole,
): MeasuredConfig {
  return {
    'process.role': role,
    'attestation.mode': attestation.mode,
    'attestation.attester': attestation.attesterScheme,
    'attestation.accept': [...attestation.verifierSchemes].sort().join(','),
  };
}

/**
 * The simulated measurement of a semirt process: this installation's code tree (or `codeRoot`)
 * plus its attestation settings and role. The runtime and the KeyService claim it under sim-dcap,
 * and `semirt measure` prints it for model owners.
 */
export function measureProcess(
  attestation: Pick<AttestationConfig, 'mode' | 'attesterScheme' | 'verifierSchemes'>,
  role: ProcessRole,
  codeRoot: string = runtimeCodeRoot(),
): Promise<RuntimeMeasurement> {
  return measureRuntime({ codeRoot, config: runtimeMeasuredConfig(attestation, role) });
}
