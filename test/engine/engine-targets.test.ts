// What every engine target shares (src/lib/targets/engine-target.ts), through the pipeline with all three engine
// targets at once, as `clean` runs them, against the real test engine.
import {rename} from 'node:fs/promises'
import {join} from 'node:path'
import {expect, it} from 'vitest'

import type {Runtime} from '../../src/lib/runtime/types.js'

import {runPipeline} from '../../src/lib/pipeline/pipeline.js'
import {DockerCli} from '../../src/lib/runtime/docker.js'
import {NetworkTarget} from '../../src/lib/targets/networks.js'
import {RunContainerTarget} from '../../src/lib/targets/run-containers.js'
import {SidecarTarget} from '../../src/lib/targets/sidecars.js'
import {containerExists, containerState, describeEngine, networkExists, useEngineInProcessEnv} from '../helpers/engine.js'
import {createRunContainer, createRunNetwork, createSidecar} from '../helpers/moat-fixtures.js'
import {MIN_AGE_MS, useEngineFixtures} from './shared-engine.js'

describeEngine('the engine targets together on the real engine', () => {
  useEngineInProcessEnv()
  const fixtures = useEngineFixtures()
  const {exited, made, tracked} = fixtures

  const targets = (runtimes?: Runtime[]) => {
    const options = {daemonTimeoutMs: 500, moatHome: fixtures.moatHome, runtime: 'docker' as const, runtimes}
    return [new RunContainerTarget(options), new SidecarTarget(options), new NetworkTarget(options)]
  }

  /** One dead run: a stopped run container and a stopped sidecar on its network. */
  async function deadRun(runId: string) {
    const network = await made(createRunNetwork(runId))
    const container = await exited(createRunContainer(runId, {network}))
    const sidecar = await exited(createSidecar(runId, {network, role: 'buildkit-sidecar'}))
    return {container, network, sidecar}
  }

  it('runs/ unreadable at re-verify time: every item of every engine target is skipped as drift, nothing removed', async () => {
    const runId = tracked()
    const {container, network, sidecar} = await deadRun(runId)
    await fixtures.waitUntilOld()
    await fixtures.protectOtherRuns()
    const report = await runPipeline(targets(), {
      confirm: async () => true,
      dryRun: false,
      hooks: {
        async beforeRemove() {
          // A --moat-home that vanished (unmounted, renamed) between the plan and the deletion.
          await rename(join(fixtures.moatHome, 'runs'), join(fixtures.moatHome, 'runs.gone'))
        },
      },
      minAgeMs: MIN_AGE_MS,
    })
    const mine = report.targets.flatMap((section) => section.items.filter((item) => item.name.includes(runId)))
    expect(mine.map((item) => item.name).sort()).toEqual([runId, `moat-${runId}`, `moat-buildkit-${runId}`].sort())
    for (const item of mine) {
      expect(item).toMatchObject({decision: 'skipped', outcome: expect.stringMatching(/^drift: moat's runs directory .* does not exist/)})
    }

    expect(report.totals.removed).toBe(0)
    for (const id of [container, sidecar]) expect(await containerExists(id)).toBe(true)
    expect(await networkExists(network)).toBe(true)
  })

  it('after the first signal no new engine batch starts: a stopped orphan sidecar is not removed, and is reported', async () => {
    const runId = tracked()
    const network = await made(createRunNetwork(runId))
    const sidecar = await made(createSidecar(runId, {network, role: 'buildkit-sidecar'}))
    await fixtures.waitUntilOld()
    await fixtures.protectOtherRuns()
    const controller = new AbortController()
    // The real engine, with the signal arriving the moment the stop batch has finished.
    const docker = new DockerCli()
    const signalled: Runtime = Object.assign(Object.create(docker) as DockerCli, {
      async stop(...args: Parameters<DockerCli['stop']>) {
        const outcome = await docker.stop(...args)
        controller.abort()
        return outcome
      },
    })
    const report = await runPipeline(targets([signalled]), {
      confirm: async () => true,
      dryRun: false,
      minAgeMs: MIN_AGE_MS,
      signal: controller.signal,
    })
    const items = report.targets.flatMap((section) => section.items.filter((item) => item.name.includes(runId)))
    expect(items).toEqual(
      expect.arrayContaining([
        expect.objectContaining({decision: 'skipped', name: `moat-buildkit-${runId}`, outcome: 'not reached: the run was interrupted'}),
        expect.objectContaining({decision: 'skipped', name: `moat-${runId}`, outcome: 'not reached: the run was interrupted'}),
      ]),
    )
    expect(await containerExists(sidecar)).toBe(true)
    expect(await containerState(sidecar)).toBe('exited')
    expect(await networkExists(network)).toBe(true)
  })
})
