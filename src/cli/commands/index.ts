import type { Command } from 'commander';
import { registerRuntime } from './runtime.js';
import { registerKeyService } from './keyservice.js';
import { registerKey } from './key.js';
import { registerEncrypt, registerDecrypt } from './encrypt.js';
import { registerModel } from './model.js';
import { registerAccess } from './access.js';
import { registerUp } from './up.js';
import { registerInfer } from './infer.js';
import { registerInspect } from './inspect.js';
import { registerAttest } from './attest.js';
import { registerMeasure } from './measure.js';

/** Adds one subcommand (with its --help) to the `semirt` program. */
export type RegisterCommand = (program: Command) => void;

/** Every `semirt` subcommand, in the order `semirt --help` lists them. */
export const COMMANDS: readonly RegisterCommand[] = [
  registerUp,
  registerRuntime,
  registerKeyService,
  registerKey,
  registerEncrypt,
  registerDecrypt,
  registerModel,
  registerAccess,
  registerInfer,
  registerInspect,
  registerAttest,
  registerMeasure,
];
