// `moat system clean-volumes` as a user runs it: the built CLI against the real test engine.
import {spawnSync} from 'node:child_process'
import {mkdir, readdir} from 'node:fs/promises'
import {join} from 'node:path'
import {afterEach, expect, it} from 'vitest'

import {systemCommand, useEngineFixtures} from '../engine/shared-engine.js'
import {itemsByName, jsonOf} from '../helpers/cli.js'
import {describeEngine, docker, dockerOk, TEST_IMAGE} from '../helpers/engine.js'
import {createWorkspaceVolume} from '../helpers/moat-fixtures.js'

async function volumeExists(name: string): Promise<boolean> {
  return (await docker(['volume', 'inspect', name])).exitCode === 0
}

describeEngine('moat system clean-volumes', () => {
  const fixtures = useEngineFixtures()
  const {made, tracked} = fixtures
  const {forced, run} = systemCommand('clean-volumes', fixtures)
  const mounted: string[] = []

  afterEach(() => {
    for (const point of mounted.splice(0)) spawnSync('umount', [point])
  })

  it('--dry-run shows the backup it would make; --force --json makes it and removes the volume', async () => {
    const ended = tracked()
    const name = await made(createWorkspaceVolume(ended))
    await fixtures.waitUntilOld(6000)
    await fixtures.protectOtherRuns()
    const plan = run(['--dry-run', '--json', '--min-age', '6s'])
    expect(plan.exitCode).toBe(0)
    expect(itemsByName(plan)[name]).toMatchObject({
      backup: `to ${join(fixtures.moatHome, 'backups', 'volumes')}`,
      decision: 'orphan',
      evidence: {
        age: expect.stringMatching(/^created \d+s ago by the engine's clock \(--min-age 6s\)$/),
        run: `no run dir ${join(fixtures.moatHome, 'runs', ended)}; no moat daemon running`,
        users: 'no container uses it, running or stopped',
      },
      reason: expect.stringMatching(/^run ended; created \d+s ago; no container uses it$/),
    })
    expect(await volumeExists(name)).toBe(true)

    const result = await forced([])
    expect(result.exitCode).toBe(0)
    const item = itemsByName(result)[name]!
    expect(item).toMatchObject({decision: 'removed', outcome: `backed up to ${item.backup as string}, removed`})
    expect(jsonOf(result)).toMatchObject({target: 'volumes', totals: {removed: 1}})
    expect(await readdir(join(fixtures.moatHome, 'backups', 'volumes'))).toEqual([(item.backup as string).split('/').pop()])
    expect(await volumeExists(name)).toBe(false)
  })

  it('a failed backup keeps the volume and exits 3', async () => {
    const ended = tracked()
    const name = await createWorkspaceVolume(ended, {})
    await made(dockerOk(['run', '--rm', '--volume', `${name}:/w`, TEST_IMAGE, 'sh', '-c', 'head -c 1000000 /dev/urandom > /w/big']))
    const small = join(fixtures.moatHome, 'small')
    await mkdir(small)
    expect(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=128k', 'tmpfs', small]).status).toBe(0)
    mounted.push(small)
    const result = await forced(['--backup-dir', small])
    expect(result.exitCode).toBe(3)
    expect(itemsByName(result)[name]).toMatchObject({decision: 'failed', outcome: expect.stringMatching(/^backup failed, volume kept: /)})
    expect(await volumeExists(name)).toBe(true)
  })

  it('bad backup flags are one-line usage errors, exit 2', () => {
    const empty = run(['--dry-run', '--backup-dir', ''])
    expect(empty.exitCode).toBe(2)
    expect(empty.stderr).toBe('Error: --backup-dir: empty; give a directory, e.g. --backup-dir ~/moat-backups\n')
    const both = run(['--dry-run', '--no-backup', '--backup-dir', '/srv/b'])
    expect(both.exitCode).toBe(2)
    expect(both.stderr).toMatch(/^Error: --backup-dir and --no-backup contradict each other/)
  })
})
