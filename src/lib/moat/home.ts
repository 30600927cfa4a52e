// Where moat's home is, and whether it is one (moat-resources.md §0: $MOAT_HOME, else ~/.moat). A typo in
// --moat-home must never create a moat home, and a file there is a usage error, checked before the lock is taken.
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {InputError} from '../exit-codes.js'
import {entryStat, ownDirectory} from '../host/checked-fs.js'

export interface MoatHomeCheck {
  exists: boolean
  /** The directory that holds the clean lock: the moat home itself, or a private per-user one when it does not exist. */
  lockParent: string
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
    stat = entryStat(moatHome)
  } catch (error) {
    throw new InputError(`--moat-home: ${moatHome} cannot be read (${(error as NodeJS.ErrnoException).code}); point it at moat's home, ${example}`)
  }

  if (!stat) return {exists: false, lockParent: fallbackLockParent()}
  // A symlinked home (a common dotfiles setup) is fine when it leads to a directory.
  const isDir = stat.isDirectory() || (stat.isSymbolicLink() && lstatTarget(moatHome))
  if (!isDir) throw new InputError(`--moat-home: ${moatHome} is not a directory; point it at moat's home, ${example}`)
  return {exists: true, lockParent: moatHome}
}

/**
 * What to tell the user about a moat home that does not exist, true for the run that says it: only a run that takes
 * the lock (not a dry run, not `status`) says where it takes it.
 */
export function missingHomeNote(moatHome: string, home: MoatHomeCheck, takesLock: boolean): string | undefined {
  if (home.exists) return undefined
  const lock = takesLock ? `; the clean lock is taken in ${home.lockParent} instead` : ''
  return `moat home ${moatHome} does not exist (not created)${lock}.`
}

/** Makes the per-user lock parent (0700) and checks it is ours and private: /tmp is shared with everyone. */
export function privateLockParent(dir: string): void {
  try {
    ownDirectory(dir)
  } catch (error) {
    throw new Error(`the lock directory ${dir} is not a private directory of this user (${(error as Error).message}); remove it and run again`)
  }
}

/** Whether a symlinked home leads to a directory; one that cannot be followed is not a home to use. */
function lstatTarget(path: string): boolean {
  try {
    // `path/.` resolves the link (path.join would drop the `.`).
    return entryStat(`${path}/.`)?.isDirectory() === true
  } catch {
    return false
  }
}
