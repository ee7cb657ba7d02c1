import type { Command } from 'commander';
import { registerRuntime } from './runtime.js';
import { registerUp } from './up.js';

/** Adds one subcommand (with its --help) to the `semirt` program. */
export type RegisterCommand = (program: Command) => void;

/** Every `semirt` subcommand, in the order `semirt --help` lists them. */
export const COMMANDS: readonly RegisterCommand[] = [registerUp, registerRuntime];
