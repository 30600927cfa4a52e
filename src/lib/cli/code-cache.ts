// The compiled-code caches that make start-up fast (issue 22): V8's code cache of the bundle (dist/moat.cjs, made by
// scripts/bundle.js) and, on Node 22+, Node's own compile cache for oclif's normal path (bin/run.js). Both live in the
// user's cache directory, never in /tmp: a tool that cleans /tmp leaves nothing of its own there, and nobody else can
// plant a cache for it (a code cache is trusted code: V8 runs what it holds).
//
// Every failure here means "no cache": the command then compiles its code as it runs, with the same result.
import {closeSync, fsyncSync, writeSync} from 'node:fs'
import {homedir} from 'node:os'
import {dirname, isAbsolute, join} from 'node:path'

import {createFile, entryStat, listDirectory, makeDirectories, ownDirectory, readCacheFile, removeFile, replaceFile, temporaryName, whyNotOwnDirectory} from '../host/checked-fs.js'

/** moat-system's directory in the user's cache directory: $XDG_CACHE_HOME/moat-system, else ~/.cache/moat-system. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  // XDG Base Directory spec: a relative $XDG_CACHE_HOME is invalid and ignored.
  const xdg = env.XDG_CACHE_HOME
  if (xdg && isAbsolute(xdg)) return join(xdg, 'moat-system')
  let home = env.HOME
  try {
    home ||= homedir()
  } catch {}

  return home && isAbsolute(home) ? join(home, '.cache', 'moat-system') : undefined
}

/**
 * Whether `dir` is a private directory of this user: a real directory (not a symlink), owned by this user, writable by
 * nobody else. With `create`, made first (0700, its missing parents too) when it is missing. False on any error.
 */
export function usableDir(dir: string, create = false): boolean {
  try {
    if (create) {
      makeDirectories(dirname(dir))
      ownDirectory(dir)
      return true
    }

    // whyNotOwnDirectory has nothing against a directory that is not there.
    return entryStat(dir) !== undefined && whyNotOwnDirectory(dir) === undefined
  } catch {
    return false
  }
}

/** Beyond this a file is not a code cache of ours (the bundle's is about 0.5 MB). */
const MAX_BYTES = 64 * 1024 * 1024

/** The file `name` in `dir`, if the dir is usable and the file is a regular file of ours (a symlink is not followed). */
export function readCache(dir: string, name: string): Buffer | undefined {
  return usableDir(dir) ? readCacheFile(join(dir, name), MAX_BYTES) : undefined
}

/**
 * How many code caches the directory keeps: one per moat-system build, Node version and set of V8 flags. When a new
 * one is written, the least recently written beyond this go (earlier builds after upgrades); one still in use is
 * written again by its next run.
 */
export const KEEP_CACHES = 8

/**
 * Puts `data` at `dir/name` atomically: a new file of an unpredictable name made exclusively (never through a planted
 * symlink), written, flushed, then renamed over `name`, so a reader sees the old file or the whole new one. Makes the
 * dir when missing. Returns whether it was written; any failure leaves nothing behind.
 */
export function writeCache(dir: string, name: string, data: Uint8Array): boolean {
  if (!usableDir(dir, true)) return false
  const final = join(dir, name)
  let temp: string | undefined
  let fd: number | undefined
  try {
    temp = temporaryName(final)
    fd = createFile(temp, 0o600)
    let written = 0
    while (written < data.length) written += writeSync(fd, data, written)
    // Flushed before the rename: after a crash the name holds the old file or the whole new one, never an empty one.
    fsyncSync(fd)
    closeSync(fd)
    fd = undefined
    replaceFile(temp, final)
    temp = undefined
    pruneCaches(dir, name)
    return true
  } catch {
    return false
  } finally {
    if (fd !== undefined) closeSync(fd)
    try {
      if (temp) removeFile(temp)
    } catch {}
  }
}

/**
 * Removes the code caches in `dir` beyond the KEEP_CACHES most recently written (`kept`, just written, among them):
 * regular files named *.v8-cache only (a symlink is none of ours: never read, so left). Best effort: a cache left is harmless.
 */
function pruneCaches(dir: string, kept: string): void {
  try {
    const caches = (listDirectory(dir) ?? [])
      .filter((name) => name.endsWith('.v8-cache') && name !== kept)
      .map((name) => ({name, stat: entryStat(join(dir, name))}))
      .filter(({stat}) => stat?.isFile())
      .sort((a, b) => b.stat!.mtimeMs - a.stat!.mtimeMs)
    for (const {name} of caches.slice(KEEP_CACHES - 1)) removeFile(join(dir, name))
  } catch {}
}

/**
 * The file name of `bundle`'s code cache for this Node: V8 takes a cache only from its own version and flags (its
 * flag hash: --max-old-space-size counts on Node 20 and 22, not on 24), so each Node version, architecture and set of
 * flags keeps its own file and never throws another's away.
 */
export function codeCacheName(bundle: string): string {
  return `${bundle}.node-${process.version}-${process.arch}-${hash(`${process.execArgv.join(' ')}\0${process.env.NODE_OPTIONS ?? ''}`)}.v8-cache`
}

/** FNV-1a of a short string, 8 hex digits (node:crypto would cost a few ms of start-up to load). */
function hash(text: string): string {
  let value = 0x81_1c_9d_c5
  // eslint-disable-next-line no-bitwise
  for (const char of text) value = Math.imul(value ^ char.codePointAt(0)!, 0x01_00_01_93)
  // eslint-disable-next-line no-bitwise
  return (value >>> 0).toString(16).padStart(8, '0')
}

/**
 * On Node 22 and later, Node's compile cache for the modules oclif's normal path loads (help, --version, completion),
 * in moat-system's cache directory: module.enableCompileCache() without one would write os.tmpdir()/node-compile-cache.
 * A no-op on Node 20, with NODE_DISABLE_COMPILE_CACHE=1, or where that directory is not a private one of this user.
 */
export function enableCompileCache(env: NodeJS.ProcessEnv = process.env): void {
  const dir = cacheDir(env)
  // Node 22.1+ only (@types/node is Node 20's). Taken when needed: node:module is some ms of start-up to load, and the
  // bundle (which holds this file) never needs it.
  // eslint-disable-next-line n/no-unsupported-features/node-builtins -- optional: absent on Node 20
  const {enableCompileCache} = process.getBuiltinModule('node:module') as {enableCompileCache?: (dir: string) => unknown}
  const compileCache = dir && join(dir, 'node-compile-cache')
  if (compileCache && enableCompileCache && usableDir(dir, true) && usableDir(compileCache, true)) enableCompileCache(compileCache)
}
