import {readdirSync, readFileSync, readlinkSync} from 'node:fs'
import {dirname} from 'node:path'

export interface ProcessUse {
  /** `cwd` or the path of an open file. */
  how: string
  pid: number
}

/**
 * Which live processes use which paths: their working directories and open files, from Linux /proc.
 * Every used path is indexed with all its ancestors, so asking about a directory is one lookup.
 */
export class ProcessUsage {
  private constructor(private readonly byPath: Map<string, ProcessUse>) {}

  /** undefined where there is no /proc (macOS): the caller relies on age alone and says so. */
  static read(): ProcessUsage | undefined {
    let pids: string[]
    try {
      pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name))
    } catch {
      return undefined
    }

    if (pids.length === 0) return undefined
    const byPath = new Map<string, ProcessUse>()
    const index = (path: string, use: ProcessUse) => {
      if (!path.startsWith('/')) return // sockets, pipes, anon inodes
      for (let p = path.replace(/ \(deleted\)$/, ''); p !== '/' && !byPath.has(p); p = dirname(p)) byPath.set(p, use)
    }

    for (const name of pids) {
      const pid = Number(name)
      if (pid === process.pid) continue
      try {
        index(readlinkSync(`/proc/${pid}/cwd`), {how: 'cwd', pid})
      } catch {}

      let fds: string[] = []
      try {
        fds = readdirSync(`/proc/${pid}/fd`)
      } catch {}

      for (const fd of fds) {
        try {
          const target = readlinkSync(`/proc/${pid}/fd/${fd}`)
          index(target, {how: `open file ${target}`, pid})
        } catch {}
      }
    }

    return new ProcessUsage(byPath)
  }

  /** A process using this path or anything below it. */
  userOf(path: string): ProcessUse | undefined {
    return this.byPath.get(path)
  }
}

export function describeUse(use: ProcessUse): string {
  let command = ''
  try {
    command = ` (${readFileSync(`/proc/${use.pid}/comm`, 'utf8').trim()})`
  } catch {}

  return `process ${use.pid}${command} ${use.how === 'cwd' ? 'has it as working directory' : `holds ${use.how.slice(10)} open`}`
}
