/** What /init hands to an action loader, validated and defaulted by the proxy. */
export interface InitRequest {
  readonly name: string;
  /** Entry point, `main` by default; for archives `file.export.path` as the Node.js runtime. */
  readonly main: string;
  readonly code: string;
  /** True when `code` is a base64 archive (zip or tar.gz). */
  readonly binary: boolean;
}

/**
 * A loaded action. `invoke` may return a value or a promise, or throw synchronously: the proxy
 * tells these apart, as the OpenWhisk contract answers them differently.
 */
export interface Action {
  invoke(value: unknown): unknown;
}

/** Loads the action sent by /init; throws an Error whose message explains what failed. */
export type ActionLoader = (init: InitRequest) => Promise<Action>;

/** A problem the loader itself found (bad archive, missing entry point): reported by message, without a stack. */
export class ActionLoadError extends Error {
  override readonly name = 'ActionLoadError';
}
