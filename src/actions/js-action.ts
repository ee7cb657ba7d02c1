import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Script } from 'node:vm';
import { ActionLoadError, type Action, type ActionLoader, type InitRequest } from './action.js';
import { packageRoot } from '../package-root.js';
import { detectArchive, extractArchive } from './archive.js';

/** Options of the JavaScript action loader. */
export interface JsActionOptions {
  /** Folder under which each action gets its own fresh directory. */
  readonly workRoot?: string;
}

/** Loads JavaScript actions (source text or zip/tar.gz archives) as the Node.js runtime does. */
export function jsActionLoader(options: JsActionOptions = {}): ActionLoader {
  return async (init) => {
    const dir = await mkdtemp(join(options.workRoot ?? tmpdir(), 'semirt-action-'));
    const entry = init.binary ? await loadArchive(init, dir) : await loadSource(init, dir);
    if (typeof entry !== 'function') {
      throw new ActionLoadError(`Action entrypoint '${init.main}' is not a function.`);
    }
    const fn = entry as (value: unknown) => unknown;
    return { invoke: (value) => fn(value) } satisfies Action;
  };
}

// The footer captures the entry point from the module's own scope, so that a top-level
// `function main` works without an export, as with the Node.js runtime's eval.
function cjsFooter(main: string): string {
  const name = JSON.stringify(main);
  return `\n;module.exports[Symbol.for('semirt.entry')] = (() => { try { return eval(${name}); } catch (e) { if (e instanceof ReferenceError) return undefined; throw e; } })();\n`;
}

/** Tells whether source text is an ES module: it fails to compile as a CommonJS body because of import/export/await. */
export function isEsModuleSource(code: string): boolean {
  try {
    new Script(`(function (exports, require, module, __filename, __dirname) {\n${code}\n})`);
    return false;
  } catch (err) {
    return (
      err instanceof SyntaxError &&
      /\b(import|export)\b|await is only valid|outside a module/.test(err.message)
    );
  }
}

async function loadSource(init: InitRequest, dir: string): Promise<unknown> {
  await linkActionApi(dir);
  if (isEsModuleSource(init.code)) {
    const file = join(dir, 'action.mjs');
    await writeFile(file, init.code);
    const ns = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    return ns[init.main] ?? (init.main === 'main' ? ns['default'] : undefined);
  }
  const file = join(dir, 'action.cjs');
  await writeFile(file, init.code + cjsFooter(init.main));
  const exported = createRequire(file)(file) as Record<string | symbol, unknown>;
  const global = globalThis as Record<string, unknown>;
  return exported[Symbol.for('semirt.entry')] ?? exported[init.main] ?? global[init.main];
}

async function loadArchive(init: InitRequest, dir: string): Promise<unknown> {
  const bytes = Buffer.from(init.code, 'base64');
  const kind = detectArchive(bytes);
  if (kind === undefined) {
    throw new ActionLoadError(
      'There was an error uncompressing the action archive. The file type is unsupported',
    );
  }
  try {
    await extractArchive(bytes, kind, dir);
  } catch (err) {
    throw new ActionLoadError(
      `There was an error uncompressing the action archive: ${(err as Error).message}`,
      { cause: err },
    );
  }
  if (!existsSync(join(dir, 'package.json')) && !existsSync(join(dir, 'index.js'))) {
    throw new ActionLoadError(
      'Zipped actions must contain either package.json or index.js at the root.',
    );
  }
  await linkActionApi(dir);
  // `file.export.path`: the part before the first dot names a module in the archive, the rest a
  // property path in its exports; without a dot the archive's own entry module exports `main`.
  const dot = init.main.indexOf('.');
  const [moduleName, path] =
    dot < 0
      ? [undefined, [init.main]]
      : [init.main.slice(0, dot), init.main.slice(dot + 1).split('.')];
  const require = createRequire(join(dir, 'package.json'));
  const file = require.resolve(moduleName === undefined ? dir : join(dir, moduleName));
  process.chdir(dir);
  const ns = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  // For CommonJS modules the exports object is the default export; named exports are a guess.
  const root = path[0] !== undefined && path[0] in ns ? ns : ns['default'];
  return path.reduce<unknown>(
    (obj, key) =>
      obj !== null && obj !== undefined ? (obj as Record<string, unknown>)[key] : undefined,
    root,
  );
}

async function linkActionApi(dir: string): Promise<void> {
  const link = join(dir, 'node_modules', 'semirt');
  if (existsSync(link)) return;
  await mkdir(join(dir, 'node_modules'), { recursive: true });
  await symlink(packageRoot(), link, 'dir');
}
