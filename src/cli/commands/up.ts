import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { intSetting } from '../../config/parse.js';
import { loadModel } from '../../engines/registry.js';
import { packageRoot } from '../../package-root.js';
import { LocalStack } from '../local-stack.js';
import { toolAction } from '../tooling.js';

interface UpFlags {
  readonly port?: string;
  readonly once?: boolean;
  readonly dir?: string;
}

/** `semirt up`: the whole system on one machine, then an encrypted inference through it. */
export function registerUp(program: Command): void {
  program
    .command('up')
    .description(
      'Start the local stack (KeyService, runtime, an encrypted sample model; sim-dcap attestation) and run encrypted inferences end to end',
    )
    .option('--port <port>', 'runtime port on 127.0.0.1 (default 8080; 0 for any free port)')
    .option(
      '--dir <dir>',
      'working folder: KeyService database, model store, logs (default .semirt/up)',
    )
    .option('--once', 'stop the stack after the demonstration instead of serving until Ctrl-C')
    .action(
      toolAction(async (flags: UpFlags) => {
        const port = intSetting(
          flags.port,
          {},
          { flag: '--port' },
          { min: 0, max: 65535, fallback: 8080 },
        );
        await up({ port, once: flags.once === true, dir: flags.dir ?? join('.semirt', 'up') });
      }),
    );
}

const SAMPLES = join(packageRoot(), 'examples', 'models');

async function up(options: { port: number; once: boolean; dir: string }): Promise<void> {
  console.log(
    `semirt up: local stack in ${options.dir} (simulation mode: sim-dcap attestation proves nothing about hardware)`,
  );
  const stack = await LocalStack.start({ dir: options.dir, runtimePort: options.port });
  try {
    const { client, worker } = stack.keyServicePorts;
    console.log(
      `KeyService  127.0.0.1:${client} (clients), :${worker} (runtimes)   measurement ${stack.measurements.keyservice}`,
    );
    console.log(
      `runtime     ${stack.runtimeUrl}                  measurement ${stack.measurements.runtime}`,
    );

    const modelFile = join(SAMPLES, 'person_detect_int8.tflite');
    const owner = await stack.register();
    const modelId = await stack.addModel(owner, 'person_detect', modelFile);
    const user = await stack.register();
    await stack.grant(owner, modelId, user);
    const requestKey = await stack.addRequestKey(user, modelId);
    console.log(
      `owner ${short(owner.userId)} encrypted person_detect into the store, uploaded its key, granted user ${short(user.userId)}`,
    );
    console.log(`user  ${short(user.userId)} uploaded a request key for the runtime measurement\n`);

    const quantization = (await loadModel({ kind: 'single', bytes: readFileSync(modelFile) }))
      .outputs[0]?.quantization;
    const score = (q: number): number =>
      quantization === undefined
        ? q
        : (quantization.scale[0] ?? 1) * (q - (quantization.zeroPoint[0] ?? 0));
    for (const image of ['person', 'no_person']) {
      const input = readFileSync(join(SAMPLES, `${image}.int8`));
      const answer = await stack.run(
        stack.request(user, modelId, requestKey, input),
        requestKey,
        `up-${image}`,
      );
      if (answer.output === undefined)
        throw new Error(`The inference failed: ${JSON.stringify(answer.body)}`);
      const [noPerson, person] = [
        ...new Int8Array(answer.output.buffer, answer.output.byteOffset, 2),
      ].map(score);
      const aux = (answer.body as { msg: { aux: Record<string, unknown> } }).msg.aux;
      console.log(
        `${image.padEnd(9)} → person ${person?.toFixed(2)}, no person ${noPerson?.toFixed(2)}   (${phases(aux)})`,
      );
    }

    const input = readFileSync(join(SAMPLES, 'person.int8'));
    const started = performance.now();
    const answers = await Promise.all(
      Array.from({ length: 32 }, (_, i) =>
        stack.run(stack.request(user, modelId, requestKey, input), requestKey, `up-${i}`),
      ),
    );
    const elapsed = performance.now() - started;
    const same = answers.every((a) => a.output?.equals(answers[0]!.output!) === true);
    console.log(
      `\n32 concurrent encrypted requests answered in ${elapsed.toFixed(0)} ms (${((32 / elapsed) * 1000).toFixed(0)} req/s); all decrypt to the same prediction: ${same}`,
    );
    if (!same) throw new Error('Concurrent answers differ');
    if (options.once) return;
    console.log(
      `\nServing until Ctrl-C. Logs: ${options.dir}/runtime.log, ${options.dir}/keyservice.log`,
    );
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
  } finally {
    await stack.stop();
  }
}

function short(id: string): string {
  return `${id.slice(0, 8)}…`;
}

function phases(aux: Record<string, unknown>): string {
  return Object.entries(aux)
    .filter(([, ms]) => typeof ms === 'number' && ms > 0)
    .map(([phase, ms]) => `${phase} ${(ms as number).toFixed(2)} ms`)
    .join(', ');
}
