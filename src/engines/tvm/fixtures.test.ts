import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  helloWorldAotFile,
  helloWorldGraphFile,
  helloWorldParamsFile,
  helloWorldWeightsHeader,
  TVM_FIXTURES,
} from '../../../test/fixtures/tvm/bundles.js';

/** The clang the committed wasm files were built with (build.sh); other versions emit other bytes. */
const RECORDED_CLANG = 'clang version 14.0.6';

/** Why the wasm rebuild check cannot run here, or undefined when it can. */
function clangUnavailable(): string | undefined {
  try {
    const version = execFileSync('clang', ['--version'], { encoding: 'utf8' });
    execFileSync('wasm-ld', ['--version'], { encoding: 'utf8' });
    return version.includes(RECORDED_CLANG)
      ? undefined
      : `clang is not ${RECORDED_CLANG}: ${version.split('\n')[0]}`;
  } catch {
    return 'clang or wasm-ld is not installed (apt-get install -y clang lld)';
  }
}

describe('TVM test fixtures', () => {
  it('the committed graph JSON, params, AOT signature and weights header are what make-fixtures.ts derives from hello_world_float.tflite', () => {
    assert.equal(
      readFileSync(join(TVM_FIXTURES, 'hello-world.graph.json'), 'utf8'),
      helloWorldGraphFile(),
    );
    assert.deepEqual(
      new Uint8Array(readFileSync(join(TVM_FIXTURES, 'hello-world.params'))),
      helloWorldParamsFile(),
    );
    assert.equal(
      readFileSync(join(TVM_FIXTURES, 'hello-world-aot.json'), 'utf8'),
      helloWorldAotFile(),
    );
    assert.equal(
      readFileSync(join(TVM_FIXTURES, 'hello-world-weights.h'), 'utf8'),
      helloWorldWeightsHeader(),
    );
  });

  const skip = clangUnavailable();
  it(
    'the committed wasm libraries are byte-identical to a rebuild from their C sources',
    { skip: skip ?? false },
    () => {
      const out = mkdtempSync(join(tmpdir(), 'semirt-tvm-build-'));
      try {
        execFileSync('sh', [join(TVM_FIXTURES, 'build.sh'), out], { stdio: 'pipe' });
        for (const name of ['hello-world.wasm', 'hello-world-aot.wasm', 'hostile.wasm']) {
          assert.deepEqual(
            readFileSync(join(out, name)),
            readFileSync(join(TVM_FIXTURES, name)),
            `${name} differs from its rebuild`,
          );
        }
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    },
  );
});
