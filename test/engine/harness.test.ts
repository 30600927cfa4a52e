// The private Docker engine the engine suites rely on (test/engine/engine.sh), checked against the real daemon.
import {expect, it} from 'vitest'

import {describeEngine, docker, dockerOk, requireEngine, TEST_IMAGE} from '../helpers/engine.js'
import {createRunContainer, createRunNetwork, createSidecar, removeAllForRun, trackRunIds} from '../helpers/moat-fixtures.js'

describeEngine('test Docker engine', () => {
  const runIds = trackRunIds()

  it('answers on its private unix socket, not the system one', async () => {
    const host = requireEngine()
    expect(host).toMatch(/^unix:\/\/\/.+\/docker\.sock$/)
    expect(host).not.toBe('unix:///var/run/docker.sock')
    const version = await dockerOk(['version', '--format', '{{.Server.APIVersion}}'])
    expect(version).toMatch(/^1\.\d+$/)
  })

  it('runs the imported busybox test image', async () => {
    const result = await docker(['run', '--rm', TEST_IMAGE, 'true'])
    expect(result).toMatchObject({exitCode: 0})
    expect(await dockerOk(['run', '--rm', TEST_IMAGE, 'sh', '-c', 'echo ok | cat'])).toBe('ok')
  })

  it('lists a moat run network by its moat.managed label', async () => {
    const runId = runIds.next()
    const id = await createRunNetwork(runId)
    expect(id).toMatch(/^[0-9a-f]{64}$/)
    const filter = ['--filter', 'label=moat.managed=true', '--format', '{{.ID}} {{.Name}}']
    const listed = await dockerOk(['network', 'ls', '--no-trunc', ...filter])
    expect(listed.split('\n')).toContain(`${id} moat-${runId}`)
  })

  it('creates run containers and labelled sidecars on the run network, and removes them all', async () => {
    const runId = runIds.next()
    await createRunNetwork(runId)
    const main = await createRunContainer(runId, {network: `moat-${runId}`})
    const buildkit = await createSidecar(runId, {network: `moat-${runId}`, role: 'buildkit-sidecar', running: false})
    const postgres = await createSidecar(runId, {network: `moat-${runId}`, role: 'service', service: 'postgres'})

    const inspected = JSON.parse(await dockerOk(['inspect', main, buildkit, postgres])) as Array<{
      Config: {Labels: null | Record<string, string>}
      Id: string
      Name: string
      State: {Status: string}
    }>
    expect(inspected.map((c) => [c.Id, c.Name, c.State.Status, c.Config.Labels ?? {}])).toEqual([
      [main, `/${runId}`, 'running', {}],
      [buildkit, `/moat-buildkit-${runId}`, 'created', {'moat.role': 'buildkit-sidecar', 'moat.run-id': runId}],
      [postgres, `/moat-postgres-${runId}`, 'running', {'moat.role': 'service', 'moat.run-id': runId}],
    ])

    await removeAllForRun(runId)
    expect(await dockerOk(['ps', '--all', '--quiet', '--filter', `name=${runId}`])).toBe('')
    expect((await docker(['network', 'inspect', `moat-${runId}`])).exitCode).not.toBe(0)
  })
})
