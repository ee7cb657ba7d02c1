// The Dockerfiles cannot be built on these machines (no Docker engine); this checks that the
// runtime image starts the same entry point the conformance tests run.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../support/paths.js';

test('docker/runtime.Dockerfile runs `semirt runtime` from the built CLI on port 8080', () => {
  const dockerfile = readFileSync(join(REPO_ROOT, 'docker', 'runtime.Dockerfile'), 'utf8');
  const cmd = /^CMD (\[.*\])$/m.exec(dockerfile)?.[1];
  assert.ok(cmd !== undefined, 'CMD in exec form');
  const [node, entry, subcommand] = JSON.parse(cmd) as string[];
  assert.equal(node, 'node');
  assert.equal(subcommand, 'runtime');
  assert.ok(existsSync(join(REPO_ROOT, entry!)), `${entry} is built`);
  assert.match(dockerfile, /^EXPOSE 8080$/m);
  assert.match(dockerfile, /ONNXRUNTIME_NODE_INSTALL=skip/);
});
