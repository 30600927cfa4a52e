// `--tmp-dir '/var/folders/*/*/T'`: a quoted glob (a system-wide cron unit on macOS: one T per user) expanded to the
// directories it names. It only lists roots: the temp target checks each as it checks a literal --tmp-dir and judges
// every entry in it on its own, so a match needs no trust beyond being a real directory at the time.
import {accessSync, constants, lstatSync, realpathSync, type Stats} from 'node:fs'

/** Glob magic as fast-glob reads it (`*`, `?`, `[..]`, `{a,b}`, extglobs); without it a value is a literal path. */
const MAGIC = /[*?[{]|[!+@]\(/

export function hasGlobMagic(value: string): boolean {
  return MAGIC.test(value)
}

/**
 * The real directories these patterns match, resolved, each once. Symlinks the pattern's wildcards meet are neither
 * matched nor descended (fast-glob onlyDirectories without followSymbolicLinks); its literal leading part may hold
 * one (/var is a symlink on macOS). A pattern that matches nothing, or only directories this user cannot read, is a
 * note: other users' may be there or not on any given pass. fast-glob 3 misses a `?` before the last `/`
 * (mrmlnc/fast-glob#380: that part is taken as a literal directory); `*` and `[..]` work there.
 */
export async function expandDirGlobs(patterns: readonly string[], note: (message: string) => void): Promise<string[]> {
  if (patterns.length === 0) return []
  // Only when a value has magic: start-up of every other run stays without it.
  const {default: fg} = await import('fast-glob')
  const dirs: string[] = []
  for (const pattern of patterns) {
    // eslint-disable-next-line no-await-in-loop
    const matches = await fg.glob(pattern, {absolute: true, followSymbolicLinks: false, onlyDirectories: true, suppressErrors: true, unique: true})
    let unreadable = 0
    for (const match of matches.sort()) {
      const dir = readableDir(match)
      if (dir === undefined) unreadable++
      else if (!dirs.includes(dir)) dirs.push(dir)
    }

    if (matches.length === 0) note(`--tmp-dir '${pattern}' matches no directory: nothing scanned for it.`)
    else if (unreadable > 0) note(`--tmp-dir '${pattern}': skipped ${unreadable} of ${matches.length} matched directories that you cannot read.`)
  }

  return dirs
}

/**
 * A directory the user named (a --tmp-dir), resolved through symlinks (a mount source may name either form): its real
 * path and stat. Throws the system's error when it cannot be resolved.
 */
export function resolveDirectory(path: string): {path: string; stat: Stats} {
  const real = realpathSync(path)
  return {path: real, stat: lstatSync(real)}
}

/** The resolved path of a directory this user can list and enter, or undefined (gone, replaced, or not readable). */
function readableDir(path: string): string | undefined {
  try {
    const {path: real, stat} = resolveDirectory(path)
    if (!stat.isDirectory()) return undefined
    // eslint-disable-next-line no-bitwise
    accessSync(real, constants.R_OK | constants.X_OK)
    return real
  } catch {
    return undefined
  }
}
