// Regenerates the documents that are derived from code (checked by tests): docs/errors.md.
import { writeFileSync } from 'node:fs';
import { renderErrorDocs } from '../dist/src/errors-doc.js';

const root = new URL('..', import.meta.url).pathname;
writeFileSync(`${root}docs/errors.md`, renderErrorDocs());
console.log('wrote docs/errors.md');
