import { ERROR_CATALOG, type ErrorSpec } from './errors.js';

/** Renders docs/errors.md from the error catalog, so the document cannot drift from the code. */
export function renderErrorDocs(): string {
  const rows = Object.entries(ERROR_CATALOG).map(([code, spec]: [string, ErrorSpec]) => {
    const answer =
      spec.shape === 'application'
        ? '200 `{"error": {"code", "message"}}`'
        : spec.shape === 'protocol'
          ? `${spec.status} \`{"error": "<message>"}\``
          : 'not an HTTP answer';
    return `| \`${code}\` | ${answer} | ${spec.doc.replaceAll('|', '\\|')} |`;
  });
  return [
    '# Error codes',
    '',
    'Generated from `src/errors.ts` by `npm run docs:errors`; a test fails when this file is stale.',
    '',
    '- **protocol** errors belong to the OpenWhisk runtime protocol and answer with the texts of the',
    '  official Node.js runtime, which the platform reads.',
    '- **application** errors answer HTTP 200 with `{"error": {"code", "message"}}`, so that OpenWhisk',
    '  keeps the container: the request was bad, the runtime is fine.',
    '- **internal** errors stop a command or a start-up with a message naming what to fix.',
    '',
    '| code | answer | when |',
    '|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}
