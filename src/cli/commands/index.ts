import type { Command } from 'commander';
import { registerRuntime } from './runtime.js';

/** Adds one subcommand (with its --help) to the `semirt` program. */
export type RegisterCommand = (program: Command) => void;

/** Every `semirt` subcommand, in the order `semirt --help` lists them. */
export const COMMANDS: readonly RegisterCommand[] = [registerRuntime];
