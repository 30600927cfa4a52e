// Waiting for an event (a log line, a file, a process holding a path) rather than for a time: on a loaded machine
// everything takes longer, so a test waits for what it needs and only fails after a generous timeout.

/** Polls `check` every `everyMs` until it holds; throws "timed out waiting for <what>" after timeoutMs. */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000, everyMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (${timeoutMs / 1000} s)`)
    await new Promise((resolve) => {
      setTimeout(resolve, everyMs)
    })
  }
}
