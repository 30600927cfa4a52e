import {existsSync, readFileSync, realpathSync} from 'node:fs'
import {afterEach, beforeEach, expect, it} from 'vitest'

import {DEFAULT_KINDS, listKinds, TARGETS} from '../../src/lib/targets/index.js'
import {jsonOf, runCli, startCli} from '../helpers/cli.js'
import {containerExists, describeEngine, docker, dockerOk, engineEnv, networkExists, TEST_IMAGE} from '../helpers/engine.js'
import {
  createRunContainer,
  createRunNetwork,
  createSidecar,
  makeRunDir,
  newRunId,
  trackRunIds,
  useMoatHome,
} from '../helpers/moat-fixtures.js'
import {makeTempDir, makeTmpRoot, removeTmpRoot} from '../helpers/temp-fixtures.js'
import {until} from '../helpers/until.js'

// From the registry, so a new target does not break these assertions: the ones clean runs, and those needing an engine.
const ENGINE_KINDS: readonly string[] = TARGETS.filter((spec) => spec.byDefault && spec.needsRuntime).map((spec) => spec.kind)

// Before the afterEach below, so that each test's MOAT_HOME is removed last.
const moat = useMoatHome()
let root: string
const extraContainers: string[] = []
const extraNetworks: string[] = []

beforeEach(() => {
  root = realpathSync(makeTmpRoot())
})

afterEach(async () => {
  if (extraContainers.length > 0) await docker(['rm', '--force', ...extraContainers.splice(0)])
  for (const network of extraNetworks.splice(0)) await docker(['network', 'rm', network])
  removeTmpRoot(root)
})

// After the afterEach above, so that each test's runs are removed first.
const runIds = trackRunIds()

async function stopped(id: string): Promise<void> {
  await dockerOk(['stop', '--time', '0', id])
}

/** One moat run as moat leaves it: main container, BuildKit sidecar, a postgres service, the run network. */
async function makeRun(live: boolean) {
  const runId = runIds.next()
  const network = await createRunNetwork(runId)
  const temp = makeTempDir(root, `moat-aws-${runIds.ids.length}${Date.now() % 100_000}`)
  const main = await createRunContainer(runId, {mounts: [`${temp}:/moat/aws:ro`], network: `moat-${runId}`, running: live})
  const buildkit = await createSidecar(runId, {network: `moat-${runId}`, role: 'buildkit-sidecar'})
  const service = await createSidecar(runId, {network: `moat-${runId}`, role: 'service', service: 'postgres'})
  // eslint-disable-next-line camelcase -- moat's field names
  await (live ? makeRunDir(moat.home, runId, {container_id: main, network_id: network, state: 'running'}) : stopped(service))

  return {buildkit, main, network, runId, service, temp}
}

describeEngine('moat system clean', () => {
  it('removes exactly the dead runs\' containers, sidecars, services, networks and temp dirs in one pass', async () => {
    const dead = [await makeRun(false), await makeRun(false), await makeRun(false)]
    const live = [await makeRun(true), await makeRun(true)]
    // Non-moat look-alikes that must survive.
    const lookAlikes = await Promise.all([
      dockerOk(['create', '--name', `moat-buildkit-x${Date.now() % 100_000}`, TEST_IMAGE, 'true']),
      dockerOk(['create', '--name', `run_XYZ${Date.now() % 100_000}`, TEST_IMAGE, 'true']),
      dockerOk(['create', '--name', `moat-postgres-${newRunId()}`, TEST_IMAGE, 'true']), // no labels
    ])
    extraContainers.push(...lookAlikes)
    const shared = await dockerOk(['network', 'create', `moat-shared-${Date.now() % 100_000}`])
    const unlabelled = await dockerOk(['network', 'create', `moat-${newRunId()}`])
    extraNetworks.push(shared, unlabelled)

    const result = runCli(
      ['system', 'clean', '--force', '--json', '--min-age', '0s', '--tmp-dir', root, '--max-delete', '1000'],
      engineEnv({MOAT_HOME: moat.home}),
    )
    expect(result.exitCode).toBe(0)
    const doc = jsonOf(result) as {targets: Array<{target: string; totals: {failed: number; removed: number}}>}
    expect(doc.targets.map((section) => section.target)).toEqual(DEFAULT_KINDS)
    const fixtureKinds = new Set(['containers', 'networks', 'sidecars', 'temp'])
    const sections = doc.targets.filter((section) => fixtureKinds.has(section.target))
    expect(sections.map((section) => [section.target, section.totals.removed, section.totals.failed])).toEqual([
      ['containers', 3, 0],
      ['sidecars', 6, 0],
      ['networks', 3, 0],
      ['temp', 3, 0],
    ])
    for (const run of dead) {
      for (const id of [run.main, run.buildkit, run.service]) expect(await containerExists(id)).toBe(false)
      expect(await networkExists(run.network)).toBe(false)
      expect(existsSync(run.temp)).toBe(false)
    }

    for (const run of live) {
      for (const id of [run.main, run.buildkit, run.service]) expect(await containerExists(id)).toBe(true)
      expect(await networkExists(run.network)).toBe(true)
      expect(existsSync(run.temp)).toBe(true)
    }

    for (const id of lookAlikes) expect(await containerExists(id)).toBe(true)
    for (const id of [shared, unlabelled]) expect(await networkExists(id)).toBe(true)
  })

  it('--filter run=<id> cleans that dead run alone; run!=<id> all but that one; what is tied to no run stays either way', async () => {
    const [first, second, third] = [await makeRun(false), await makeRun(false), await makeRun(false)]
    const env = engineEnv({MOAT_HOME: moat.home})
    const clean = (filter: string) =>
      jsonOf(runCli(['system', 'clean', '--force', '--json', '--min-age', '0s', '--tmp-dir', root, '--filter', filter, '--only', 'containers,sidecars,networks,temp'], env)) as {
        filter: string[]
        targets: Array<{items: Array<Record<string, unknown>>; target: string}>
      }
    const itemOf = (doc: ReturnType<typeof clean>, target: string, name: string) =>
      doc.targets.find((section) => section.target === target)!.items.find((item) => item.name === name)
    const gone = async (run: typeof first) =>
      !(await networkExists(run.network)) && !(await Promise.all([run.main, run.buildkit, run.service].map((id) => containerExists(id)))).some(Boolean)

    const alone = clean(`run=${first.runId}`)
    expect(alone.filter).toEqual([`run=${first.runId}`])
    expect(itemOf(alone, 'containers', first.runId)).toMatchObject({decision: 'removed', reason: expect.stringMatching(/^run ended; /)})
    expect(itemOf(alone, 'containers', second.runId)).toMatchObject({decision: 'kept', reason: `--filter run=${first.runId}: of another run (${second.runId})`})
    // Its running sidecar, which the filter keeps, keeps its network too (the filter narrows the plan before networks are judged).
    expect(itemOf(alone, 'networks', `moat-${second.runId}`)).toMatchObject({decision: 'kept', reason: `in use: running container moat-buildkit-${second.runId} attached`})
    expect(itemOf(alone, 'temp', first.temp)).toMatchObject({decision: 'kept', reason: `--filter run=${first.runId}: tied to no run`})
    expect(await gone(first)).toBe(true)
    expect([await gone(second), await gone(third)]).toEqual([false, false])

    const allBut = clean(`run!=${second.runId}`)
    expect(itemOf(allBut, 'containers', second.runId)).toMatchObject({decision: 'kept', reason: `--filter run!=${second.runId}: of run ${second.runId}, kept as asked`})
    expect(itemOf(allBut, 'temp', second.temp)).toMatchObject({decision: 'kept', reason: `--filter run!=${second.runId}: tied to no run, so it may be that run's`})
    expect([await gone(second), await gone(third)]).toEqual([false, true])
    for (const run of [first, second, third]) expect(existsSync(run.temp)).toBe(true)
  })

  it('skips every engine target when the engine cannot be reached, names it, and keeps every temp dir it might mount', () => {
    const old = makeTempDir(root, 'moat-aws-1')
    const result = runCli(['system', 'clean', '--force', '--json', '--tmp-dir', root], {
      DOCKER_HOST: `unix://${root}/no-such.sock`,
      MOAT_HOME: moat.home,
    })
    expect(result.exitCode).toBe(0)
    const doc = jsonOf(result) as {targets: Array<{target: string}>; warnings: string[]}
    expect(doc.targets.map((section) => section.target)).toEqual(DEFAULT_KINDS.filter((kind) => !ENGINE_KINDS.includes(kind)))
    expect(doc.warnings.join('\n')).toContain(`Skipped: ${ENGINE_KINDS.join(', ')}.`)
    // DESIGN.md "Runtimes" and issue 9: an engine that cannot be asked may still run containers mounting the dir.
    const temp = (doc.targets as Array<{items: unknown[]; target: string}>).find((section) => section.target === 'temp')
    expect(temp?.items).toEqual([expect.objectContaining({decision: 'kept', id: old, reason: expect.stringMatching(/^docker is present here but cannot be asked/)})])
    expect(existsSync(old)).toBe(true)
  })

  it('--only and --skip choose targets; an unknown one is a usage error', () => {
    const only = runCli(['system', 'clean', '--dry-run', '--json', '--only', 'temp', '--tmp-dir', root], {MOAT_HOME: moat.home})
    expect((jsonOf(only) as {targets: Array<{target: string}>}).targets.map((s) => s.target)).toEqual(['temp'])
    const bad = runCli(['system', 'clean', '--dry-run', '--only', 'everything'], {MOAT_HOME: moat.home})
    expect(bad.exitCode).toBe(2)
    expect(bad.stderr).toContain(`--only: "everything" is not a target; use ${listKinds()} (e.g. --only networks,temp)`)
  })

  it.each([
    [['--only', 'temp', '--skip', 'temp'], '--only temp --skip temp leaves no target to run; skip fewer (e.g. --only networks,temp --skip temp)'],
    [['--only='], '--only: names no target; use '],
    [['--only', ','], '--only: names no target; use '],
    [['--skip', DEFAULT_KINDS.join(',')], `--skip ${DEFAULT_KINDS.join(',')} leaves no target to run; skip fewer (e.g. --skip temp)`],
  ])('an empty target selection %j is a usage error: exit 2, one line, nothing removed, in clean and reap', (selection, message) => {
    const old = makeTempDir(root, 'moat-aws-1')
    for (const command of [['clean', '--force'], ['reap', '--once']]) {
      const human = runCli(['system', ...command, '--tmp-dir', root, ...selection], {MOAT_HOME: moat.home})
      expect(human.exitCode).toBe(2)
      expect(human.stderr).toMatch(/^Error: [^\n]+\n$/)
      expect(human.stderr).toContain(`Error: ${message}`)
      const json = runCli(['system', ...command, '--json', '--tmp-dir', root, ...selection], {MOAT_HOME: moat.home})
      expect(json.exitCode).toBe(2)
      expect(jsonOf(json)).toEqual({error: {code: 'USAGE', exitCode: 2, message: expect.stringContaining(message), name: 'Error'}})
    }

    expect(existsSync(old)).toBe(true)
  })

  it('reap --interval 1s over the engine: a dead run made while it runs is removed within two intervals, a live one never', async () => {
    const live = await makeRun(true)
    const log = `${moat.home}/reap.log`
    const reaper = startCli(['system', 'reap', '--interval', '1s', '--min-age', '0s', '--tmp-dir', root, '--log-file', log], engineEnv({MOAT_HOME: moat.home}))
    const passes = () =>
      existsSync(log)
        ? readFileSync(log, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((line) => JSON.parse(line) as {decision?: string; event: string; id?: string; pass: number})
        : []
    try {
      // Made while it runs: after its first pass.
      await until('the first pass', () => passes().some((line) => line.event === 'pass'))
      const dead = await makeRun(false)
      // Counted in passes, not seconds (a pass over the engine takes longer on a loaded machine): the pass under way
      // may catch the run half-made (its network before its containers); the next one takes the rest.
      const passesDone = passes().filter((line) => line.event === 'pass').length
      const parts = [dead.network, dead.main, dead.buildkit, dead.service]
      const removals = () => passes().filter((line) => line.decision === 'removed' && parts.includes(line.id!))
      await until('the removal of the dead run in the log', () => removals().length === parts.length)
      expect(await networkExists(dead.network)).toBe(false)
      for (const id of [dead.main, dead.buildkit, dead.service]) expect(await containerExists(id)).toBe(false)
      expect(Math.max(...removals().map((line) => line.pass))).toBeLessThanOrEqual(passesDone + 2)
    } finally {
      reaper.child.kill('SIGTERM')
    }

    expect((await reaper).exitCode).toBe(0)
    for (const id of [live.main, live.buildkit, live.service]) expect(await containerExists(id)).toBe(true)
    expect(await networkExists(live.network)).toBe(true)
    expect(existsSync(live.temp)).toBe(true)
  })

  it('two clean --force started together: every orphan removed exactly once, the second reports the lock', async () => {
    const dead = [await makeRun(false), await makeRun(false)]
    for (let i = 0; i < 1500; i++) makeTempDir(root, `moat-build-${i}`)
    const args = ['system', 'clean', '--force', '--json', '--min-age', '0s', '--tmp-dir', root, '--max-delete', '5000']
    const env = engineEnv({MOAT_HOME: moat.home})
    const results = await Promise.all([startCli(args, env), startCli(args, env)])
    expect(results.map((r) => r.exitCode)).toEqual([0, 0])
    const docs = results.map((r) => jsonOf(r))
    const winner = docs.find((doc) => !doc.busy) as {totals: {failed: number; removed: number}}
    expect(docs.find((doc) => doc.busy)).toMatchObject({lockHolder: {command: 'system:clean'}})
    expect(winner.totals).toMatchObject({failed: 0, removed: 2 * 4 + 2 + 1500})
    for (const run of dead) expect(await networkExists(run.network)).toBe(false)
  })
})
