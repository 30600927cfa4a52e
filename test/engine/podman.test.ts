// A podman engine named by a run (moat-resources.md §12.1: moat runs on podman through its Docker-compatible socket
// and records that socket as docker_host): a real `podman system service` beside the test engine. It is reported as
// podman (it names itself in a Libpod-Api-Version header on every reply), its address pools are unknown rather than
// Docker's arithmetic, two paths to its one socket are one engine (its /info ID changes with every request, so only
// the socket file can tell), and its workspace volumes are kept (its event log records no mounts).
import {spawnSync} from 'node:child_process'
import {readFileSync, symlinkSync} from 'node:fs'
import {join} from 'node:path'
import {expect, it} from 'vitest'

import {itemsByName, jsonOf, runCli} from '../helpers/cli.js'
import {describeEngine, requireEngine} from '../helpers/engine.js'
import {makeRunDir, newRunId, useMoatHome} from '../helpers/moat-fixtures.js'
import {usePodman} from '../helpers/podman.js'
import {describeAsRoot} from '../helpers/root.js'

describeEngine('a podman engine a run names', () => {
  describeAsRoot('(a private podman system service)', () => {
    const home = useMoatHome()
    const podman = usePodman()

    const cli = (args: string[]) => runCli(['system', ...args], {DOCKER_HOST: requireEngine(), MOAT_HOME: home.home})
    /** The docker CLI against the podman socket: its Docker-compatible API. */
    const onPodman = (args: string[]) => spawnSync('docker', ['-H', podman.host, ...args], {encoding: 'utf8', env: {...process.env, DOCKER_CONTEXT: undefined}})

    it('is reported as podman, its pools as unknown, one engine at both paths to its socket, in status and the metrics', async () => {
      const link = join(home.home, 'podman-link.sock')
      symlinkSync(podman.host.replace(/^unix:\/\//, ''), link)
      // Run IDs in this order: an engine is named by its first address, the first run's (runs are read by ID).
      await makeRunDir(home.home, 'run_000000000001', {docker_host: podman.host}) // eslint-disable-line camelcase
      await makeRunDir(home.home, 'run_000000000002', {docker_host: `unix://${link}`}) // eslint-disable-line camelcase

      const status = cli(['status', '--json', '--tmp-dir', home.runsDir])
      expect(status.exitCode, status.stderr).toBe(0)
      const doc = jsonOf(status) as {engines: Array<Record<string, unknown>>; runtimes: Array<Record<string, unknown>>}
      expect(doc.engines).toEqual([
        expect.objectContaining({addresses: [{address: requireEngine(), source: 'DOCKER_HOST'}], answered: true, id: expect.any(String), kind: 'docker'}),
        {
          addresses: [
            {address: podman.host, source: 'docker_host of run run_000000000001'},
            {address: `unix://${link}`, source: 'docker_host of run run_000000000002'},
          ],
          answered: true,
          kind: 'podman',
        },
      ])
      expect(doc.runtimes).toEqual([
        expect.objectContaining({addressPools: expect.objectContaining({capacity: expect.any(Number)}), engine: requireEngine(), runtime: 'docker'}),
        {addressPools: null, engine: podman.host, kind: 'podman', note: "its address pools are not Docker's, so their pressure is unknown", runtime: 'docker'},
      ])
      const text = cli(['status', '--tmp-dir', home.runsDir]).stdout
      expect(text).toContain(
        `engine podman: ${podman.host} (docker_host of run run_000000000001), unix://${link} (docker_host of run run_000000000002): one engine at 2 addresses\n`,
      )
      expect(text).toContain(`networks (podman at ${podman.host}): its address pools are not Docker's, so their pressure is unknown.\n`)

      const metrics = join(home.home, 'moat-system.prom')
      const reap = cli(['reap', '--once', '--dry-run', '--only', 'networks', '--metrics-file', metrics, '--log-file', join(home.home, 'reap.log')])
      expect(reap.exitCode, reap.stderr).toBe(0)
      const lines = readFileSync(metrics, 'utf8').split('\n')
      expect(lines).toContain(`moat_system_engine_up{engine="${podman.host}",kind="podman"} 1`)
      expect(lines.filter((line) => line.startsWith('moat_system_address_pool_subnets{'))).toEqual([
        expect.stringMatching(new RegExp(`^moat_system_address_pool_subnets\\{engine="${requireEngine()}",runtime="docker"\\} \\d+$`)),
      ])
    })

    it('keeps a workspace volume on podman: its event log could not prove no container wrote to it after a backup', async () => {
      const ended = newRunId()
      await makeRunDir(home.home, newRunId(), {docker_host: podman.host}) // eslint-disable-line camelcase
      const created = onPodman(['volume', 'create', '--label', 'moat=workspace', `moat-ws-${ended}`])
      expect(created.status, created.stderr).toBe(0)
      try {
        const plan = cli(['clean-volumes', '--dry-run', '--json', '--min-age', '0s'])
        expect(plan.exitCode, plan.stderr).toBe(0)
        expect(itemsByName(plan)[`moat-ws-${ended}`]).toMatchObject({
          decision: 'kept',
          engine: podman.host,
          reason: expect.stringMatching(/^on podman, whose event log records no volume mounts, /),
        })
      } finally {
        onPodman(['volume', 'rm', `moat-ws-${ended}`])
      }
    })
  })
})
