import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isEsModuleSource } from './js-action.js';

describe('isEsModuleSource()', () => {
  test('recognizes import and export statements and top-level await', () => {
    assert.equal(isEsModuleSource('export function main() {}'), true);
    assert.equal(isEsModuleSource("import fs from 'node:fs';\nexport default () => ({});"), true);
    assert.equal(isEsModuleSource('const x = await Promise.resolve(1);'), true);
  });

  test('treats scripts, CommonJS and plain syntax errors as CommonJS', () => {
    assert.equal(isEsModuleSource('function main() { return {}; }'), false);
    assert.equal(isEsModuleSource('module.exports.main = () => ({}); return;'), false);
    assert.equal(isEsModuleSource('const x = import("node:fs");'), false);
    assert.equal(isEsModuleSource('function main() { return {'), false);
  });
});
