import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { scratchLayout } from './conv-common.js';

describe('scratchLayout()', () => {
  it('scratchLayout() aligns every region to 16 bytes and totals the aligned sizes', () => {
    const layout = scratchLayout([5, 16, 17, 0, 3]);
    assert.equal(layout.total, 16 + 16 + 32 + 0 + 16);
    assert.deepEqual(layout.at(0), [0, 16, 32, 64, 64]);
  });

  it('scratchLayout().at() offsets every region from where the heap scratch starts', () => {
    assert.deepEqual(scratchLayout([1, 1]).at(1024), [1024, 1040]);
  });
});
