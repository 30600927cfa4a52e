// A stand-in for the real moat (a Go binary named `moat`, moat-resources.md §12.4) for the tests of moat-system's
// `moat` front and of installing beside moat: a script that records how it was run and exits as told.
import {type ChildProcess, spawn} from 'node:child_process'
import {chmodSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {type ChildOutput, collectOutput} from './child-output.js'

/** The fake's script, recording into `recordDir`: the text it is made from, to check later that nothing replaced it. */
export function fakeMoatScript(recordDir: string): string {
  const record = join(recordDir, 'record')
  return `#!/bin/sh
# A fake moat for moat-system's tests: records its arguments (NUL-separated), environment and PID, copies stdin to
# stdout, writes a line to stderr and exits with FAKE_MOAT_EXIT; with FAKE_MOAT_SLEEP it becomes \`sleep\` instead.
for arg in "$@"; do printf '%s\\0' "$arg"; done > '${record}.args'
env -0 > '${record}.env'
printf '%s' "$$" > '${record}.pid.tmp' && mv '${record}.pid.tmp' '${record}.pid'
if [ -n "\${FAKE_MOAT_SLEEP-}" ]; then exec sleep "$FAKE_MOAT_SLEEP"; fi
cat
echo 'fake moat: stderr' >&2
exit "\${FAKE_MOAT_EXIT:-0}"
`
}

/** Makes `<dir>/moat`, the fake, recording into `recordDir`; returns its path. */
export function makeFakeMoat(dir: string, recordDir = dir): string {
  mkdirSync(dir, {recursive: true})
  const path = join(dir, 'moat')
  writeFileSync(path, fakeMoatScript(recordDir))
  chmodSync(path, 0o755)
  return path
}

export interface FakeMoatRun {
  args: string[]
  env: Record<string, string>
  pid: number
}

/** A file of NUL-terminated fields. */
function fields(file: string): string[] {
  return readFileSync(file, 'utf8').split('\0').slice(0, -1)
}

/** How the fake recording into `recordDir` was last run, or undefined when it never ran. */
export function fakeMoatRun(recordDir: string): FakeMoatRun | undefined {
  const record = join(recordDir, 'record')
  let pid: string
  try {
    pid = readFileSync(`${record}.pid`, 'utf8')
  } catch {
    return undefined
  }

  const env = Object.fromEntries(fields(`${record}.env`).map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]))
  return {args: fields(`${record}.args`), env, pid: Number(pid)}
}

const typed = new Set<ChildProcess>()

/**
 * `moat <args>` as a user types it: a shell finds `moat` on the PATH of `env` and runs it (exec: the shell's own
 * process, `child`, the leader of a process group of its own). `input` goes to its stdin.
 */
export function typeMoat(args: readonly string[], env: NodeJS.ProcessEnv, input = ''): Promise<ChildOutput> & {child: ChildProcess} {
  const child = spawn('/bin/sh', ['-c', 'exec moat "$@"', 'sh', ...args], {detached: true, env, stdio: ['pipe', 'pipe', 'pipe']})
  typed.add(child)
  child.stdin!.end(input)
  const done = collectOutput(child).finally(() => typed.delete(child))
  return Object.assign(done, {child})
}

/** SIGKILLs the process group of every `typeMoat` still running: a test that failed leaves nothing behind. */
export function killTyped(): void {
  for (const child of typed) {
    try {
      process.kill(-child.pid!, 'SIGKILL')
    } catch {}
  }
}
