import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { verificationSetupFromConfig } from '../../attestation/setup.js';
import { attestationConfig, type AttestationFlags } from '../../config/attestation.js';
import { tcbStatusesSetting } from '../../config/attestation.js';
import { SemirtError } from '../../errors.js';
import { userIdOf } from '../../crypto/id-key.js';
import { readKeyFile } from '../../crypto/key-file.js';
import { KeyServiceClient, buildClientRequest, type Endpoint } from '../../keyservice/client.js';
import {
  REQUEST_TYPES,
  checkMeasurement,
  checkModelId,
  checkUserId,
  type UserRequest,
} from '../../keyservice/messages.js';
import { toolAction } from '../tooling.js';
import { attestationOptions } from '../attestation-options.js';

interface ConnectionFlags extends AttestationFlags {
  readonly keyservice: string;
  readonly keyserviceMeasurement?: string;
  readonly acceptTcbStatuses?: string;
  readonly timeout: string;
}

interface RequestFlags extends ConnectionFlags {
  readonly idKey: string;
  readonly print?: boolean;
  readonly modelId?: string;
  readonly measurement?: string;
  readonly user?: string;
  readonly modelKey?: string;
  readonly requestKey?: string;
}

function parseEndpoint(value: string): Endpoint {
  const match = /^(.+):(\d{1,5})$/.exec(value);
  const port = Number(match?.[2]);
  if (match === null || port < 1 || port > 65535) {
    throw new SemirtError('INVALID_OPTION', `Invalid --keyservice "${value}": expected host:port`);
  }
  return { host: match[1]!.replace(/^\[(.*)\]$/, '$1'), port };
}

/**
 * A client of the KeyService that verifies its attestation before sending anything: evidence
 * checked with the verifiers of the attestation flags (production refuses sim-dcap), and a
 * policy naming the KeyService's measurement.
 */
async function connect(flags: ConnectionFlags): Promise<KeyServiceClient> {
  const measurement = required(flags.keyserviceMeasurement, '--keyservice-measurement', (v) =>
    checkMeasurement(v, '--keyservice-measurement'),
  );
  const timeoutMs = Number(flags.timeout);
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1) {
    throw new SemirtError(
      'INVALID_OPTION',
      `Invalid --timeout "${flags.timeout}": expected milliseconds`,
    );
  }
  const endpoint = parseEndpoint(flags.keyservice);
  const { verifiers, policy } = await verificationSetupFromConfig(attestationConfig(flags), {
    allowedMeasurements: [measurement],
    acceptedTcbStatuses: tcbStatusesSetting(flags.acceptTcbStatuses),
    allowDebug: false,
  });
  return new KeyServiceClient({ endpoint, verifiers, policy, timeoutMs });
}

/** Reads a required flag, turning a validation error into an option error that names it. */
function required<T>(value: string | undefined, flag: string, check: (v: string) => T): T {
  if (value === undefined) throw new SemirtError('INVALID_OPTION', `Missing ${flag}`);
  try {
    return check(value);
  } catch (error) {
    if (error instanceof SemirtError && error.code === 'KEYSERVICE_BAD_REQUEST') {
      throw new SemirtError(
        'INVALID_OPTION',
        error.message.replace(/^Invalid [^"]*/, `Invalid ${flag} `),
      );
    }
    throw error;
  }
}

type Builder = (flags: RequestFlags) => Promise<UserRequest>;

const BUILDERS: Record<
  string,
  { description: string; options: [string, string][]; build: Builder }
> = {
  'upload-model-key': {
    description: 'Upload (or replace) the key of a model you own (type 2)',
    options: [
      ['--model-id <id>', 'the model id (must start with your user id)'],
      ['--model-key <file>', 'the model key file'],
    ],
    build: async (f) => ({
      type: REQUEST_TYPES.UPSERT_MODEL_KEY,
      modelId: required(f.modelId, '--model-id', (v) => checkModelId(v)),
      modelKey: await readKeyFile(
        required(f.modelKey, '--model-key', (v) => v),
        'model key',
      ),
    }),
  },
  grant: {
    description:
      'Grant a user access to your model from runtimes with a given measurement (type 3)',
    options: [
      ['--model-id <id>', 'the model id'],
      ['--measurement <hex>', 'the runtime measurement (MRENCLAVE) allowed to receive the keys'],
      ['--user <user-id>', 'the user id to grant'],
    ],
    build: (f) => Promise.resolve(accessRequest(REQUEST_TYPES.GRANT_MODEL_ACCESS, f)),
  },
  revoke: {
    description: 'Revoke a grant (type 4, a semirt addition)',
    options: [
      ['--model-id <id>', 'the model id'],
      ['--measurement <hex>', 'the runtime measurement of the grant'],
      ['--user <user-id>', 'the user id of the grant'],
    ],
    build: (f) => Promise.resolve(accessRequest(REQUEST_TYPES.REVOKE_MODEL_ACCESS, f)),
  },
  'add-request-key': {
    description: 'Store your request key for a model and runtime measurement (type 1)',
    options: [
      ['--model-id <id>', 'the model id'],
      ['--measurement <hex>', 'the runtime measurement allowed to receive the key'],
      ['--request-key <file>', 'your request key file'],
    ],
    build: async (f) => ({
      type: REQUEST_TYPES.ADD_REQUEST_KEY,
      modelId: required(f.modelId, '--model-id', (v) => checkModelId(v)),
      measurement: required(f.measurement, '--measurement', (v) =>
        checkMeasurement(v, '--measurement'),
      ),
      requestKey: await readKeyFile(
        required(f.requestKey, '--request-key', (v) => v),
        'request key',
      ),
    }),
  },
};

function accessRequest(
  type: typeof REQUEST_TYPES.GRANT_MODEL_ACCESS | typeof REQUEST_TYPES.REVOKE_MODEL_ACCESS,
  f: RequestFlags,
): UserRequest {
  return {
    type,
    modelId: required(f.modelId, '--model-id', (v) => checkModelId(v)),
    measurement: required(f.measurement, '--measurement', (v) =>
      checkMeasurement(v, '--measurement'),
    ),
    userId: required(f.user, '--user', (v) => checkUserId(v, '--user')),
  };
}

function connectionOptions(command: Command): Command {
  command
    .option('--keyservice <host:port>', 'the KeyService client port', '127.0.0.1:13570')
    .option(
      '--keyservice-measurement <hex>',
      "the KeyService's measurement (MRENCLAVE; in simulation `semirt measure --role keyservice`): its attestation must name it",
    )
    .option('--timeout <ms>', 'give up after this many milliseconds', '10000');
  return attestationOptions(command, false);
}

/** `semirt access`: the owners' and users' KeyService requests. */
export function registerAccess(program: Command): void {
  const access = program
    .command('access')
    .description(
      'Send KeyService requests: register, upload model keys, grant, revoke, add request keys',
    );

  connectionOptions(access.command('register'))
    .description('Register an id key with the KeyService (type 0); your user id is its SHA-256')
    .requiredOption('--id-key <file>', 'your id key file')
    .action(
      toolAction(async (flags: RequestFlags) => {
        const idKey = await readKeyFile(flags.idKey, 'id key');
        const client = await connect(flags);
        try {
          process.stdout.write(`registered user ${await client.register(idKey)}\n`);
        } finally {
          client.close();
        }
      }),
    );

  for (const [name, spec] of Object.entries(BUILDERS)) {
    const command = connectionOptions(access.command(name))
      .description(spec.description)
      .requiredOption('--id-key <file>', 'your id key file (encrypts the payload)')
      .option('--print', 'print the request JSON (fresh IV and counter) instead of sending it');
    for (const [flag, help] of spec.options) command.requiredOption(flag, help);
    command.action(
      toolAction(async (flags: RequestFlags) => {
        const idKey = await readKeyFile(flags.idKey, 'id key');
        const request = await spec.build(flags);
        if (flags.print === true) {
          process.stdout.write(
            `${JSON.stringify(buildClientRequest(idKey, request, Date.now() * 1000))}\n`,
          );
          return;
        }
        const client = await connect(flags);
        try {
          await client.send(idKey, request);
          process.stdout.write(`${name}: success (user ${userIdOf(idKey)})\n`);
        } finally {
          client.close();
        }
      }),
    );
  }

  connectionOptions(access.command('send'))
    .description("Send request files as they are (e.g. SeSeMI's own request JSON files)")
    .argument('<files...>', 'request JSON files, sent in order')
    .action(
      toolAction(async (files: string[], flags: ConnectionFlags) => {
        const client = await connect(flags);
        try {
          for (const file of files) {
            let body: unknown;
            try {
              body = JSON.parse(await readFile(file, 'utf8'));
            } catch (cause) {
              throw new SemirtError(
                'INVALID_OPTION',
                `Cannot read request file "${file}": ${(cause as Error).message}`,
              );
            }
            await client.sendRaw(body);
            process.stdout.write(`${file}: success\n`);
          }
        } finally {
          client.close();
        }
      }),
    );
}
