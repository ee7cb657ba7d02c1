import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { ProgressBar } from './tooling.js';

/** A terminal-like stream that records what is written to it. */
function terminal(isTTY: boolean): { stream: NodeJS.WriteStream; output: string[] } {
  const output: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      output.push(chunk.toString());
      callback();
    },
  }) as unknown as NodeJS.WriteStream;
  stream.isTTY = isTTY;
  return { stream, output };
}

describe('ProgressBar', () => {
  it('draws the completed bar and ends its line on a terminal', () => {
    const { stream, output } = terminal(true);
    const bar = new ProgressBar('encrypting', stream);
    bar.update(2 * 1_048_576, 4 * 1_048_576);
    bar.update(4 * 1_048_576, 4 * 1_048_576);
    bar.finish();
    assert.match(output.join(''), /encrypting \[#{30}\] 100% 4\.0\/4\.0 MB\n$/);
  });

  it('writes nothing when the stream is not a terminal', () => {
    const { stream, output } = terminal(false);
    const bar = new ProgressBar('encrypting', stream);
    bar.update(1, 1);
    bar.finish();
    assert.deepEqual(output, []);
  });
});
