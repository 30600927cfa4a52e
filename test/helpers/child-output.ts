import type {ChildProcess} from 'node:child_process'

export interface ChildOutput {
  /** The exit code; null when a signal ended the child. */
  code: null | number
  signal: NodeJS.Signals | null
  stderr: string
  stdout: string
}

/**
 * Collects a spawned child's stdout and stderr as text until it closes; rejects when it could not be started.
 * onStderr sees each stderr chunk as it comes (to pass it through live).
 */
export function collectOutput(child: ChildProcess, onStderr?: (chunk: Buffer) => void): Promise<ChildOutput> {
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString()
  })
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
    onStderr?.(chunk)
  })
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({code, signal, stderr, stdout}))
  })
}
