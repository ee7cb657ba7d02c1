import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isSemirtError } from '../errors.js';
import {
  MEASUREMENT_FORMAT,
  measureRuntime,
  runtimeCodeRoot,
  runtimeMeasuredConfig,
} from './measurement.js';

let root: string;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'semirt-measure-'));
  await mkdir(join(root, 'pool'), { recursive: true });
  await writeFile(join(root, 'main.js'), 'export const a = 1;\n');
  await writeFile(join(root, 'pool', 'worker.js'), 'export const b = 2;\n');
  await writeFile(join(root, 'pool', 'kernels.wasm'), Buffer.from([0, 97, 115, 109, 1, 0, 0, 0]));
  await writeFile(join(root, 'pool', 'worker.test.js'), 'test();\n');
  await writeFile(join(root, 'main.js.map'), '{}');
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('measureRuntime()', () => {
  test('is deterministic and lists loaded modules in path order, without tests or maps', async () => {
    const a = await measureRuntime({ codeRoot: root, config: { mode: 'simulation' } });
    const b = await measureRuntime({ codeRoot: root, config: { mode: 'simulation' } });
    assert.equal(a.measurement, b.measurement);
    assert.match(a.measurement, /^[0-9a-f]{64}$/);
    const lines = a.manifest.trimEnd().split('\n');
    assert.equal(lines[0], MEASUREMENT_FORMAT);
    assert.deepEqual(
      lines.slice(1).map((line) => line.split(' ').at(-1)),
      ['main.js', 'pool/kernels.wasm', 'pool/worker.js', 'mode="simulation"'],
    );
    assert.equal(a.files, 3);
  });

  test('changes when one byte of a loaded file changes, and back when it is restored', async () => {
    const before = await measureRuntime({ codeRoot: root, config: {} });
    await writeFile(join(root, 'pool', 'worker.js'), 'export const b = 3;\n');
    const changed = await measureRuntime({ codeRoot: root, config: {} });
    await writeFile(join(root, 'pool', 'worker.js'), 'export const b = 2;\n');
    const restored = await measureRuntime({ codeRoot: root, config: {} });
    assert.notEqual(changed.measurement, before.measurement);
    assert.equal(restored.measurement, before.measurement);
  });

  test('changes with the security-relevant config but not with its key order', async () => {
    const a = await measureRuntime({ codeRoot: root, config: { x: 1, y: true } });
    const b = await measureRuntime({ codeRoot: root, config: { y: true, x: 1 } });
    const c = await measureRuntime({ codeRoot: root, config: { x: 2, y: true } });
    assert.equal(a.measurement, b.measurement);
    assert.notEqual(a.measurement, c.measurement);
  });

  test('ignores test files', async () => {
    const before = await measureRuntime({ codeRoot: root, config: {} });
    await writeFile(join(root, 'pool', 'worker.test.js'), 'changed();\n');
    assert.equal(
      (await measureRuntime({ codeRoot: root, config: {} })).measurement,
      before.measurement,
    );
  });

  test('rejects a folder without modules and config keys with odd characters', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'semirt-measure-empty-'));
    try {
      await assert.rejects(measureRuntime({ codeRoot: empty, config: {} }), (e: unknown) =>
        isSemirtError(e, 'INVALID_OPTION'),
      );
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
    await assert.rejects(measureRuntime({ codeRoot: root, config: { 'a b': 1 } }), (e: unknown) =>
      isSemirtError(e, 'INVALID_OPTION'),
    );
  });

  test('runtimeMeasuredConfig() gives a KeyService and a runtime of the same code different measurements', async () => {
    const attestation = {
      mode: 'simulation',
      attesterScheme: 'sim-dcap',
      verifierSchemes: ['sim-dcap'],
    } as const;
    const [runtime, keyService] = await Promise.all(
      (['runtime', 'keyservice'] as const).map((role) =>
        measureRuntime({ codeRoot: root, config: runtimeMeasuredConfig(attestation, role) }),
      ),
    );
    assert.match(runtime!.manifest, /^config process\.role="runtime"$/m);
    assert.match(keyService!.manifest, /^config process\.role="keyservice"$/m);
    assert.notEqual(runtime!.measurement, keyService!.measurement);
  });

  test('runtimeCodeRoot() is the folder holding attestation/ (src or dist/src)', async () => {
    const result = await measureRuntime({ codeRoot: runtimeCodeRoot(), config: {} });
    assert.match(result.manifest, / attestation\/measurement\.(ts|js)\n/);
  });
});
