import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { measureProcess } from '../attestation/measurement.js';
import { modelFileList, type ModelFiles } from '../engines/engine.js';
import { verificationSetupFromConfig } from '../attestation/setup.js';
import { SimDcapAuthority } from '../attestation/sim-dcap.js';
import { attestationConfig } from '../config/attestation.js';
import { decryptEnvelope, encryptEnvelope } from '../crypto/envelope.js';
import { encryptFile } from '../crypto/file-envelope.js';
import { createAesKey, userIdOf } from '../crypto/id-key.js';
import { KeyServiceClient } from '../keyservice/client.js';
import { REQUEST_TYPES } from '../keyservice/messages.js';
import { storeFileNames } from '../store/model-store.js';
import { startSemirt, type SemirtProcess } from './child-process.js';

/** A party of the protocol: its id key and the user id derived from it. */
export interface Party {
  readonly idKey: Buffer;
  readonly userId: string;
}

export interface LocalStackOptions {
  /** Working folder: sim-dcap authority, KeyService database, model store, logs. */
  readonly dir: string;
  /** Runtime port on 127.0.0.1 (0: any free port). */
  readonly runtimePort: number;
  readonly workers?: number;
  /** Serve the runtime's Prometheus /metrics on this port (0: any free port); none when unset. */
  readonly metricsPort?: number;
  /** More `semirt runtime` flags. */
  readonly runtimeArgs?: readonly string[];
}

/** What one inference through the stack answered. */
export interface StackAnswer {
  readonly status: number;
  readonly body: unknown;
  /** The decrypted output tensor bytes, when the inference succeeded. */
  readonly output?: Buffer;
}

const SIMULATION_FLAGS = (simDir: string): string[] => [
  '--attestation-mode',
  'simulation',
  '--sim-dcap-dir',
  simDir,
];

/**
 * The whole system on one machine, on embedded defaults: a sim-dcap authority, a KeyService
 * process (SQLite file), a runtime process serving the inference action from a local model
 * store, and client helpers doing what owners and users do. Simulation mode: the attestation is
 * real DCAP-format evidence from a local test authority, and proves nothing about hardware.
 */
export class LocalStack {
  readonly keyServiceHost = '127.0.0.1';
  readonly measurements: { readonly runtime: string; readonly keyservice: string };
  readonly #dir: string;
  readonly #simDir: string;
  readonly #options: LocalStackOptions;
  readonly #client: KeyServiceClient;
  #keyService: SemirtProcess;
  #keyServicePorts: { client: number; worker: number };
  #runtime: SemirtProcess;
  #runtimeUrl: string;
  #metricsUrl: string | undefined;

  private constructor(
    options: LocalStackOptions,
    parts: {
      simDir: string;
      measurements: { runtime: string; keyservice: string };
      keyService: SemirtProcess;
      runtime: RuntimeProcess;
      client: KeyServiceClient;
    },
  ) {
    this.#options = options;
    this.#dir = options.dir;
    this.#simDir = parts.simDir;
    this.measurements = parts.measurements;
    this.#keyService = parts.keyService;
    this.#keyServicePorts = {
      client: Number(parts.keyService.ready[0]),
      worker: Number(parts.keyService.ready[1]),
    };
    this.#runtime = parts.runtime.process;
    this.#runtimeUrl = parts.runtime.url;
    this.#metricsUrl = parts.runtime.metricsUrl;
    this.#client = parts.client;
  }

  /** Starts the KeyService and the runtime, and initializes the runtime (a --docker action: no code). */
  static async start(options: LocalStackOptions): Promise<LocalStack> {
    const simDir = join(options.dir, 'sim-dcap');
    await mkdir(join(options.dir, 'store'), { recursive: true });
    await SimDcapAuthority.ensure(simDir);
    const config = attestationConfig({ attestationMode: 'simulation', simDcapDir: simDir }, {});
    const measurements = {
      runtime: (await measureProcess(config, 'runtime')).measurement,
      keyservice: (await measureProcess(config, 'keyservice')).measurement,
    };
    const keyService = await startKeyService(options.dir, simDir, 0, 0);
    let runtime: RuntimeProcess | undefined;
    try {
      runtime = await startRuntime(options, simDir, measurements.keyservice);
      const verification = await verificationSetupFromConfig(config, {
        acceptedTcbStatuses: ['UpToDate'],
        allowDebug: false,
        allowedMeasurements: [measurements.keyservice],
      });
      const client = new KeyServiceClient({
        endpoint: { host: '127.0.0.1', port: Number(keyService.ready[0]) },
        verifiers: verification.verifiers,
        policy: verification.policy,
      });
      const stack = new LocalStack(options, { simDir, measurements, keyService, runtime, client });
      await stack.#init();
      return stack;
    } catch (err) {
      await Promise.all([keyService.stop(), runtime?.process.stop()]);
      throw err;
    }
  }

  /** The runtime's base URL (/init, /run). */
  get runtimeUrl(): string {
    return this.#runtimeUrl;
  }

  /** The runtime's Prometheus endpoint (…/metrics), when the stack was started with a metrics port. */
  get metricsUrl(): string | undefined {
    return this.#metricsUrl;
  }

  /** The KeyService's ports (client, worker). */
  get keyServicePorts(): { readonly client: number; readonly worker: number } {
    return this.#keyServicePorts;
  }

  /** Registers an id key (a fresh one unless given) at the KeyService. */
  async register(idKey: Buffer = createAesKey()): Promise<Party> {
    await this.#client.register(idKey);
    return { idKey, userId: userIdOf(idKey) };
  }

  /** Encrypts a model file into the store under a fresh model key and uploads the key; returns the model id. */
  addModel(owner: Party, name: string, file: string): Promise<string> {
    return this.#upload(owner, name, { kind: 'single', bytes: file });
  }

  /** Encrypts a TVM bundle (graph JSON, params, wasm operator library) into the store under one fresh model key and uploads the key. */
  addBundle(
    owner: Party,
    name: string,
    files: { readonly graphJson: string; readonly params: string; readonly library: string },
  ): Promise<string> {
    return this.#upload(owner, name, { kind: 'tvm', ...files });
  }

  /** Encrypts a model's files into the store under a fresh model key, uploads the key, and zeroes it. */
  async #upload(owner: Party, name: string, files: ModelFiles<string>): Promise<string> {
    const modelId = `${owner.userId}-${name}`;
    const modelKey = createAesKey();
    const store = join(this.#dir, 'store');
    const destinations = modelFileList(storeFileNames(modelId, files.kind));
    for (const [i, source] of modelFileList(files).entries()) {
      await encryptFile(modelKey, source, join(store, destinations[i]!));
    }
    await this.#client.send(owner.idKey, {
      type: REQUEST_TYPES.UPSERT_MODEL_KEY,
      modelId,
      modelKey,
    });
    modelKey.fill(0);
    return modelId;
  }

  /** The owner grants the user access to the model when served by this stack's runtime measurement. */
  async grant(
    owner: Party,
    modelId: string,
    user: Party,
    measurement = this.measurements.runtime,
  ): Promise<void> {
    await this.#client.send(owner.idKey, {
      type: REQUEST_TYPES.GRANT_MODEL_ACCESS,
      modelId,
      measurement,
      userId: user.userId,
    });
  }

  /** The user uploads a request key (a fresh one unless given) for the model; returns it (the user keeps it to encrypt inputs). */
  async addRequestKey(
    user: Party,
    modelId: string,
    requestKey: Buffer = createAesKey(),
  ): Promise<Buffer> {
    await this.#client.send(user.idKey, {
      type: REQUEST_TYPES.ADD_REQUEST_KEY,
      modelId,
      measurement: this.measurements.runtime,
      requestKey,
    });
    return requestKey;
  }

  /** The /run value of an inference request in SeSeMI's format. */
  request(
    user: Party,
    modelId: string,
    requestKey: Buffer,
    input: Uint8Array,
  ): Record<string, unknown> {
    return {
      model_type: modelId,
      user_id: user.userId,
      key_service_address: this.keyServiceHost,
      key_service_port: this.#keyServicePorts.worker,
      encrypted_sample: encryptEnvelope(requestKey, input).toString('base64'),
    };
  }

  /** Sends a /run with the given value and decrypts the output when there is one. */
  async run(value: unknown, requestKey?: Buffer, activationId = 'local'): Promise<StackAnswer> {
    const answer = await this.#post('/run', {
      value,
      namespace: 'guest',
      action_name: '/guest/semirt-inference',
      action_version: '0.0.1',
      activation_id: activationId,
      transaction_id: activationId,
      deadline: String(Date.now() + 60_000),
    });
    const output = (answer.body as { msg?: { output?: unknown } } | null)?.msg?.output;
    if (typeof output !== 'string' || requestKey === undefined) return answer;
    return { ...answer, output: decryptEnvelope(requestKey, Buffer.from(output, 'hex')) };
  }

  /** Stops the KeyService (SIGTERM) and starts it again on the same ports and database. */
  async restartKeyService(): Promise<void> {
    await this.#keyService.stop();
    this.#keyService = await startKeyService(
      this.#dir,
      this.#simDir,
      this.#keyServicePorts.client,
      this.#keyServicePorts.worker,
    );
  }

  /**
   * Stops the runtime (SIGTERM) and starts a fresh, initialized one on the same store, with
   * `workers` worker threads (default: as started). Answers `performance.now()` at the new
   * process's spawn, so callers can time a cold start to the first answer.
   */
  async restartRuntime(workers = this.#options.workers): Promise<{ spawnedAt: number }> {
    await this.#runtime.stop();
    const spawnedAt = performance.now();
    const runtime = await startRuntime(
      { ...this.#options, ...(workers === undefined ? {} : { workers }) },
      this.#simDir,
      this.measurements.keyservice,
    );
    this.#runtime = runtime.process;
    this.#runtimeUrl = runtime.url;
    this.#metricsUrl = runtime.metricsUrl;
    await this.#init();
    return { spawnedAt };
  }

  /** Stops both processes (SIGTERM: they drain first). */
  async stop(): Promise<void> {
    this.#client.close();
    await Promise.all([this.#runtime.stop(), this.#keyService.stop()]);
  }

  /** The runtime process (tests send it signals). */
  get runtime(): SemirtProcess {
    return this.#runtime;
  }

  async #init(): Promise<void> {
    const init = await this.#post('/init', { value: {} });
    if (init.status !== 200)
      throw new Error(`The runtime refused /init: ${JSON.stringify(init.body)}`);
  }

  async #post(path: string, body: unknown): Promise<StackAnswer> {
    const response = await fetch(this.runtimeUrl + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: JSON.parse(text) as unknown };
  }
}

interface RuntimeProcess {
  readonly process: SemirtProcess;
  readonly url: string;
  readonly metricsUrl: string | undefined;
}

/** Starts `semirt runtime --store` serving the inference action (not yet initialized). */
async function startRuntime(
  options: LocalStackOptions,
  simDir: string,
  keyServiceMeasurement: string,
): Promise<RuntimeProcess> {
  const logPath = join(options.dir, 'runtime.log');
  const runtime = await startSemirt(
    [
      'runtime',
      '--host',
      '127.0.0.1',
      '--port',
      String(options.runtimePort),
      '--store',
      join(options.dir, 'store'),
      '--keyservice-measurement',
      keyServiceMeasurement,
      '--log-level',
      'info',
      ...(options.workers === undefined ? [] : ['--workers', String(options.workers)]),
      ...(options.metricsPort === undefined ? [] : ['--metrics-port', String(options.metricsPort)]),
      ...(options.runtimeArgs ?? []),
      ...SIMULATION_FLAGS(simDir),
    ],
    {
      logPath,
      ready: /"port":(\d+)[^\n]*"msg":"runtime listening"/,
      env: { ...process.env, __OW_ALLOW_CONCURRENT: 'true' },
    },
  );
  // The metrics listener is up before the runtime logs that it listens.
  const metricsPort = /"metricsPort":(\d+)/.exec(readFileSync(logPath, 'utf8'))?.[1];
  return {
    process: runtime,
    url: `http://127.0.0.1:${runtime.ready[0] ?? ''}`,
    metricsUrl: metricsPort === undefined ? undefined : `http://127.0.0.1:${metricsPort}/metrics`,
  };
}

function startKeyService(
  dir: string,
  simDir: string,
  clientPort: number,
  workerPort: number,
): Promise<SemirtProcess> {
  return startSemirt(
    [
      'keyservice',
      '--host',
      '127.0.0.1',
      '--client-port',
      String(clientPort),
      '--worker-port',
      String(workerPort),
      '--db',
      join(dir, 'keyservice.db'),
      '--log-level',
      'info',
      ...SIMULATION_FLAGS(simDir),
    ],
    {
      logPath: join(dir, 'keyservice.log'),
      ready: /"clientPort":(\d+),"workerPort":(\d+)[^\n]*KeyService listening/,
    },
  );
}
