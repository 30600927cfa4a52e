// Runs the built CLI on a real pseudo-terminal: util-linux `script` gives it one (stdin, stdout and stderr are the
// terminal unless the command line redirects them), and a test can answer a prompt once it shows.
import {spawn} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {testCacheHome} from './cli.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

export interface TerminalRun {
  exitCode: number
  /** Everything the terminal showed (stderr, and stdout unless redirected), with its escape codes. */
  output: string
}

export interface TerminalOptions {
  /** Typed once `waitFor` shows: `y\r`, `n\r`, or `\u0003` for Ctrl-C. */
  answer?: string
  /** The terminal's width (stty cols). */
  columns?: number
  env?: NodeJS.ProcessEnv
  /** Sent to the command (not to `script`) once `waitFor` shows, instead of typing an answer. */
  signal?: NodeJS.Signals
  /** A file stdout is redirected to, so only stderr is on the terminal. */
  stdoutTo?: string
  waitFor?: RegExp | string
  /** The argv `script` runs under (e.g. a private mount namespace: test/helpers/example-host.ts). */
  wrap?: (argv: string[]) => string[]
}

const quote = (arg: string) => `'${arg.replaceAll("'", String.raw`'\''`)}'`

/** `moat <args>` on a pseudo-terminal; resolves with its exit code (script --return) and what the terminal showed. */
export function runOnTerminal(args: string[], options: TerminalOptions = {}): Promise<TerminalRun> {
  const cli = [process.execPath, 'bin/run.js', ...args].map((arg) => quote(arg)).join(' ')
  const command = `stty cols ${options.columns ?? 200} rows 50; exec ${cli}${options.stdoutTo ? ` > ${quote(options.stdoutTo)}` : ''}`
  // A private state directory: the journal of a removing pass never goes to the real ~/.local/state.
  const state = mkdtempSync(join(tmpdir(), 'mts-term-'))
  const env: NodeJS.ProcessEnv = {...process.env, TERM: 'xterm', XDG_CACHE_HOME: testCacheHome(), XDG_STATE_HOME: state, ...options.env}
  delete env.DOCKER_HOST
  delete env.DOCKER_CONTEXT
  for (const [key, value] of Object.entries(options.env ?? {})) if (value === undefined) delete env[key]
  const argv = ['script', '--quiet', '--flush', '--return', '--command', command, '/dev/null']
  const [file, ...rest] = options.wrap ? options.wrap(argv) : argv
  const child = spawn(file!, rest, {cwd: ROOT, env})
  let output = ''
  const shows = (text: string) =>
    options.waitFor === undefined ? false : typeof options.waitFor === 'string' ? text.includes(options.waitFor) : options.waitFor.test(text)
  let answered = false
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk
    if ((options.answer === undefined && options.signal === undefined) || answered || !shows(output)) return
    answered = true
    if (options.signal) {
      // `script` runs the command line in a shell that execs the CLI: its one child is the CLI's process.
      const [pid] = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(' ')
      process.kill(Number(pid), options.signal)
      return
    }

    // Typed, and stdin left open until the command ends: an end of input right after a lone Esc would reach the
    // prompt as Esc+^D (Meta-^D) within readline's escape timeout, and the prompt would ignore it.
    child.stdin.write(options.answer)
  })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`no exit on the terminal after 60 s; it showed:\n${output}`))
    }, 60_000)
    child.on('close', (code) => {
      clearTimeout(timer)
      child.stdin.destroy()
      rmSync(state, {force: true, recursive: true})
      resolve({exitCode: code ?? -1, output})
    })
  })
}

/** The text without ANSI escape codes. */
export function plain(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replaceAll(/\u001B\[[\d;?]*[A-Za-z]/g, '')
}
