import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { emptyTimings } from '../../src/inference/phases.js';
import { metricValue, percentile, phaseMedians } from './harness.js';

describe('percentile()', () => {
  test('answers the nearest-rank value, whatever the input order', () => {
    const values = [5, 1, 4, 2, 3];
    assert.equal(percentile(values, 50), 3);
    assert.equal(percentile(values, 99), 5);
    assert.equal(percentile(values, 0), 1);
    assert.ok(Number.isNaN(percentile([], 50)));
  });
});

describe('phaseMedians()', () => {
  test('answers the median of each phase and of the time outside every phase', () => {
    const sample = (ms: number, infer: number, queue: number) => ({
      ms,
      output: '',
      aux: { ...emptyTimings(), infer, queue },
    });
    const m = phaseMedians([sample(10, 6, 1), sample(12, 7, 1), sample(30, 8, 20)]);
    assert.equal(m.infer, 7);
    assert.equal(m.queue, 1);
    assert.equal(m.rest, 3);
    assert.equal(m.total, 12);
  });
});

describe('metricValue()', () => {
  test('reads an unlabelled sample and ignores names that only share a prefix', () => {
    const text = [
      '# HELP semirt_nodejs_eventloop_lag_p99_seconds The 99th percentile.',
      'semirt_nodejs_eventloop_lag_p99_seconds_total 9',
      'semirt_nodejs_eventloop_lag_p99_seconds 0.010354687',
    ].join('\n');
    assert.equal(metricValue(text, 'semirt_nodejs_eventloop_lag_p99_seconds'), 0.010354687);
    assert.equal(metricValue(text, 'semirt_absent'), undefined);
  });
});
