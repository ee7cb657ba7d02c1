import { Command } from 'commander';
import { COMMANDS } from './commands/index.js';

/** Builds the `semirt` command with every subcommand registered. */
export function buildProgram(): Command {
  const program = new Command('semirt')
    .description('Confidential serverless model inference on Apache OpenWhisk')
    .showHelpAfterError();
  for (const register of COMMANDS) register(program);
  return program;
}
