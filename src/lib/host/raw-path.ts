// File names are bytes. Node decodes them as UTF-8 and turns invalid sequences into U+FFFD, after which the decoded
// name names nothing (issue 9, class 5). Paths here are strings when they are valid UTF-8, raw Buffers otherwise.
import {opendirSync, readdirSync} from 'node:fs'

export type RawPath = Buffer | string

const SLASH = Buffer.from('/')
const REPLACEMENT = '\uFFFD'
/** Longest path shown in a reason; deeper ones keep their first and last components. */
const SHOWN_PATH_CHARS = 120

function bytesOf(path: RawPath): Buffer {
  return typeof path === 'string' ? Buffer.from(path) : path
}

export function joinRaw(parent: RawPath, name: RawPath): RawPath {
  if (typeof parent === 'string' && typeof name === 'string') return `${parent}/${name}`
  return Buffer.concat([bytesOf(parent), SLASH, bytesOf(name)])
}

/**
 * A directory's entry names, unsorted. Strings in the common case; a name that did not decode cleanly is re-read
 * as its raw bytes, so every entry can be lstat'ed, judged and removed by its real name.
 */
export function listNames(dir: RawPath): RawPath[] {
  const names = readdirSync(dir)
  if (!names.some((name) => name.includes(REPLACEMENT))) return names
  return readdirSync(dir, {encoding: 'buffer'}).map((raw) => {
    const text = raw.toString('utf8')
    return text.includes(REPLACEMENT) ? raw : text
  })
}

/** Entries read from the kernel per call while streaming a directory (Node's default is 32). */
const STREAM_BUFFER_ENTRIES = 1024

/**
 * The names in `dir` that `keep` accepts, in byte order. Streamed: a /tmp of a million unrelated names is never
 * held in memory at once (readdirSync would build and sort all of them first, ~190 MB at 1,000,000 names).
 */
export function namesWhere(dir: string, keep: (name: string) => boolean): string[] {
  const kept: string[] = []
  const handle = opendirSync(dir, {bufferSize: STREAM_BUFFER_ENTRIES})
  try {
    for (let entry = handle.readSync(); entry; entry = handle.readSync()) if (keep(entry.name)) kept.push(entry.name)
  } finally {
    handle.closeSync()
  }

  // readdirSync's order (libuv sorts by bytes), so reports read as they did.
  return kept.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
}

/** A path for people: bytes that are not printable ASCII in a raw name are shown as \xNN. */
export function showPath(path: RawPath): string {
  if (typeof path === 'string') return path
  let shown = ''
  for (const byte of path) {
    shown += byte >= 0x20 && byte < 0x7f && byte !== 0x5c ? String.fromCodePoint(byte) : `\\x${byte.toString(16).padStart(2, '0')}`
  }

  return shown
}

/** Keeps a reason line short for a very deep tree: `a/b/…/y/z`. */
export function shortPath(path: string, max = SHOWN_PATH_CHARS): string {
  if (path.length <= max) return path
  const parts = path.split('/')
  const head = parts.slice(0, 2).join('/')
  const tail = parts.slice(-2).join('/')
  const short = `${head}/…/${tail}`
  return short.length <= max ? short : `${short.slice(0, max / 2)}…${short.slice(-max / 2)}`
}
