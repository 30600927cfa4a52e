// HelperTarget through the shared pipeline, against the real test engine.
import {randomBytes} from 'node:crypto'
import {afterEach, expect, it} from 'vitest'

import {HelperTarget} from '../../src/lib/targets/helpers.js'
import {containerExists, describeEngine, docker, dockerOk, TEST_IMAGE, useEngineInProcessEnv} from '../helpers/engine.js'
import {itemNamed, useEngineFixtures} from './shared-engine.js'

describeEngine('HelperTarget on the real engine', () => {
  useEngineInProcessEnv()
  const fixtures = useEngineFixtures()
  const made: string[] = []

  /** A container named as moat names its export helpers (`moat-export_<12 hex>`), or as given. */
  async function helper(state: 'created' | 'exited' | 'running', name = `moat-export_${randomBytes(6).toString('hex')}`): Promise<{id: string; name: string}> {
    const id = await dockerOk(state === 'created' ? ['create', '--name', name, TEST_IMAGE, 'sleep', '3600'] : ['run', '--detach', '--name', name, TEST_IMAGE, 'sleep', '3600'])
    made.push(id)
    if (state === 'exited') await dockerOk(['stop', '--time', '0', id])
    return {id, name}
  }

  afterEach(async () => {
    for (const id of made.splice(0)) await docker(['rm', '--force', id])
  })

  const clean = (minAgeMs?: number) => fixtures.clean(new HelperTarget({daemonTimeoutMs: 500, moatHome: fixtures.moatHome, runtime: 'docker'}), {minAgeMs})

  it('removes exited and never-started export helpers, keeps a running one, never takes look-alikes', async () => {
    const exited = await helper('exited')
    const created = await helper('created')
    const running = await helper('running')
    const lookAlikes = [await helper('exited', `moat-export-${randomBytes(6).toString('hex')}`), await helper('exited', 'moat-export_notahexname1')]
    await fixtures.made(Promise.resolve())
    const report = await clean()
    expect(itemNamed(report, exited.name)).toMatchObject({
      decision: 'removed',
      details: {role: 'volume export', runtime: 'docker'},
      evidence: {
        age: expect.stringMatching(/^exited \d+s ago by the engine's clock \(--min-age 1s\)$/),
        helper: 'named moat-export_<12 hex>: an export helper, tied to no run, that a moat snapshot which crashed mid-export left (moat-resources.md §3.1)',
        state: 'exited: not running',
      },
      id: exited.id,
      reason: expect.stringMatching(/^left by a crashed snapshot; exited \d+s ago$/),
    })
    expect(itemNamed(report, created.name)).toMatchObject({
      evidence: {age: expect.stringMatching(/^created \d+s ago by the engine's clock/), state: 'created: not running'},
      reason: expect.stringMatching(/^left by a crashed snapshot; created \d+s ago$/),
    })
    expect(itemNamed(report, exited.name)!.details.run).toBeUndefined()
    expect(itemNamed(report, created.name)).toMatchObject({decision: 'removed'})
    expect(itemNamed(report, running.name)).toMatchObject({decision: 'kept', reason: 'running: an export may be under way'})
    for (const look of lookAlikes) expect(itemNamed(report, look.name)).toBeUndefined()
    expect(await containerExists(exited.id)).toBe(false)
    expect(await containerExists(created.id)).toBe(false)
    for (const id of [running.id, ...lookAlikes.map((look) => look.id)]) expect(await containerExists(id)).toBe(true)
  })

  it('keeps a helper that exited less than --min-age ago, and one started between the plan and the removal', async () => {
    const young = await helper('exited')
    const report = await clean(3_600_000)
    expect(itemNamed(report, young.name)).toMatchObject({decision: 'kept', reason: expect.stringMatching(/^young: exited \d+s ago \(--min-age 1h\)$/)})
    const restarted = await fixtures.made(helper('exited'))
    const raced = await fixtures.clean(new HelperTarget({daemonTimeoutMs: 500, moatHome: fixtures.moatHome, runtime: 'docker'}), {
      hooks: {
        async beforeRemove() {
          await dockerOk(['start', restarted.id])
        },
      },
    })
    expect(itemNamed(raced, restarted.name)).toMatchObject({decision: 'skipped', outcome: expect.stringMatching(/^drift: started since the scan/)})
    expect(await containerExists(restarted.id)).toBe(true)
  })
})
