// The engine set (issue 19) with two real private engines: the suite's test engine (E1, DOCKER_HOST) and a second
// one (E2) that only a run dir or a docker context names. The built CLI runs as a user would; where moat's default
// socket must be a real engine, or no engine at all, it runs as root in a private mount namespace (a tmpfs over
// /run, the test engine's socket bind-mounted where moat looks), so the machine's own /var/run/docker.sock is never
// touched. MOAT_SYSTEM_ENGINE_DISCOVERY=off (the suite's default, vitest.config.ts) is lifted only there.
import {spawnSync} from 'node:child_process'
import {createHash, randomBytes} from 'node:crypto'
import {existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterEach, beforeEach, expect, it} from 'vitest'

import {type CliResult, itemsByName, jsonOf, privateStateHome, runCli, startCli} from '../helpers/cli.js'
import {engineProxy} from '../helpers/engine-proxy.js'
import {containerExists, describeEngine, docker, dockerOk, networkExists, requireEngine, TEST_IMAGE} from '../helpers/engine.js'
import {createRunContainer, createRunNetwork, createWorkspaceVolume, makeRunDir} from '../helpers/moat-fixtures.js'
import {itAsRoot} from '../helpers/root.js'
import {useSecondEngine} from '../helpers/second-engine.js'
import {makeTempDir, makeTmpRoot, removeTmpRoot} from '../helpers/temp-fixtures.js'
import {CLI_MIN_AGE, CLI_MIN_AGE_MS, useEngineFixtures} from './shared-engine.js'

const BIN = fileURLToPath(new URL('../../bin/run.js', import.meta.url))

type Section = {items: Array<Record<string, unknown>>; target: string}

/** The items of a `clean --json` document by target, then by name and engine. */
function itemsOf(result: CliResult, target: string): Array<Record<string, unknown>> {
  return ((jsonOf(result).targets as Section[]).find((section) => section.target === target)?.items ?? [])
}

/** A unix socket file where nothing listens any more: what a dockerd killed with SIGKILL leaves behind. */
function deadSocket(dir: string): string {
  const path = join(dir, 'docker.sock')
  const script = `require('node:net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`
  spawnSync(process.execPath, ['-e', script])
  if (!existsSync(path)) throw new Error(`no socket left at ${path}`)
  return path
}

/** The `engine` an item of a pass over several engines names. */
function on(engine: string): {engine: string} {
  return {engine}
}

/** A tmpfs over /run (where /var/run leads): no engine of the machine is seen, only what `then` puts there. */
function hideRun(then = ''): string {
  return `mount -t tmpfs tmpfs ${realpathSync('/var/run')}\n${then}`
}

/** Shell lines that bind-mount the test engine's socket at `at` (inside the namespace only). */
function bindSocket(at: string): string {
  return `mkdir -p "$(dirname '${at}')" && touch '${at}' && mount --bind '${requireEngine().replace(/^unix:\/\//, '')}' '${at}'`
}

describeEngine('the engines a pass consults: each once, every object through its own (two real engines)', () => {
  const fixtures = useEngineFixtures()
  const {made, tracked} = fixtures
  const second = useSecondEngine()
  let scratch: string

  beforeEach(() => {
    scratch = mkdtempSync(join(tmpdir(), 'mse-'))
  })
  afterEach(() => {
    rmSync(scratch, {force: true, recursive: true})
  })

  /** The CLI as a user runs it: DOCKER_HOST names the test engine, the run dirs may name others. */
  const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    runCli(['system', ...args], {DOCKER_HOST: requireEngine(), MOAT_HOME: fixtures.moatHome, ...env})

  /** A removing run over this suite's fixtures: old enough, every other run on the test engine counted alive. */
  const forced = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
    await fixtures.waitUntilOld(CLI_MIN_AGE_MS)
    await fixtures.protectOtherRuns()
    return cli([...args, '--force', '--json', '--min-age', CLI_MIN_AGE], env)
  }

  /** A live run whose metadata.json names this engine (moat-resources.md §12.1: every Docker run records docker_host). */
  const runOn = (dockerHost: string) => makeRunDir(fixtures.moatHome, tracked(), {docker_host: dockerHost}) // eslint-disable-line camelcase

  it('every target removes the second engine\'s orphans through that engine and leaves the same names on the first alone', async () => {
    await runOn(second.host)
    const ended = tracked()
    // On E2, everything an ended run leaves: its container, BuildKit sidecar, export helper, network and volume.
    await second.dockerOk(['create', '--name', ended, TEST_IMAGE, 'true'])
    await second.dockerOk(['create', '--name', `moat-buildkit-${ended}`, '--label', `moat.run-id=${ended}`, '--label', 'moat.role=buildkit-sidecar', TEST_IMAGE, 'true'])
    const helper = `moat-export_${randomBytes(6).toString('hex')}`
    await second.dockerOk(['create', '--name', helper, TEST_IMAGE, 'true'])
    await second.dockerOk(['network', 'create', '--label', 'moat.managed=true', `moat-${ended}`])
    await second.dockerOk(['volume', 'create', '--label', 'moat=workspace', `moat-ws-${ended}`])
    await second.dockerOk(['run', '--rm', '--volume', `moat-ws-${ended}:/w`, TEST_IMAGE, 'sh', '-c', 'echo E2 work > /w/work.txt'])
    // On E1, objects of the same names, in use: a running container on the network, with the volume mounted.
    const volume = await createWorkspaceVolume(ended, {'work.txt': 'E1 work\n'})
    await createRunNetwork(ended)
    const running = await made(createRunContainer(ended, {mounts: [`${volume}:/w`], network: `moat-${ended}`}))

    const result = await forced(['clean', '--include', 'volumes', '--skip', 'state,temp'])
    expect(result.exitCode, result.stderr).toBe(0)
    // The backup is of the volume removed: the second engine's files, not its namesake's on the first engine.
    const volumes = itemsOf(result, 'volumes').filter((item) => item.name === volume)
    const removed = volumes.find((item) => item.decision === 'removed')!
    expect(spawnSync('tar', ['-xzOf', removed.backup as string, `${volume}/work.txt`], {encoding: 'utf8'}).stdout).toBe('E2 work\n')
    const [e1, e2] = [requireEngine(), second.host]
    expect(itemsOf(result, 'containers')).toEqual(
      expect.arrayContaining([
        expect.objectContaining({...on(e2), decision: 'removed', name: ended}),
        expect.objectContaining({...on(e1), decision: 'kept', id: running, name: ended, reason: 'running: pass --include-running'}),
      ]),
    )
    expect(itemsOf(result, 'sidecars')).toEqual([expect.objectContaining({...on(e2), decision: 'removed', name: `moat-buildkit-${ended}`})])
    expect(itemsOf(result, 'helpers').filter((item) => item.name === helper)).toEqual([expect.objectContaining({...on(e2), decision: 'removed'})])
    expect(itemsOf(result, 'networks').filter((item) => item.name === `moat-${ended}`)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({...on(e2), decision: 'removed'}),
        expect.objectContaining({...on(e1), decision: 'kept', reason: expect.stringMatching(/^in use: running container/)}),
      ]),
    )
    expect(volumes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({...on(e2), decision: 'removed'}),
        expect.objectContaining({...on(e1), decision: 'kept', reason: `in use by container ${ended} (running)`}),
      ]),
    )
    // Never one object judged twice or removed through the wrong engine (that shows as "gone before removal").
    const all = (jsonOf(result).targets as Section[]).flatMap((section) => section.items)
    expect(all.filter((item) => String(item.outcome ?? '').startsWith('drift'))).toEqual([])

    expect((await second.dockerOk(['ps', '--all', '--quiet'])).split('\n').filter(Boolean)).toEqual([])
    expect(await second.dockerOk(['network', 'ls', '--quiet', '--filter', `name=moat-${ended}`])).toBe('')
    expect(await second.dockerOk(['volume', 'ls', '--quiet', '--filter', `name=${volume}`])).toBe('')
    expect(await containerExists(running)).toBe(true)
    expect(await networkExists(`moat-${ended}`)).toBe(true)
    expect(await dockerOk(['run', '--rm', '--volume', `${volume}:/w`, TEST_IMAGE, 'cat', '/w/work.txt'])).toBe('E1 work')
  })

  it('case 2: a volume on the engine a run dir names is backed up from that engine, and no empty namesake appears on the default one', async () => {
    await runOn(second.host)
    const ended = tracked()
    const volume = `moat-ws-${ended}`
    await second.dockerOk(['volume', 'create', '--label', 'moat=workspace', volume])
    await made(second.dockerOk(['run', '--rm', '--volume', `${volume}:/w`, TEST_IMAGE, 'sh', '-c', 'mkdir /w/src && echo package main > /w/src/main.go']))

    const result = await forced(['clean-volumes'])
    expect(result.exitCode, result.stderr).toBe(0)
    const item = itemsByName(result)[volume]!
    expect(item).toMatchObject({decision: 'removed', engine: second.host, outcome: `backed up to ${item.backup as string}, removed`})
    const listed = spawnSync('tar', ['-tzf', item.backup as string], {encoding: 'utf8'}).stdout.split('\n').filter(Boolean).sort()
    expect(listed).toEqual([`${volume}/`, `${volume}/src/`, `${volume}/src/main.go`])
    expect(spawnSync('tar', ['-xzOf', item.backup as string, `${volume}/src/main.go`], {encoding: 'utf8'}).stdout).toBe('package main\n')
    expect(await second.dockerOk(['volume', 'ls', '--quiet', '--filter', `name=${volume}`])).toBe('')
    // Nothing was made on the default engine: no volume of that name, no helper left.
    expect((await docker(['volume', 'inspect', volume])).exitCode).toBe(1)
    expect(await dockerOk(['ps', '--all', '--quiet', '--filter', 'label=moat-system.volume-backup'])).toBe('')
  })

  it('case 4: the default engine named again through a symlink, doubled slashes and a proxy is one engine, each object judged once', async () => {
    const socket = requireEngine().replace(/^unix:\/\//, '')
    const link = join(scratch, 'link.sock')
    symlinkSync(socket, link)
    const proxy = await engineProxy()
    try {
      for (const host of [`unix://${link}`, `unix:///${socket.replaceAll('/', '//').slice(1)}`, proxy.host]) await runOn(host)
      const ended = tracked()
      const network = await made(createRunNetwork(ended))
      await fixtures.waitUntilOld(CLI_MIN_AGE_MS)
      await fixtures.protectOtherRuns()
      // Not runCli: the proxy answers from this process, which a blocking spawn would stall.
      const result = await startCli(['system', 'clean-networks', '--force', '--json', '--min-age', CLI_MIN_AGE], {DOCKER_HOST: requireEngine(), MOAT_HOME: fixtures.moatHome})
      expect(result.exitCode, result.stderr).toBe(0)
      const items = (jsonOf(result).items as Array<Record<string, unknown>>).filter((item) => item.name === `moat-${ended}`)
      expect(items).toEqual([expect.objectContaining({decision: 'removed', id: network, outcome: 'removed'})])
      expect(items[0]!.engine).toBeUndefined()
      expect(await networkExists(network)).toBe(false)

      const status = await startCli(['system', 'status', '--json', '--tmp-dir', scratch], {DOCKER_HOST: requireEngine(), MOAT_HOME: fixtures.moatHome})
      const {engines} = jsonOf(status) as {engines: Array<{addresses: Array<{address: string; source: string}>; answered: boolean; id?: string}>}
      expect(engines).toHaveLength(1)
      expect(engines[0]!.answered).toBe(true)
      expect(engines[0]!.id).toMatch(/\S/)
      expect(engines[0]!.addresses.map((entry) => entry.address).sort()).toEqual(
        [requireEngine(), `unix://${link}`, `unix:///${socket.replaceAll('/', '//').slice(1)}`, proxy.host].sort(),
      )
      expect(engines[0]!.addresses.find((entry) => entry.address === requireEngine())!.source).toBe('DOCKER_HOST')
      expect(engines[0]!.addresses.find((entry) => entry.address === proxy.host)!.source).toMatch(/^docker_host of run run_[0-9a-f]{12}$/)
      const text = await startCli(['system', 'status', '--tmp-dir', scratch], {DOCKER_HOST: requireEngine(), MOAT_HOME: fixtures.moatHome})
      expect(text.stdout).toMatch(/^engine docker \S+: unix:.*: one engine at 4 addresses$/m)
      // --verbose says the same under a clean's report.
      const verbose = await startCli(['system', 'clean-networks', '--dry-run', '--verbose'], {DOCKER_HOST: requireEngine(), MOAT_HOME: fixtures.moatHome})
      expect(verbose.stdout).toMatch(new RegExp(`^engine docker \\S+: ${requireEngine()} \\(DOCKER_HOST\\), .*: one engine at 4 addresses$`, 'm'))
    } finally {
      await proxy.close()
    }
  })

  it('case 6: an engine a run names that is down keeps only its own objects: the others are cleaned, exit 3, the notes name it and its source', async () => {
    const dead = deadSocket(scratch)
    await runOn(`unix://${dead}`)
    const deadRun = fixtures.tracked()
    await makeRunDir(fixtures.moatHome, deadRun, {docker_host: `unix://${dead}`}) // eslint-disable-line camelcase
    const ended = tracked()
    const network = await made(createRunNetwork(ended))

    for (const runtime of ['docker', 'auto']) {
      const result = await forced(['clean-networks', '--runtime', runtime])
      expect(result.exitCode, result.stderr).toBe(3)
      const doc = jsonOf(result)
      expect(doc.partial).toEqual([expect.stringMatching(new RegExp(`^Docker engine unreachable: .*${dead}.*\\[unix://${dead} \\(docker_host of runs run_[0-9a-f]{12}, run_[0-9a-f]{12}\\)\\]; skipped: none of its resources is judged\\.$`))])
      expect(doc.warnings).toEqual(expect.arrayContaining(doc.partial as string[]))
      if (runtime === 'docker') expect(itemsByName(result)[`moat-${ended}`]).toMatchObject({decision: 'removed'})
    }

    expect(await networkExists(network)).toBe(false)
    const human = cli(['clean-networks', '--dry-run', '--verbose'])
    expect(human.exitCode).toBe(3)
    expect(human.stdout).toContain('Partial: an engine did not answer; nothing of it was judged (see the notes).\n')
    expect(human.stdout).toMatch(new RegExp(`^engine \\(did not answer\\): unix://${dead} \\(docker_host of runs `, 'm'))
    expect(human.stderr).toMatch(new RegExp(`^Note: Docker engine unreachable: .*\\[unix://${dead} \\(docker_host of runs .*\\]; skipped: none of its resources is judged\\.$`, 'm'))
    const status = cli(['status', '--json', '--tmp-dir', scratch])
    expect(status.exitCode).toBe(3)
    expect(jsonOf(status).engines).toEqual([
      expect.objectContaining({addresses: [{address: requireEngine(), source: 'DOCKER_HOST'}], answered: true, kind: 'docker'}),
      {addresses: [{address: `unix://${dead}`, source: expect.stringMatching(/^docker_host of runs /)}], answered: false, error: expect.stringMatching(/ECONNREFUSED/), kind: 'unknown'},
    ])
    expect(cli(['status', '--tmp-dir', scratch]).stdout).toMatch(new RegExp(`^engine \\(did not answer\\): unix://${dead} \\(docker_host of runs .*ECONNREFUSED`, 'm'))

    const metrics = join(scratch, 'moat-system.prom')
    const reap = cli(['reap', '--once', '--runtime', 'docker', '--only', 'networks', '--metrics-file', metrics, '--log-file', join(scratch, 'reap.log')])
    expect(reap.exitCode).toBe(3)
    const text = readFileSync(metrics, 'utf8')
    expect(text).toContain(`moat_system_engine_up{engine="unix://${dead}",kind="unknown"} 0\n`)
    expect(text).toMatch(new RegExp(`^moat_system_engine_up\\{engine="${requireEngine()}",id="[^"]+",kind="docker"\\} 1$`, 'm'))
    expect(text).toContain('moat_system_last_pass_success 0\n')
  })

  /** The built CLI as root in a private mount namespace: `setup` (sh) runs first, DOCKER_HOST unset, engines looked for. */
  function inNamespace(setup: string, args: string[], env: NodeJS.ProcessEnv = {}): CliResult {
    const base: NodeJS.ProcessEnv = {
      ...process.env,
      MOAT_HOME: fixtures.moatHome,
      MOAT_SYSTEM_ENGINE_DISCOVERY: undefined,
      // The journal of removing passes, as every CLI run of the tests: never the real ~/.local/state.
      XDG_STATE_HOME: privateStateHome(),
      ...env,
    }
    delete base.DOCKER_HOST
    delete base.DOCKER_CONTEXT
    const result = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-ec', `${setup}\nexec "$0" "$@"`, process.execPath, BIN, 'system', ...args], {
      encoding: 'utf8',
      env: base,
      input: '',
      timeout: 60_000,
    })
    if (result.error) throw result.error
    return {exitCode: result.status ?? -1, stderr: result.stderr, stdout: result.stdout}
  }


  /** A docker CLI configuration whose current context names the second engine (Docker Desktop, colima, a remote builder). */
  function contextOnSecondEngine(): string {
    const config = join(scratch, 'docker-config')
    mkdirSync(config)
    const env = {...process.env, DOCKER_CONFIG: config, DOCKER_CONTEXT: undefined, DOCKER_HOST: undefined}
    for (const args of [['context', 'create', 'elsewhere', '--docker', `host=${second.host}`], ['context', 'use', 'elsewhere']]) {
      const made = spawnSync('docker', args, {encoding: 'utf8', env})
      if (made.status !== 0) throw new Error(`docker ${args.join(' ')}: ${made.stderr}`)
    }

    const id = createHash('sha256').update('elsewhere').digest('hex')
    expect(JSON.parse(readFileSync(join(config, 'contexts', 'meta', id, 'meta.json'), 'utf8')).Endpoints.docker.Host).toBe(second.host)
    return config
  }

  itAsRoot('case 1: the docker context names another engine than the default socket moat uses: a dir a container there mounts is kept', async () => {
    const root = realpathSync(makeTmpRoot())
    try {
      const mounted = makeTempDir(root, 'moat-aws-1')
      const free = makeTempDir(root, 'moat-aws-2')
      const runId = tracked()
      await createRunContainer(runId, {mounts: [`${mounted}:/moat/aws:ro`]})
      const config = contextOnSecondEngine()
      const setup = hideRun(bindSocket('/var/run/docker.sock'))
      const result = inNamespace(setup, ['clean-temp', '--tmp-dir', root, '--force', '--json'], {DOCKER_CONFIG: config})
      expect(result.exitCode, result.stderr).toBe(0)
      const items = itemsByName(result)
      expect(items[mounted]).toMatchObject({decision: 'kept', reason: `bind-mounted into running container ${runId} (docker: ${mounted})`})
      expect(items[free]).toMatchObject({decision: 'removed'})
      expect(readdirSync(mounted).sort()).toEqual(['config', 'credentials', 'sub'])

      const status = inNamespace(setup, ['status', '--json', '--tmp-dir', scratch], {DOCKER_CONFIG: config})
      expect(jsonOf(status).engines).toEqual([
        expect.objectContaining({addresses: [{address: 'unix:///var/run/docker.sock', source: 'the default socket'}], answered: true}),
        expect.objectContaining({addresses: [{address: second.host, source: 'docker context "elsewhere"'}], answered: true}),
      ])
    } finally {
      removeTmpRoot(root)
    }
  })

  itAsRoot('case 5: --runtime docker that finds no engine keeps every temp dir (clean-temp, reap --once); only auto decides on age alone', () => {
    const root = realpathSync(makeTmpRoot())
    try {
      const dirs = [1, 2, 3, 4].map((n) => makeTempDir(root, `moat-aws-${n}`))
      const config = join(scratch, 'no-contexts')
      mkdirSync(config)
      const env = {DOCKER_CONFIG: config}
      const temp = inNamespace(hideRun(), ['clean-temp', '--runtime', 'docker', '--tmp-dir', root, '--force', '--json'], env)
      expect(temp.exitCode, temp.stderr).toBe(0)
      for (const dir of dirs) {
        expect(itemsByName(temp)[dir]).toMatchObject({decision: 'kept', reason: expect.stringMatching(/^--runtime docker: no Docker engine found here .*: kept$/)})
      }

      const reap = inNamespace(hideRun(), ['reap', '--once', '--runtime', 'docker', '--tmp-dir', root, '--json', '--log-file', join(scratch, 'reap.log')], env)
      const temps = (jsonOf(reap).targets as Section[]).find((section) => section.target === 'temp')!
      expect(temps.items.map((item) => item.decision)).toEqual(['kept', 'kept', 'kept', 'kept'])
      for (const dir of dirs) expect(existsSync(dir)).toBe(true)

      const auto = inNamespace(hideRun(), ['clean-temp', '--tmp-dir', root, '--force', '--json'], env)
      expect(jsonOf(auto)).toMatchObject({totals: {removed: 4}, warnings: [expect.stringMatching(/^No container runtime on this host/)]})
    } finally {
      removeTmpRoot(root)
    }
  })

  itAsRoot('case 5: a rootless Docker at $XDG_RUNTIME_DIR/docker.sock (or /run/user/<uid>, as cron has no XDG_RUNTIME_DIR) is asked without DOCKER_HOST', async () => {
    const root = realpathSync(makeTmpRoot())
    try {
      const runId = tracked()
      const mounted = makeTempDir(root, 'moat-claude-1')
      await createRunContainer(runId, {mounts: [`${mounted}:/home/agent/.claude:ro`]})
      const config = join(scratch, 'no-contexts')
      mkdirSync(config)
      const xdg = join(scratch, 'xdg')
      const uid = process.getuid!()
      for (const [setup, env] of [
        [hideRun(bindSocket(join(xdg, 'docker.sock'))), {XDG_RUNTIME_DIR: xdg}],
        [hideRun(bindSocket(`/run/user/${uid}/docker.sock`)), {XDG_RUNTIME_DIR: undefined}],
      ] as const) {
        const result = inNamespace(setup, ['clean-temp', '--tmp-dir', root, '--force', '--json'], {...env, DOCKER_CONFIG: config})
        expect(result.exitCode, result.stderr).toBe(0)
        expect(itemsByName(result)[mounted]).toMatchObject({decision: 'kept', reason: expect.stringMatching(new RegExp(`^bind-mounted into running container ${runId} `))})
      }

      expect(existsSync(mounted)).toBe(true)
    } finally {
      removeTmpRoot(root)
    }
  })
})
