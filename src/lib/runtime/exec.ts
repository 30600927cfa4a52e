// Every subprocess goes through here: an argument array (no shell), a timeout, and a typed result instead of a
// thrown ExecaError. execa is imported on first use so commands that never spawn pay nothing for it.

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

export async function execFile(file: string, args: readonly string[], options: ExecOptions): Promise<ExecResult> {
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
