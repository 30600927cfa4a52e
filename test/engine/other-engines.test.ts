// moat-resources.md §11: a run's metadata.json may name the engine it used (`docker_host`, podman support). The
// engine targets ask that endpoint too, so a leak there is found even when DOCKER_HOST points elsewhere.
import {afterEach, beforeEach, expect, it} from 'vitest'

import {otherEngines} from '../../src/lib/runtime/select.js'
import {NetworkTarget} from '../../src/lib/targets/networks.js'
import {describeEngine, networkExists, requireEngine} from '../helpers/engine.js'
import {createRunNetwork, makeRunDir} from '../helpers/moat-fixtures.js'
import {itemNamed, useEngineFixtures} from './shared-engine.js'

describeEngine('engines named by runs (docker_host)', () => {
  const fixtures = useEngineFixtures()
  const saved = {context: process.env.DOCKER_CONTEXT, host: process.env.DOCKER_HOST}

  beforeEach(() => {
    // The engine the user's environment points at does not answer; the one a run used does.
    process.env.DOCKER_HOST = 'unix:///nonexistent/moat-test/docker.sock'
    delete process.env.DOCKER_CONTEXT
  })
  afterEach(() => {
    process.env.DOCKER_HOST = saved.host
    if (saved.context !== undefined) process.env.DOCKER_CONTEXT = saved.context
  })

  it('finds and removes an ended run\'s network on the engine a live run names, and keeps the live run\'s', async () => {
    const [live, ended] = [fixtures.tracked(), fixtures.tracked()]
    // eslint-disable-next-line camelcase -- moat's field name
    await makeRunDir(fixtures.moatHome, live, {docker_host: requireEngine(), state: 'running'})
    const liveNet = await createRunNetwork(live)
    const endedNet = await fixtures.made(createRunNetwork(ended))
    expect(otherEngines(fixtures.moatHome).map((engine) => engine.present())).toEqual([true])
    const report = await fixtures.clean(new NetworkTarget({daemonTimeoutMs: 500, moatHome: fixtures.moatHome, runtime: 'auto'}))
    expect(itemNamed(report, `moat-${ended}`)).toMatchObject({decision: 'removed', details: {runtime: 'docker'}})
    expect(itemNamed(report, `moat-${live}`)).toMatchObject({decision: 'kept'})
    expect(fixtures.warnings.join('\n')).toMatch(/nonexistent\/moat-test\/docker\.sock.*skipped: none of its resources is judged/)
    process.env.DOCKER_HOST = requireEngine()
    expect(await networkExists(endedNet)).toBe(false)
    expect(await networkExists(liveNet)).toBe(true)
  })

  it('asks an engine once when a run names the one DOCKER_HOST already reaches', async () => {
    process.env.DOCKER_HOST = requireEngine()
    // eslint-disable-next-line camelcase -- moat's field name
    await makeRunDir(fixtures.moatHome, fixtures.tracked(), {docker_host: requireEngine()})
    expect(otherEngines(fixtures.moatHome)).toEqual([])
  })
})
