/**
 * Model ids name store files and KeyService records: 1 to 255 letters, digits, '.', '_' or '-',
 * starting with a letter or digit, so an id can never climb out of the store folder.
 */
const MODEL_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;

/** Tells whether a string is a valid model id. */
export function isModelId(value: string): boolean {
  return MODEL_ID.test(value);
}

/** The rule, in words, for error messages. */
export const MODEL_ID_RULE =
  'expected 1 to 255 letters, digits, ".", "_" or "-" starting with a letter or digit';
