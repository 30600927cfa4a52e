// moat-system's own output, written to file descriptors 1 and 2 directly (issue 22: start-up). The first use of
// process.stdout or process.stderr sets up Node's streams, and for a pipe, a socket or a terminal its net module too:
// some 3 ms of every run, for output that is a few lines written at once. A write here is what Node's stream does for
// a file, a terminal or a pipe on Linux (synchronous), without the stream; once a stream exists (the prompt, oclif's
// error handler, a write that could not go through at once), everything for that descriptor goes through it, in order.
import {fstatSync, writeSync} from 'node:fs'

type Fd = 0 | 1 | 2
type Stream = NodeJS.ReadStream | NodeJS.WriteStream
const NAMES = ['stdin', 'stdout', 'stderr'] as const

/** The descriptors whose Node stream exists: set by the getters of process.stdin/stdout/stderr (watchStreams). */
const created = new Set<Fd>()
/** What to do with a descriptor's stream once it exists (whenStream). */
const waiting = new Map<Fd, Array<(stream: Stream) => void>>()

/**
 * Wraps the getters of process.stdin, stdout and stderr so that the first use of each is known: output goes through
 * a stream once there is one. Node defines them as configurable getters that make the stream on first use.
 */
function watchStreams(): void {
  for (const [fd, name] of NAMES.entries()) {
    const descriptor = Object.getOwnPropertyDescriptor(process, name)
    if (!descriptor?.get || !descriptor.configurable) {
      created.add(fd as Fd) // not Node's lazy getter (a test runner's stream): always write through it
      continue
    }

    const {get} = descriptor
    Object.defineProperty(process, name, {
      configurable: true,
      enumerable: descriptor.enumerable,
      get() {
        const stream = get.call(process) as Stream
        if (!created.has(fd as Fd)) {
          created.add(fd as Fd)
          for (const use of waiting.get(fd as Fd) ?? []) use(stream)
          waiting.delete(fd as Fd)
        }

        return stream
      },
    })
  }
}

watchStreams()

function streamOf(fd: Fd): Stream {
  return fd === 0 ? process.stdin : fd === 1 ? process.stdout : process.stderr
}

/** Whether the Node stream of `fd` has been made (then output for it goes through that stream). */
export function streamExists(fd: Fd): boolean {
  return created.has(fd)
}

/** Runs `use` with the stream of `fd` when it is made, at once if it exists (oclif's EPIPE handler on stdout). */
export function whenStream(fd: Fd, use: (stream: Stream) => void): void {
  if (created.has(fd)) use(streamOf(fd))
  else waiting.set(fd, [...(waiting.get(fd) ?? []), use])
}

/**
 * Writes all of `text` to `fd` (1 or 2). Through the stream when it exists; otherwise directly, handing the rest to
 * the stream on any error: a full non-blocking pipe (EAGAIN: the stream queues it), a reader gone (EPIPE: oclif's
 * handler drops stdout's), a closed descriptor (Node's stream discards). Node's stream would meet the same errors.
 */
export function writeOut(fd: 1 | 2, text: string): void {
  let rest: Buffer | string = text
  if (!created.has(fd)) {
    const data = Buffer.from(text)
    let done = 0
    try {
      while (done < data.length) done += writeSync(fd, data, done)
      return
    } catch {
      rest = data.subarray(done)
    }
  }

  ;(streamOf(fd) as NodeJS.WriteStream).write(rest)
}

/**
 * Whether `fd` is a terminal, as the stream's isTTY says, without making the stream: only a character device can be
 * one (a pipe, a socket or a file is not), and only for those is Node's tty module loaded to ask.
 */
export function isTerminal(fd: Fd): boolean {
  if (created.has(fd)) return Boolean(streamOf(fd).isTTY)
  try {
    if (!fstatSync(fd).isCharacterDevice()) return false
  } catch {
    return false
  }

  return process.getBuiltinModule('node:tty').isatty(fd)
}

/** The stream of `fd` when it is a terminal (its width is wanted), else a stand-in that says it is not one. */
export function terminalOf(fd: 1 | 2): {columns?: number; isTTY?: boolean} {
  return isTerminal(fd) ? (streamOf(fd) as NodeJS.WriteStream) : {isTTY: false}
}
