import { mkdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { Command } from 'commander';
import { SemirtError } from '../../errors.js';
import { encryptFile } from '../../crypto/file-envelope.js';
import { readKeyFile } from '../../crypto/key-file.js';
import { checkModelId } from '../../keyservice/messages.js';
import { storeFileNames } from '../../store/model-store.js';
import { ProgressBar, toolAction } from '../tooling.js';

interface EncryptModelFlags {
  readonly key: string;
  readonly store: string;
  readonly modelId: string;
}

// The part of a TVM bundle each input is, by its extension (TVM's own names and the store's).
const BUNDLE_ROLES: Readonly<Record<string, 'graphJson' | 'params' | 'library'>> = {
  '.graph_json': 'graphJson',
  '.json': 'graphJson',
  '.params_data': 'params',
  '.params': 'params',
  '.wasm': 'library',
};

/**
 * Where each input goes in the store (store/model-store.ts names them): a single-file model
 * becomes `<store>/<model_id>`; each file of a TVM bundle goes to the store's name for its part
 * (graph JSON, params, operator library), recognized by its extension.
 */
function destinations(store: string, modelId: string, files: readonly string[]): string[] {
  const names = storeFileNames(modelId, files.length === 1 ? 'single' : 'tvm');
  if (names.kind === 'single') return [join(store, names.bytes)];
  const roles = files.map((file) => {
    const role = BUNDLE_ROLES[extname(file)];
    if (role === undefined) {
      throw new SemirtError(
        'INVALID_OPTION',
        `Cannot place "${file}" in a bundle: expected a graph (.graph_json, .json), params (.params_data, .params) or library (.wasm) file`,
      );
    }
    return role;
  });
  const duplicate = roles.find((role, i) => roles.indexOf(role) !== i);
  if (duplicate !== undefined) {
    throw new SemirtError(
      'INVALID_OPTION',
      `Cannot build the bundle: two inputs would both become "${names[duplicate]}"`,
    );
  }
  return roles.map((role) => join(store, names[role]));
}

/** `semirt model encrypt`: encrypt a model (or a TVM bundle) under its model key into a model store. */
export function registerModel(program: Command): void {
  const model = program.command('model').description('Prepare encrypted models for a model store');
  model
    .command('encrypt')
    .description(
      'Encrypt model files under the model key into <store>/<model_id> (TVM bundles: <model_id>.graph_json, .params_data, .wasm)',
    )
    .requiredOption('--key <file>', 'the model key file (see `semirt key create`)')
    .requiredOption('--store <dir>', 'the model store folder (created if missing)')
    .requiredOption(
      '--model-id <id>',
      "the model id; for the KeyService it must start with the owner's user id",
    )
    .argument('<files...>', 'one model file (.tflite, .onnx), or the files of a TVM bundle')
    .action(
      toolAction(async (files: string[], flags: EncryptModelFlags) => {
        let modelId: string;
        try {
          modelId = checkModelId(flags.modelId, '--model-id');
        } catch (error) {
          throw new SemirtError('INVALID_OPTION', (error as Error).message);
        }
        const key = await readKeyFile(flags.key, 'model key');
        const targets = destinations(flags.store, modelId, files);
        await mkdir(flags.store, { recursive: true });
        const sizes = await Promise.all(
          files.map(async (file) => {
            try {
              return (await stat(file)).size;
            } catch (cause) {
              const code = (cause as NodeJS.ErrnoException).code ?? 'unknown error';
              throw new SemirtError('INVALID_OPTION', `Cannot read model file "${file}": ${code}`, {
                cause,
              });
            }
          }),
        );
        const total = sizes.reduce((a, b) => a + b, 0);
        const bar = new ProgressBar(`encrypting ${modelId}`);
        let before = 0;
        try {
          for (const [i, file] of files.entries()) {
            await encryptFile(key, file, targets[i]!, (done) => {
              bar.update(before + done, total);
            });
            before += sizes[i]!;
            bar.update(before, total);
          }
        } finally {
          bar.finish();
          key.fill(0);
        }
        for (const target of targets) process.stdout.write(`wrote ${target}\n`);
      }),
    );
}
