// Where moat's home is, and whether it is one (moat-resources.md §0: $MOAT_HOME, else ~/.moat). A typo in
// --moat-home must never create a moat home, and a file there is a usage error, checked before the lock is taken.
import {lstatSync, mkdirSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {InputError} from '../exit-codes.js'
import {isPrivateDir} from '../private-dir.js'

export interface MoatHomeCheck {
  exists: boolean
  /** The directory that holds the clean lock: the moat home itself, or a private per-user one when it does not exist. */
  lockParent: string
  /** Said to the user when the home does not exist. */
  note?: string
}

/** The per-user directory for the clean lock when the moat home does not exist (never created for it). */
export function fallbackLockParent(): string {
  return join(tmpdir(), `moat-system-${process.getuid?.() ?? 'user'}`)
}

/**
 * Checks the moat home without creating it. A file (or anything but a directory) there: InputError, one line (exit
 * 2). Missing: the pass still runs (temp dirs need no moat home; the engine targets refuse without runs/), nothing is
 * created at that path, and the lock is taken in fallbackLockParent() instead.
 */
export function checkMoatHome(moatHome: string): MoatHomeCheck {
  const example = 'e.g. --moat-home ~/.moat'
  let stat
  try {
    stat = lstatSync(moatHome)
  } catch (error) {
    const {code} = error as NodeJS.ErrnoException
    if (code !== 'ENOENT') throw new InputError(`--moat-home: ${moatHome} cannot be read (${code}); point it at moat's home, ${example}`)
    const lockParent = fallbackLockParent()
    return {
      exists: false,
      lockParent,
      note: `moat home ${moatHome} does not exist (not created); the clean lock is taken in ${lockParent} instead.`,
    }
  }

  // A symlinked home (a common dotfiles setup) is fine when it leads to a directory.
  const isDir = stat.isDirectory() || (stat.isSymbolicLink() && lstatTarget(moatHome))
  if (!isDir) throw new InputError(`--moat-home: ${moatHome} is not a directory; point it at moat's home, ${example}`)
  return {exists: true, lockParent: moatHome}
}

/** Makes the per-user lock parent (0700) and checks it is ours and private: /tmp is shared with everyone. */
export function privateLockParent(dir: string): void {
  mkdirSync(dir, {mode: 0o700, recursive: true})
  if (!isPrivateDir(dir)) {
    throw new Error(`the lock directory ${dir} is not a private directory of this user; remove it and run again`)
  }
}

function lstatTarget(path: string): boolean {
  try {
    return lstatSync(join(path, '.')).isDirectory()
  } catch {
    return false
  }
}
