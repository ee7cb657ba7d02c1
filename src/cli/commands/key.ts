import type { Command } from 'commander';
import { SemirtError } from '../../errors.js';
import { createAesKey, userIdOf } from '../../crypto/id-key.js';
import { readKeyFile, writeKeyFile } from '../../crypto/key-file.js';
import { toolAction } from '../tooling.js';

interface CreateFlags {
  readonly out: string;
  readonly bytes: string;
  readonly force?: boolean;
}

/** `semirt key`: create AES keys and show the user id of an id key. */
export function registerKey(program: Command): void {
  const key = program
    .command('key')
    .description('Create AES keys (id keys, model keys, request keys); show user ids');
  key
    .command('create')
    .description('Write a new random AES key (base64) to a file readable only by you')
    .requiredOption('--out <file>', 'the key file to write')
    .option('--bytes <n>', '16 (AES-128, as SeSeMI) or 32 (AES-256)', '16')
    .option('--force', 'replace an existing file')
    .action(
      toolAction(async (flags: CreateFlags) => {
        if (flags.bytes !== '16' && flags.bytes !== '32') {
          throw new SemirtError(
            'INVALID_OPTION',
            `Invalid --bytes "${flags.bytes}": expected 16 or 32`,
          );
        }
        const bytes = flags.bytes === '16' ? 16 : 32;
        const created = createAesKey(bytes);
        await writeKeyFile(flags.out, created, flags.force === true);
        process.stdout.write(
          `wrote ${flags.out}\nuser id (if used as an id key): ${userIdOf(created)}\n`,
        );
        created.fill(0);
      }),
    );
  key
    .command('id')
    .description('Print the user id of an id key (hex SHA-256 of its bytes)')
    .argument('<key-file>', 'the id key file')
    .action(
      toolAction(async (file: string) => {
        process.stdout.write(`${userIdOf(await readKeyFile(file, 'id key'))}\n`);
      }),
    );
}
