// Makes the built `semirt` entry point executable: tsc writes plain files, and npx links the
// project's bin to it (a link made before a rebuild would otherwise point at a non-executable file).
import { chmodSync } from 'node:fs';

chmodSync(new URL('../dist/src/cli/main.js', import.meta.url), 0o755);
