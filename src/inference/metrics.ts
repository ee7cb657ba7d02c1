import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { WorkerPool } from '../pool/pool.js';
import { PHASES, type PhaseTimings } from './phases.js';

/** Prometheus metrics of the inference action: phase durations, outcomes, pool occupancy. */
export class InferenceMetrics {
  readonly registry = new Registry();
  readonly #phases: Histogram<'phase'>;
  readonly #requests: Counter<'outcome'>;

  constructor(pool: WorkerPool) {
    collectDefaultMetrics({ register: this.registry, prefix: 'semirt_' });
    this.#phases = new Histogram({
      name: 'semirt_inference_phase_seconds',
      help: 'Duration of each phase of an inference request',
      labelNames: ['phase'],
      buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [this.registry],
    });
    this.#requests = new Counter({
      name: 'semirt_inference_requests_total',
      help: 'Inference requests by outcome (ok, or the error code)',
      labelNames: ['outcome'],
      registers: [this.registry],
    });
    new Gauge({
      name: 'semirt_pool_queued',
      help: 'Inferences waiting for a worker thread',
      registers: [this.registry],
      collect() {
        this.set(pool.stats.queued);
      },
    });
    new Gauge({
      name: 'semirt_pool_busy',
      help: 'Worker threads running an inference',
      registers: [this.registry],
      collect() {
        this.set(pool.stats.busy);
      },
    });
  }

  /** Records one finished request. */
  observe(timings: PhaseTimings, outcome: string): void {
    this.#requests.inc({ outcome });
    for (const phase of PHASES) {
      if (timings[phase] > 0) this.#phases.observe({ phase }, timings[phase] / 1000);
    }
  }
}

/** Serves GET /metrics on its own port (never the action port, which OpenWhisk owns). */
export async function serveMetrics(
  metrics: InferenceMetrics,
  host: string,
  port: number,
): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    if (req.url !== '/metrics' || req.method !== 'GET') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('GET /metrics\n');
      return;
    }
    metrics.registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text);
      },
      () => {
        res.writeHead(500).end();
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return { server, port: (server.address() as AddressInfo).port };
}
