// `reap --metrics-file` as a fleet would run it: the built binary against the test engine, the file read back with a
// real Prometheus text-format parser (parse-prometheus-text-format, a port of prom2json's), and its atomic
// replacement by rename checked on the file system.
import {spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, statSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import parsePrometheusTextFormat, {type MetricFamily} from 'parse-prometheus-text-format'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {CLI_MIN_AGE, CLI_MIN_AGE_MS, systemCommand, useEngineFixtures} from '../engine/shared-engine.js'
import {runCli, startCli} from '../helpers/cli.js'
import {describeEngine, dockerOk, networkExists} from '../helpers/engine.js'
import {createRunNetwork} from '../helpers/moat-fixtures.js'
import {isRoot} from '../helpers/root.js'
import {makeTempDir, makeTmpRoot, removeTmpRoot} from '../helpers/temp-fixtures.js'
import {until} from '../helpers/until.js'

const BIN = fileURLToPath(new URL('../../bin/run.js', import.meta.url))
/** Where Docker's engine is when nothing says otherwise (moat-resources.md §12.1). */
const DEFAULT_SOCKET = '/var/run/docker.sock'
const HOST_HAS_DOCKER_SOCKET = existsSync(DEFAULT_SOCKET)

let root: string
let dir: string
let file: string

beforeEach(() => {
  root = makeTmpRoot()
  dir = makeTmpRoot()
  file = join(dir, 'moat-system.prom')
})
afterEach(() => {
  removeTmpRoot(root)
  removeTmpRoot(dir)
})

/** The file parsed; every family has HELP and TYPE and every name the moat_system_ prefix. */
function metrics(): Map<string, MetricFamily> {
  const families = parsePrometheusTextFormat(readFileSync(file, 'utf8'))
  for (const family of families) {
    expect(family.name).toMatch(/^moat_system_[a-z_]+$/)
    expect(family.help).not.toBe('')
    expect(['COUNTER', 'GAUGE']).toContain(family.type)
  }

  return new Map(families.map((family) => [family.name, family]))
}

/** The one sample of `name` whose labels include these. */
function value(families: Map<string, MetricFamily>, name: string, labels: Record<string, string> = {}): number | undefined {
  const samples = families.get(name)?.metrics.filter((sample) => Object.entries(labels).every(([key, v]) => sample.labels?.[key] === v))
  if (!samples || samples.length === 0) return undefined
  expect(samples).toHaveLength(1)
  return Number(samples[0]!.value)
}


describeEngine('moat system reap --metrics-file', () => {
  const fixtures = useEngineFixtures()
  const reap = systemCommand('reap', fixtures)

  it('after each pass: per target and runtime counts, pass times, pool usage; kept across --once runs; replaced by rename', async () => {
    const temp = makeTempDir(root, 'moat-aws-1')
    const network = await fixtures.made(createRunNetwork(fixtures.tracked()))
    await fixtures.waitUntilOld(CLI_MIN_AGE_MS)
    await fixtures.protectOtherRuns()
    const args = ['--once', '--tmp-dir', root, '--min-age', CLI_MIN_AGE, '--metrics-file', file, '--log-file', join(root, 'reap.log')]

    const before = Math.floor(Date.now() / 1000)
    expect(reap.run([...args, '--dry-run']).exitCode).toBe(0)
    const dry = metrics()
    expect(value(dry, 'moat_system_pass_orphans', {runtime: 'docker', target: 'networks'})).toBe(1)
    expect(value(dry, 'moat_system_pass_orphans', {runtime: 'host', target: 'temp'})).toBe(1)
    expect(value(dry, 'moat_system_pass_removed', {runtime: 'docker', target: 'networks'})).toBe(0)
    for (const target of ['containers', 'sidecars', 'helpers', 'networks']) {
      expect(value(dry, 'moat_system_pass_found', {runtime: 'docker', target})).toBeGreaterThanOrEqual(0)
    }

    expect(value(dry, 'moat_system_passes_total')).toBe(1)
    expect(dry.get('moat_system_passes_total')!.type).toBe('COUNTER')
    expect(value(dry, 'moat_system_last_pass_success')).toBe(1)
    const firstPass = value(dry, 'moat_system_last_pass_timestamp_seconds')!
    expect(firstPass).toBeGreaterThanOrEqual(before)
    expect(value(dry, 'moat_system_last_success_timestamp_seconds')).toBe(firstPass)
    // The pool as the engine itself states it, and the networks in it now.
    const [pool] = JSON.parse(await dockerOk(['info', '--format', '{{json .DefaultAddressPools}}'])) as Array<{Base: string; Size: number}>
    const capacity = 2 ** (pool!.Size - Number(pool!.Base.split('/')[1]))
    const bridges = (await dockerOk(['network', 'ls', '--quiet', '--filter', 'driver=bridge'])).split('\n').filter(Boolean).length
    expect(value(dry, 'moat_system_address_pool_subnets', {runtime: 'docker'})).toBe(capacity)
    expect(value(dry, 'moat_system_address_pool_subnets_used', {runtime: 'docker'})).toBe(bridges)
    expect(value(dry, 'moat_system_address_pool_subnets_moat_orphans', {runtime: 'docker'})).toBe(1)

    const inode = statSync(file).ino
    expect(reap.run(args).exitCode).toBe(0)
    const real = metrics()
    expect(await networkExists(network)).toBe(false)
    expect(value(real, 'moat_system_pass_removed', {runtime: 'docker', target: 'networks'})).toBe(1)
    expect(value(real, 'moat_system_pass_removed', {runtime: 'host', target: 'temp'})).toBe(1)
    expect(value(real, 'moat_system_pass_removed_bytes', {runtime: 'host', target: 'temp'})).toBe(18)
    expect(value(real, 'moat_system_pass_orphans', {runtime: 'docker', target: 'networks'})).toBe(0)
    expect(value(real, 'moat_system_address_pool_subnets_used', {runtime: 'docker'})).toBe(bridges - 1)
    expect(value(real, 'moat_system_address_pool_subnets_moat_orphans', {runtime: 'docker'})).toBe(0)
    expect(value(real, 'moat_system_passes_total')).toBe(2)
    const success = value(real, 'moat_system_last_success_timestamp_seconds')!
    expect(success).toBeGreaterThanOrEqual(firstPass)
    expect(value(real, 'moat_system_pass_duration_seconds')).toBeGreaterThan(0)
    expect(statSync(temp, {throwIfNoEntry: false})).toBeUndefined()
    // Replaced, not rewritten in place: a new inode, and no temp file left beside it.
    expect(statSync(file).ino).not.toBe(inode)
    expect(readdirSync(dir)).toEqual(['moat-system.prom'])

    // A pass whose engine does not answer drops the engine targets: not a success, and the last success stays.
    await new Promise((resolve) => {
      setTimeout(resolve, 1100)
    })
    const down = reap.run([...args, '--runtime', 'docker'], {DOCKER_HOST: `unix://${join(root, 'no-engine.sock')}`})
    expect(down.exitCode).toBe(0)
    const failed = metrics()
    expect(value(failed, 'moat_system_last_pass_success')).toBe(0)
    expect(value(failed, 'moat_system_last_success_timestamp_seconds')).toBe(success)
    expect(value(failed, 'moat_system_last_pass_timestamp_seconds')).toBeGreaterThan(success)
    expect(value(failed, 'moat_system_passes_total')).toBe(3)
    expect(failed.has('moat_system_address_pool_subnets')).toBe(false)
    expect(value(failed, 'moat_system_pass_found', {target: 'networks'})).toBeUndefined()
    expect(value(failed, 'moat_system_pass_found', {runtime: 'host', target: 'temp'})).toBe(0)
  })
})

describe('moat system reap --metrics-file, without an engine', () => {
  const temps = ['--only', 'temp']

  it('a file that cannot be written is a usage error at start (exit 2), before any pass', () => {
    const missing = runCli(['system', 'reap', '--once', ...temps, '--tmp-dir', root, '--metrics-file', join(dir, 'nope', 'm.prom')], {MOAT_HOME: dir})
    expect(missing.exitCode).toBe(2)
    expect(missing.stderr).toMatch(/^Error: --metrics-file: the directory .*nope does not exist/m)
    mkdirSync(join(dir, 'a-dir.prom'))
    const directory = runCli(['system', 'reap', '--once', ...temps, '--tmp-dir', root, '--metrics-file', join(dir, 'a-dir.prom')], {MOAT_HOME: dir})
    expect(directory.exitCode).toBe(2)
    expect(directory.stderr).toMatch(/a-dir\.prom is a directory/)
  })

  it('a write that fails later is a note in the audit log, and the reaper goes on', async () => {
    const home = makeTmpRoot()
    const log = join(home, 'reap.log')
    const reaper = startCli(['system', 'reap', '--interval', '1s', ...temps, '--tmp-dir', root, '--metrics-file', file, '--log-file', log], {MOAT_HOME: home})
    const lines = () => readFileSync(log, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>)
    try {
      await until('the first metrics file', () => statSync(file, {throwIfNoEntry: false}) !== undefined)
      removeTmpRoot(dir)
      await until('the note that the metrics file cannot be written', () =>
        lines().some((line) => line.event === 'note' && /metrics file .* cannot be written \(ENOENT\)/.test(line.message as string)),
      )
      const passes = lines().filter((line) => line.event === 'pass').length
      await until('another pass', () => lines().filter((line) => line.event === 'pass').length > passes)
    } finally {
      reaper.child.kill('SIGTERM')
    }

    expect((await reaper).exitCode).toBe(0)
    removeTmpRoot(home)
  })

  it('a reader never sees a partial file while a reaper rewrites it every second', async () => {
    const reaper = startCli(['system', 'reap', '--interval', '1s', ...temps, '--tmp-dir', root, '--metrics-file', file], {MOAT_HOME: dir})
    const inodes = new Set<number>()
    const passes = new Set<string>()
    let reads = 0
    try {
      // Until three passes have written the file, not for a fixed time from the start: on a loaded machine the
      // start-up and each pass take longer.
      const deadline = Date.now() + 60_000
      while (passes.size < 3) {
        if (Date.now() > deadline) throw new Error(`only ${passes.size} passes wrote the file in 60 s`)
        let text: string
        try {
          text = readFileSync(file, 'utf8')
          inodes.add(statSync(file).ino)
        } catch {
          // Not written yet.
          await new Promise((resolve) => {
            setTimeout(resolve, 5)
          })
          continue
        }

        reads++
        // Whole every time: it ends with the last family's sample and a newline.
        const total = /\nmoat_system_passes_total (\d+)\n$/.exec(text)
        expect(total, text).not.toBeNull()
        passes.add(total![1]!)
        expect(parsePrometheusTextFormat(text).length).toBeGreaterThanOrEqual(6)
      }
    } finally {
      reaper.child.kill('SIGTERM')
    }

    expect((await reaper).exitCode).toBe(0)
    expect(reads).toBeGreaterThan(100)
    // At least three passes, each file a new inode.
    expect(inodes.size).toBeGreaterThanOrEqual(3)
    expect(readdirSync(dir).filter((name) => !name.startsWith('.moat-system.lock'))).toEqual(['moat-system.prom'])
  })
})

/**
 * `reap` on a host with no container runtime at all: no DOCKER_HOST, no docker context (an empty DOCKER_CONFIG), no
 * Apple `container` CLI on PATH, and no socket at Docker's default address. Where this host has one, the run gets a
 * private mount namespace (root) whose tmpfs hides it; the machine's own socket is never asked.
 */
function reapOnBareHost(args: string[], home: string, env: NodeJS.ProcessEnv = {}): {exitCode: null | number; stderr: string} {
  const dockerConfig = join(home, 'docker-config')
  mkdirSync(dockerConfig, {recursive: true})
  // XDG_STATE_HOME: the journal of the pass stays in this test's home, never in the real ~/.local/state.
  const base: NodeJS.ProcessEnv = {
    ...process.env,
    DOCKER_CONFIG: dockerConfig,
    MOAT_HOME: home,
    PATH: [dirname(process.execPath), '/usr/bin', '/bin'].join(':'),
    XDG_STATE_HOME: join(home, 'state'),
  }
  delete base.DOCKER_HOST
  delete base.DOCKER_CONTEXT
  const command = [process.execPath, BIN, 'system', 'reap', ...args]
  const hide = ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs none "$0" && exec "$@"']
  const [program, ...rest] = HOST_HAS_DOCKER_SOCKET ? [...hide, dirname(realpathSync(DEFAULT_SOCKET)), ...command] : command
  const result = spawnSync(program!, rest, {encoding: 'utf8', env: {...base, ...env}, input: '', timeout: 60_000})
  return {exitCode: result.status, stderr: result.stderr}
}

describe('moat system reap --metrics-file, on a host with no container runtime at all', () => {
  it.skipIf(HOST_HAS_DOCKER_SOCKET && !isRoot)(
    `a pass that ran every target that applies (temp dirs, state) is a success; one whose engine is configured but silent is not${HOST_HAS_DOCKER_SOCKET && !isRoot ? ` [skipped: needs root to hide ${DEFAULT_SOCKET} in a private mount namespace]` : ''}`,
    async () => {
      const home = makeTmpRoot()
      try {
        mkdirSync(join(home, 'runs'))
        const log = join(home, 'reap.log')
        const args = ['--once', '--tmp-dir', root, '--metrics-file', file, '--log-file', log]
        const bare = reapOnBareHost(args, home)
        expect(bare.exitCode, bare.stderr).toBe(0)
        // The engine targets were dropped for want of any runtime, not for a runtime that did not answer.
        expect(readFileSync(log, 'utf8')).toContain('"message":"No container runtime found: no Docker engine configured')
        const first = metrics()
        expect(value(first, 'moat_system_pass_found', {runtime: 'host', target: 'temp'})).toBe(0)
        expect(value(first, 'moat_system_pass_found', {target: 'networks'})).toBeUndefined()
        expect(value(first, 'moat_system_last_pass_success')).toBe(1)
        const success = value(first, 'moat_system_last_success_timestamp_seconds')!
        expect(success).toBe(value(first, 'moat_system_last_pass_timestamp_seconds'))

        // An engine that is configured but does not answer is not "no runtime": those targets applied and did not run.
        await new Promise((resolve) => {
          setTimeout(resolve, 1100)
        })
        const silent = reapOnBareHost(args, home, {DOCKER_HOST: `unix://${join(home, 'no-engine.sock')}`})
        expect(silent.exitCode, silent.stderr).toBe(0)
        const second = metrics()
        expect(value(second, 'moat_system_last_pass_success')).toBe(0)
        expect(value(second, 'moat_system_last_success_timestamp_seconds')).toBe(success)
        expect(value(second, 'moat_system_last_pass_timestamp_seconds')).toBeGreaterThan(success)
      } finally {
        removeTmpRoot(home)
      }
    },
  )
})
