import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import type { Command } from 'commander';
import { CLI } from '../../test/support/runtime-process.js';
import { buildProgram } from './program.js';

/** Every command path of the program, nested subcommands included (e.g. ["key", "create"]). */
function commandPaths(command: Command, prefix: readonly string[] = []): string[][] {
  return command.commands.flatMap((sub) => {
    const path = [...prefix, sub.name()];
    return [path, ...commandPaths(sub, path)];
  });
}

test('every semirt subcommand answers --help with its usage', () => {
  const paths = commandPaths(buildProgram());
  const names = paths.map((path) => path.join(' '));
  assert.ok(names.includes('runtime') && names.includes('up'));
  for (const name of names) {
    const result = spawnSync(process.execPath, [CLI, ...name.split(' '), '--help'], {
      encoding: 'utf8',
    });
    assert.equal(result.status, 0, `${name} --help: ${result.stderr}`);
    assert.match(result.stdout, new RegExp(`^Usage: semirt ${name}`), name);
  }
});
