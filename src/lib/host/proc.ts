import {readdirSync, readFileSync, readlinkSync} from 'node:fs'
import {dirname} from 'node:path'

import {shortPath} from './raw-path.js'

export interface ProcessUse {
  /** `cwd`, `root`, `exe`, `maps <path>`, `fd <path>` or `env <NAME>`. */
  how: string
  pid: number
}

/** Everything of a process that pins a path without an open descriptor (issue 9, class 4). */
const LINKS = ['cwd', 'root', 'exe'] as const

/**
 * Which live processes use which paths below some directories, from Linux /proc: working directory, root, executable,
 * memory-mapped files (a library or a program run from inside a tree) and open files. Read in one sweep over /proc,
 * whatever the number of paths asked about later; every used path is indexed with its ancestors up to the directory
 * it is under, so asking about a tree is one lookup.
 */
export class ProcessUsage {
  private constructor(
    private readonly byPath: Map<string, ProcessUse>,
    /** What was read, for the evidence: how many processes, which of their facts, how many could not be read. */
    readonly checked: {environ: readonly string[]; processes: number; unreadable: number},
  ) {}

  /**
   * undefined where there is no /proc (macOS): the caller relies on age alone and says so. `environ` names
   * variables that make a process a user of the dir they point at (`CODEX_HOME` of `moat grant codex`,
   * moat-resources.md §11): its environment is read too.
   */
  static read(under: readonly string[], environ: readonly string[] = []): ProcessUsage | undefined {
    let pids: string[]
    try {
      pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name))
    } catch {
      return undefined
    }

    if (pids.length === 0) return undefined
    const prefixes = under.map((dir) => dir.replace(/\/+$/, '') + '/')
    const byPath = new Map<string, ProcessUse>()
    const index = (path: string, use: ProcessUse) => {
      const clean = path.replace(/ \(deleted\)$/, '')
      const prefix = prefixes.find((candidate) => clean.startsWith(candidate))
      if (!prefix) return // sockets, pipes, anon inodes, and everything elsewhere
      for (let p = clean; p.length >= prefix.length && !byPath.has(p); p = dirname(p)) byPath.set(p, use)
    }

    let processes = 0
    let unreadable = 0
    for (const name of pids) {
      const pid = Number(name)
      if (pid === process.pid) continue
      for (const link of LINKS) {
        try {
          index(readlinkSync(`/proc/${pid}/${link}`), {how: link, pid})
        } catch {}
      }

      try {
        const maps = readFileSync(`/proc/${pid}/maps`, 'utf8')
        if (prefixes.some((prefix) => maps.includes(prefix))) {
          for (const line of maps.split('\n')) {
            const at = line.indexOf('/')
            if (at > 0) index(line.slice(at), {how: `maps ${line.slice(at)}`, pid})
          }
        }
      } catch {}

      if (environ.length > 0) {
        for (const [name, value] of environment(pid, environ)) index(value, {how: `env ${name}`, pid})
      }

      const fds = openFiles(pid)
      if (fds !== 'gone') processes++
      if (fds === 'unreadable') unreadable++

      for (const fd of Array.isArray(fds) ? fds : []) {
        try {
          const target = readlinkSync(`/proc/${pid}/fd/${fd}`)
          if (target.startsWith('/')) index(target, {how: `fd ${target}`, pid})
        } catch {}
      }
    }

    return new ProcessUsage(byPath, {environ, processes, unreadable})
  }

  /** How the check was made, for the evidence: `214 processes in /proc (fds, cwd, root, exe, maps)`. */
  describeCheck(): string {
    const {environ, processes, unreadable} = this.checked
    const what = ['fds', 'cwd', 'root', 'exe', 'maps', ...(environ.length > 0 ? [`environ ${environ.join(', ')}`] : [])]
    const blind = unreadable > 0 ? `; ${unreadable} of them not readable (another user's)` : ''
    return `${processes} process${processes === 1 ? '' : 'es'} in /proc (${what.join(', ')})${blind}`
  }

  /** A process using this path or anything below it. */
  userOf(path: string): ProcessUse | undefined {
    return this.byPath.get(path)
  }
}

/**
 * A process's open descriptors; `gone` once it exited since the listing, `unreadable` when it is not ours to read
 * (another user's, without root): said in the evidence.
 */
function openFiles(pid: number): 'gone' | 'unreadable' | string[] {
  try {
    return readdirSync(`/proc/${pid}/fd`)
  } catch (error) {
    const {code} = error as NodeJS.ErrnoException
    return code === 'EACCES' || code === 'EPERM' ? 'unreadable' : 'gone'
  }
}

/** The values of these variables in a process's environment, trailing slashes dropped; none when unreadable. */
function environment(pid: number, names: readonly string[]): Array<[string, string]> {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/environ`, 'utf8')
  } catch {
    return []
  }

  return text.split('\0').flatMap((variable): Array<[string, string]> => {
    const at = variable.indexOf('=')
    const name = variable.slice(0, at)
    return at > 0 && names.includes(name) ? [[name, variable.slice(at + 1).replace(/\/+$/, '')]] : []
  })
}

export function describeUse(use: ProcessUse): string {
  let command = ''
  try {
    command = ` (${readFileSync(`/proc/${use.pid}/comm`, 'utf8').trim()})`
  } catch {}

  const what = `process ${use.pid}${command}`
  if (use.how === 'cwd') return `${what} has it as working directory`
  if (use.how === 'root') return `${what} has it as root directory`
  if (use.how === 'exe') return `${what} runs a program from inside it`
  if (use.how.startsWith('maps ')) return `${what} has ${shortPath(use.how.slice(5))} mapped`
  if (use.how.startsWith('env ')) return `${what} has ${use.how.slice(4)} pointing at it`
  return `${what} holds ${shortPath(use.how.slice(3))} open`
}

/** Each live process's argument vector, by PID; undefined where there is no /proc. Unreadable ones are left out. */
export function commandLines(): Map<number, string[]> | undefined {
  let pids: string[]
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name))
  } catch {
    return undefined
  }

  const lines = new Map<number, string[]>()
  for (const pid of pids) {
    try {
      lines.set(Number(pid), readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0'))
    } catch {
      // Gone since the listing, or another user's: not one of this user's processes to report.
    }
  }

  return lines
}

/** The kernel start time of a process (/proc/<pid>/stat field 22), to tell a reused PID from the process. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Field 2 (comm) may hold spaces and parentheses: count fields after its closing parenthesis.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return undefined
  }
}

/** Paths of listening unix sockets on this host (Linux /proc/net/unix); undefined where it cannot be read. */
export function listeningSocketPaths(): Set<string> | undefined {
  let text: string
  try {
    text = readFileSync('/proc/net/unix', 'utf8')
  } catch {
    return undefined
  }

  const paths = new Set<string>()
  for (const line of text.split('\n').slice(1)) {
    // Num RefCount Protocol Flags Type St Inode Path; a path (if any) is the 8th field and may hold spaces.
    const fields = line.trim().split(/\s+/)
    if (fields.length >= 8 && fields[7]!.startsWith('/')) paths.add(fields.slice(7).join(' '))
  }

  return paths
}
