/** The documented exit codes (README "Exit codes"; DESIGN.md). */
export const EXIT = {
  /** Unexpected error, or a required runtime unreachable. */
  error: 1,
  /** Done, nothing to do, dry run, or "Canceled.". */
  ok: 0,
  /** Partial: some deletions failed. Skips on drift are not failures. */
  partial: 3,
  /** `status` only: something is orphaned now (a CI step can gate on it). */
  toClean: 4,
  /** Usage error, or refusing to prompt without a terminal. */
  usage: 2,
} as const

/** Bad input found after flag parsing (e.g. a --tmp-dir that does not exist): reported as a usage error. */
export class InputError extends Error {
  override name = 'InputError'
}
