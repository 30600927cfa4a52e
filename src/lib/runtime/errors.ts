/** The engine could not be asked at all (daemon down, CLI missing, timed out): skip that runtime, judge nothing. */
export class RuntimeUnreachableError extends Error {
  override name = 'RuntimeUnreachableError'

  constructor(
    readonly runtime: string,
    message: string,
  ) {
    super(message)
  }
}

/** The runtime's CLI is not on PATH: with `--runtime auto` that runtime is simply not used. */
export class RuntimeAbsentError extends RuntimeUnreachableError {
  override name = 'RuntimeAbsentError'
}
