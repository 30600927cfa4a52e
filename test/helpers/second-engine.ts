// A second private Docker engine beside the suite's test engine, for what only two real engines show: a run dir
// naming another engine than DOCKER_HOST, a docker context naming one, objects of the same name on both. Started by
// the suite that needs it (engine.sh, a few seconds) with its own address pool, and stopped after it.
import {spawn} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterAll, afterEach, beforeAll} from 'vitest'

import {collectOutput} from './child-output.js'
import {type DockerResult, engineSkipped} from './engine.js'
import {until} from './until.js'

const ENGINE_SH = fileURLToPath(new URL('../engine/engine.sh', import.meta.url))
/** Distinct from the test engine's default 10.201.0.0/16; set MOAT_TEST_SECOND_ADDRESS_POOL to share a machine. */
const POOL = process.env.MOAT_TEST_SECOND_ADDRESS_POOL ?? '10.202.0.0/16'

async function engineSh(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{code: number; stderr: string; stdout: string}> {
  const child = spawn('bash', [ENGINE_SH, ...args], {env: {...process.env, ...env}, stdio: ['ignore', 'pipe', 'pipe']})
  const {code, stderr, stdout} = await collectOutput(child)
  return {code: code ?? 1, stderr, stdout}
}

export interface SecondEngine {
  /** The docker CLI against the second engine only. Never rejects for a non-zero exit. */
  docker(args: string[], input?: string): Promise<DockerResult>
  /** Like docker() but throws on a non-zero exit; returns stdout without surrounding whitespace. */
  dockerOk(args: string[], input?: string): Promise<string>
  /** `unix://…` of the second engine. */
  readonly host: string
  /**
   * Stops its dockerd (SIGTERM, by the PID in its pidfile) and starts it again on the same socket and data: its
   * containers stop, its objects and its engine ID stay, its event log starts afresh. Only for an engine this suite
   * started (not MOAT_TEST_SECOND_DOCKER_HOST). `whileDown` runs between the stop and the start.
   */
  restart(whileDown?: () => Promise<void>): Promise<void>
  /** Its socket path. */
  readonly socket: string
}

/**
 * The second engine for this suite (call inside describeEngine): started before its first test, emptied of
 * containers, networks and volumes after each test, stopped after the last. MOAT_TEST_SECOND_DOCKER_HOST names one
 * already running instead (left running, but emptied all the same: give one that holds nothing of yours).
 */
export function useSecondEngine(): SecondEngine {
  let dir: string | undefined
  let host = process.env.MOAT_TEST_SECOND_DOCKER_HOST ?? ''

  const docker = async (args: string[], input?: string): Promise<DockerResult> => {
    const env: NodeJS.ProcessEnv = {...process.env, DOCKER_HOST: host}
    delete env.DOCKER_CONTEXT
    const child = spawn('docker', args, {env, stdio: ['pipe', 'pipe', 'pipe'], timeout: 60_000})
    const output = collectOutput(child)
    child.stdin.end(input)
    const {code, stderr, stdout} = await output
    return {exitCode: code ?? 1, stderr, stdout}
  }

  const dockerOk = async (args: string[], input?: string): Promise<string> => {
    const result = await docker(args, input)
    if (result.exitCode !== 0) throw new Error(`docker ${args.join(' ')} (second engine) exited with ${result.exitCode}: ${result.stderr.trim()}`)
    return result.stdout.trim()
  }

  beforeAll(async () => {
    if (engineSkipped || host) return
    // Short: the socket path must stay under 108 bytes.
    dir = mkdtempSync('/tmp/mte2-')
    const started = await engineSh(['start', dir], {MOAT_TEST_ADDRESS_POOL: POOL})
    const found = /^DOCKER_HOST=(\S+)$/m.exec(started.stdout)?.[1]
    if (started.code !== 0 || !found) throw new Error(`engine.sh start ${dir} failed: ${started.stderr.trim().split('\n').at(-1)}`)
    host = found
  })
  afterEach(async () => {
    if (!host) return
    const ids = (await dockerOk(['ps', '--all', '--quiet'])).split('\n').filter(Boolean)
    if (ids.length > 0) await dockerOk(['rm', '--force', ...ids])
    const volumes = (await dockerOk(['volume', 'ls', '--quiet'])).split('\n').filter(Boolean)
    if (volumes.length > 0) await dockerOk(['volume', 'rm', '--force', ...volumes])
    await dockerOk(['network', 'prune', '--force'])
  })
  afterAll(async () => {
    // engine.sh stops only the dockerd whose pidfile is in this dir (by PID), then removes the dir.
    if (dir) await engineSh(['stop', dir])
  })

  const restart = async (whileDown?: () => Promise<void>): Promise<void> => {
    if (!dir) throw new Error('restart(): the second engine was not started by this suite (MOAT_TEST_SECOND_DOCKER_HOST)')
    const pidFile = join(dir, 'docker.pid')
    const pid = Number(readFileSync(pidFile, 'utf8').trim())
    // Only the dockerd of this dir (engine.sh checks the same): a recycled PID is never signalled.
    if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(pidFile)) throw new Error(`pid ${pid} is not the dockerd of ${dir}`)
    process.kill(pid, 'SIGTERM')
    await until('the second engine to stop', () => !existsSync(`/proc/${pid}`), 60_000, 100)
    // Up again whatever happened meanwhile: the suite's later tests need it.
    const problem = await whileDown?.().then(
      () => {},
      (error: unknown) => error,
    )
    const started = await engineSh(['start', dir], {MOAT_TEST_ADDRESS_POOL: POOL})
    if (started.code !== 0) throw new Error(`engine.sh start ${dir} (restart) failed: ${started.stderr.trim().split('\n').at(-1)}`)
    if (problem) throw problem
  }

  return {
    docker,
    dockerOk,
    get host() {
      return host
    },
    restart,
    get socket() {
      return host.replace(/^unix:\/\//, '')
    },
  }
}
