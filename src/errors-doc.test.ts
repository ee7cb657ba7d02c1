import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../test/support/paths.js';
import { renderErrorDocs } from './errors-doc.js';

test('docs/errors.md lists every code of the catalog (run `npm run docs:errors` to refresh)', () => {
  const onDisk = readFileSync(join(REPO_ROOT, 'docs', 'errors.md'), 'utf8');
  assert.equal(onDisk, renderErrorDocs());
});
