import {existsSync, readFileSync} from 'node:fs'
import {homedir} from 'node:os'
import {join} from 'node:path'

import {execFile, type ExecResult} from '../exec.js'
import {RuntimeUnreachableError} from './errors.js'

const CALL_TIMEOUT_MS = 20_000

const UNREACHABLE =
  /cannot connect to the docker daemon|error during connect|is the docker daemon running|connection refused|no such host|dial unix|context deadline exceeded/i

export interface BindMount {
  container: string
  source: string
}

/** The docker CLI, so DOCKER_HOST and docker contexts work as users expect (DESIGN.md "Runtimes"). */
export class DockerCli {
  readonly name = 'docker'

  /**
   * True when nothing at all points at an engine: no DOCKER_HOST, no context, no default socket. Lets a command
   * that only needs the engine as a safety check skip spawning the CLI.
   */
  static obviouslyAbsent(env: NodeJS.ProcessEnv = process.env): boolean {
    if (env.DOCKER_HOST || env.DOCKER_CONTEXT) return false
    const config = join(env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'config.json')
    try {
      if (JSON.parse(readFileSync(config, 'utf8')).currentContext) return false
    } catch {}

    return !existsSync('/var/run/docker.sock')
  }

  /** Runs one docker CLI call; throws RuntimeUnreachableError when the engine cannot be asked. */
  async call(args: readonly string[], timeoutMs = CALL_TIMEOUT_MS): Promise<ExecResult> {
    const result = await execFile('docker', args, {timeoutMs})
    if (result.missing) throw new RuntimeUnreachableError('docker', 'the docker CLI is not on PATH')
    if (result.timedOut) throw new RuntimeUnreachableError('docker', `docker ${args[0]} timed out`)
    if (result.exitCode !== 0 && UNREACHABLE.test(result.stderr)) {
      throw new RuntimeUnreachableError('docker', `Docker engine unreachable: ${firstLine(result.stderr)}`)
    }

    return result
  }

  /** Host paths bind-mounted into running containers: one `ps` and one batched `inspect`. */
  async runningBindMounts(): Promise<BindMount[]> {
    const ids = await this.checked(['ps', '--quiet', '--no-trunc'])
    const list = ids.stdout.split('\n').filter(Boolean)
    if (list.length === 0) return []
    const inspected = await this.call(['container', 'inspect', ...list])
    // A container that stopped between ps and inspect makes inspect exit 1 but still print the others.
    const containers = parseJsonArray(inspected.stdout) as Array<{Mounts?: Array<{Source?: string; Type?: string}>; Name?: string}>
    return containers.flatMap((container) =>
      (container.Mounts ?? [])
        .filter((mount) => mount.Type === 'bind' && mount.Source)
        .map((mount) => ({container: (container.Name ?? '').replace(/^\//, ''), source: mount.Source!})),
    )
  }

  private async checked(args: readonly string[]): Promise<ExecResult> {
    const result = await this.call(args)
    if (result.exitCode !== 0) throw new Error(`docker ${args.join(' ')} failed: ${firstLine(result.stderr)}`)
    return result
  }
}

export function firstLine(text: string): string {
  return text.trim().split('\n')[0] ?? ''
}

export function parseJsonArray(text: string): unknown[] {
  const trimmed = text.trim()
  if (!trimmed) return []
  const value = JSON.parse(trimmed)
  return Array.isArray(value) ? value : [value]
}
