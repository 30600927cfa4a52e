// Mount points of this host, read afresh each time they are asked for (Linux /proc/self/mountinfo), and host paths
// as a container runtime records them, resolved so they compare with the paths this tool scanned.
import {lstatSync, readFileSync, realpathSync, statSync} from 'node:fs'
import {dirname} from 'node:path'

import type {Identity} from './tree.js'

export interface MountTable {
  /** Mount points (decoded paths); empty where there is no /proc. */
  readonly points: readonly string[]
  /**
   * Why mountinfo could not be read where it exists (not ENOENT, which means no /proc: macOS): then no mount point can
   * be ruled out, and whatever the table was to clear is kept (issue 20).
   */
  readonly problem?: string
  /**
   * `dev:ino` of each mount point whose file system has this device number: what a same-file-system bind mount
   * looks like from inside (its st_dev is its parent's). Only those mount points are stat'ed, so a hung network
   * mount elsewhere cannot stall the caller.
   */
  rootsOn(dev: number): Set<string>
}

/** mountinfo escapes space, tab, newline and backslash as octal (`\040`). */
function unescape(field: string): string {
  return field.replaceAll(/\\([0-7]{3})/g, (_, octal: string) => String.fromCodePoint(Number.parseInt(octal, 8)))
}

function devOf(majorMinor: string): number | undefined {
  const [major, minor] = majorMinor.split(':').map(Number)
  if (major === undefined || minor === undefined || Number.isNaN(major) || Number.isNaN(minor)) return undefined
  // glibc makedev, as st_dev is reported.
  // eslint-disable-next-line no-bitwise
  return ((major & 0xf_ff) << 8) | (minor & 0xff) | ((minor & ~0xff) << 12) | ((major & ~0xf_ff) * 0x1_00_00_00_00)
}

export function readMountTable(): MountTable {
  let text = ''
  let problem: string | undefined
  try {
    // latin1: every byte maps to one character, so a raw name survives as characters for prefix comparisons.
    text = readFileSync('/proc/self/mountinfo', 'latin1')
  } catch (error) {
    const {code} = error as NodeJS.ErrnoException
    if (code !== 'ENOENT') problem = `/proc/self/mountinfo cannot be read (${code ?? error}): no mount point can be ruled out`
  }

  const entries: Array<{dev: number | undefined; point: string}> = []
  for (const line of text.split('\n')) {
    const fields = line.split(' ')
    if (fields[4]) entries.push({dev: devOf(fields[2] ?? ''), point: unescape(fields[4])})
  }

  return {
    points: entries.map((entry) => entry.point),
    problem,
    rootsOn(dev) {
      const roots = new Set<string>()
      for (const entry of entries) {
        if (entry.dev !== dev) continue
        try {
          const stat = lstatSync(entry.point)
          roots.add(`${stat.dev}:${stat.ino}`)
        } catch {
          // A mount point this user cannot reach is none inside a tree it walks; mountPointsIn checks by path too.
        }
      }

      return roots
    },
  }
}

/** Mount points at or below `path`: a tree holding one must not be deleted. */
export function mountPointsIn(table: MountTable, path: string): string[] {
  return table.points.filter((point) => point === path || point.startsWith(path + '/'))
}

export interface KnownDir extends Identity {
  path: string
}

/**
 * A host path as a runtime records it (as given: through a symlinked $TMPDIR, macOS /tmp -> /private/tmp), made
 * comparable with resolved paths. The path may be gone (moved into quarantine), so its nearest existing ancestor is
 * resolved and the rest appended; when that ancestor is one of `known` by device and inode (another path to the
 * same directory, such as a bind mount of /tmp elsewhere), the known path stands for it.
 */
export function resolveHostPath(source: string, known: readonly KnownDir[] = []): string {
  const rest: string[] = []
  let ancestor = source.replace(/\/+$/, '') || '/'
  for (;;) {
    try {
      const stat = statSync(ancestor)
      const same = known.find((dir) => dir.dev === stat.dev && dir.ino === stat.ino)
      const base = same ? same.path : realpathSync(ancestor)
      return rest.length === 0 ? base : `${base === '/' ? '' : base}/${rest.reverse().join('/')}`
    } catch {}

    if (ancestor === '/' || ancestor === '.' || ancestor === '') return source
    rest.push(ancestor.slice(ancestor.lastIndexOf('/') + 1))
    ancestor = dirname(ancestor)
  }
}
