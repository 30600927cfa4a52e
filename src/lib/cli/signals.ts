// The one signal handling of every command that removes (issue 21): SIGTERM, SIGINT, SIGHUP and SIGQUIT alike.
// The first starts no new removal and lets the requests in flight settle (their outcomes are written as they come),
// for at most SETTLE_MS; a second one, or that bound, exits at once: the intents already written make that safe (the
// next pass resolves what is open). An exception no pass could catch (thrown in an event handler) ends the process
// with one line and exit 1, after everything decided so far was written.
import {constants} from 'node:os'

import {writeOut} from './stdio.js'

export const STOP_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT'] as const

/** How long the requests in flight get after the first signal. */
export const SETTLE_MS = 10_000

/** 128 + the signal's number, as a shell reports a process ended by it (SIGHUP 129, SIGINT 130, SIGQUIT 131, SIGTERM 143). */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0)
}

export interface StopOptions {
  /** The exit code when the process cannot wait: a second signal, or the first one's bound passed. */
  exitNow(signal: NodeJS.Signals): number
  /** Told once, at the first signal (a note for the log). */
  onFirst?(signal: NodeJS.Signals): void
  settleMs?: number
}

export interface StopHandle {
  dispose(): void
  /** The first stop signal received, if any. */
  readonly received: NodeJS.Signals | undefined
  /** Aborted by the first signal: nothing new is removed. */
  readonly signal: AbortSignal
}

export function stopOnSignals(options: StopOptions): StopHandle {
  const controller = new AbortController()
  let received: NodeJS.Signals | undefined
  let timer: NodeJS.Timeout | undefined
  const onSignal = (signal: NodeJS.Signals) => {
    // eslint-disable-next-line n/no-process-exit, unicorn/no-process-exit -- a second signal means now
    if (received) process.exit(options.exitNow(signal))
    received = signal
    controller.abort()
    options.onFirst?.(signal)
    timer = setTimeout(() => {
      writeOut(2, `Stopped by ${signal}: the requests in flight did not settle within ${(options.settleMs ?? SETTLE_MS) / 1000}s; the next pass resolves them.\n`)
      // eslint-disable-next-line n/no-process-exit, unicorn/no-process-exit
      process.exit(options.exitNow(signal))
    }, options.settleMs ?? SETTLE_MS)
    // The bound must not keep an otherwise finished process alive.
    timer.unref()
  }

  const onCrash = (error: Error) => {
    writeOut(2, `Error: ${(error?.message ?? String(error)).split('\n')[0]}; every decision made so far is written, and the next pass resolves what was under way.\n`)
    // eslint-disable-next-line n/no-process-exit, unicorn/no-process-exit
    process.exit(1)
  }

  for (const name of STOP_SIGNALS) process.on(name, onSignal)
  process.on('uncaughtException', onCrash)
  return {
    dispose() {
      for (const name of STOP_SIGNALS) process.off(name, onSignal)
      process.off('uncaughtException', onCrash)
      clearTimeout(timer)
    },
    get received() {
      return received
    },
    signal: controller.signal,
  }
}
