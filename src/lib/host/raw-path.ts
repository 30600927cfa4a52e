// File names are bytes. Node decodes them as UTF-8 and turns invalid sequences into U+FFFD, after which the decoded
// name names nothing (issue 9, class 5). Paths here are strings when they are valid UTF-8, raw Buffers otherwise.
import {readdirSync} from 'node:fs'

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
