// Every subprocess goes through here: an argument array (no shell), a timeout, and a typed result instead of a
// thrown ExecaError. execa is imported on first use so commands that never spawn pay nothing for it, and not at all
// for an executable that is not on PATH (on Linux the Apple CLI never is: `--runtime auto` asks it every time).
import {accessSync, constants, statSync} from 'node:fs'
import {delimiter, join} from 'node:path'

export interface ExecResult {
  exitCode: number
  /** The executable was not found on PATH. */
  missing: boolean
  stderr: string
  stdout: string
  timedOut: boolean
}

export interface ExecOptions {
  env?: NodeJS.ProcessEnv
  input?: string
  timeoutMs: number
}

/**
 * False only when `file` (a bare name) is surely not an executable in any PATH directory, looked up as execvp does
 * it (an empty entry is the working directory). Anything uncertain says true and is left to execa.
 */
export function onPath(file: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (file.includes('/') || process.platform === 'win32') return true
  return (env.PATH ?? '').split(delimiter).some((dir) => {
    const path = join(dir || '.', file)
    try {
      accessSync(path, constants.X_OK)
      return !statSync(path).isDirectory()
    } catch (error) {
      return !['EACCES', 'ENOENT', 'ENOTDIR'].includes((error as NodeJS.ErrnoException).code ?? '')
    }
  })
}

export async function execFile(file: string, args: readonly string[], options: ExecOptions): Promise<ExecResult> {
  // execa adds options.env to this process's environment: PATH is looked up in the sum.
  if (!onPath(file, {...process.env, ...options.env})) return {exitCode: -1, missing: true, stderr: '', stdout: '', timedOut: false}
  const {execa} = await import('execa')
  const result = await execa(file, args, {
    env: options.env,
    input: options.input,
    maxBuffer: 256 * 1024 * 1024,
    reject: false,
    stdin: options.input === undefined ? 'ignore' : 'pipe',
    timeout: options.timeoutMs,
  })
  return {
    exitCode: result.exitCode ?? -1,
    missing: result.code === 'ENOENT',
    stderr: String(result.stderr ?? ''),
    stdout: String(result.stdout ?? ''),
    timedOut: Boolean(result.timedOut),
  }
}
