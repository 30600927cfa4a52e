// A directory only this user can write to: what the clean lock's fallback parent (moat/home.ts) and the code caches
// (cli/code-cache.ts) must be, since anyone who can write there could plant a lock or code.
import {lstatSync, mkdirSync, type Stats} from 'node:fs'

/** Owned by this user, and neither group nor others may write to it. */
export function isPrivate(stats: Pick<Stats, 'mode' | 'uid'>): boolean {
  const uid = process.getuid?.()
  // eslint-disable-next-line no-bitwise -- group or world writable
  return (uid === undefined || stats.uid === uid) && (stats.mode & 0o022) === 0
}

/** Whether `dir` is a private directory of this user (a symlink is not); with `create`, made first (0700) if missing. */
export function isPrivateDir(dir: string, create = false): boolean {
  let stats = lstatSync(dir, {throwIfNoEntry: false})
  if (!stats && create) {
    mkdirSync(dir, {mode: 0o700, recursive: true})
    stats = lstatSync(dir)
  }

  return stats !== undefined && stats.isDirectory() && isPrivate(stats)
}
