import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { WorkerPool } from '../pool/pool.js';
import { InferenceMetrics, serveMetrics } from './metrics.js';
import { emptyTimings } from './phases.js';

const pool = new WorkerPool({ size: 1, maxQueue: 4 });
after(() => pool.close());

test('serveMetrics() answers Prometheus text with phases, outcomes and pool gauges', async () => {
  const metrics = new InferenceMetrics(pool);
  metrics.observe({ ...emptyTimings(), key_fetch: 2, infer: 5 }, 'ok');
  metrics.observe(emptyTimings(), 'KEYSERVICE_DENIED');
  const { server, port } = await serveMetrics(metrics, '127.0.0.1', 0);
  try {
    const response = await fetch(`http://127.0.0.1:${port}/metrics`);
    assert.equal(response.status, 200);
    const text = await response.text();
    assert.match(text, /semirt_inference_requests_total\{outcome="ok"\} 1/);
    assert.match(text, /semirt_inference_requests_total\{outcome="KEYSERVICE_DENIED"\} 1/);
    assert.match(text, /semirt_inference_phase_seconds_count\{phase="infer"\} 1/);
    assert.match(text, /semirt_pool_queued 0/);
    assert.match(text, /semirt_nodejs_eventloop_lag_seconds/);
    assert.equal((await fetch(`http://127.0.0.1:${port}/other`)).status, 404);
  } finally {
    server.close();
  }
});
