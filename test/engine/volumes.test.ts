// VolumeTarget through the shared pipeline, against the real test engine: backups are made with a real helper
// container and docker cp, and read back with tar.
import {spawnSync} from 'node:child_process'
import {mkdir, readdir, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {afterEach, expect, it} from 'vitest'

import {HELPER_LABEL} from '../../src/lib/runtime/volume-archive.js'
import {VolumeTarget, type VolumeTargetOptions} from '../../src/lib/targets/volumes.js'
import {describeEngine, docker, dockerOk, TEST_IMAGE, useEngineInProcessEnv} from '../helpers/engine.js'
import {createWorkspaceVolume, makeRunDir} from '../helpers/moat-fixtures.js'
import {type CleanOptions, itemNamed, useEngineFixtures} from './shared-engine.js'

async function volumeExists(name: string): Promise<boolean> {
  return (await docker(['volume', 'inspect', name])).exitCode === 0
}

/**
 * Issue 19, case 3's racer: a short-lived container that appends to a file of the volume and is gone at once. An
 * append changes no directory, so the volume's CreatedAt (Docker dates a local volume by its directory) stays.
 */
function racer(volume: string): Promise<string> {
  return dockerOk(['run', '--rm', '--volume', `${volume}:/w`, TEST_IMAGE, 'sh', '-c', 'echo raced >> /w/work.txt'])
}

/** work.txt of a volume's backup. */
function backedUpWork(archive: string, volume: string): string {
  return spawnSync('tar', ['-xzOf', archive, `${volume}/work.txt`], {encoding: 'utf8'}).stdout
}

function tarList(archive: string): string[] {
  const result = spawnSync('tar', ['-tzf', archive], {encoding: 'utf8'})
  if (result.status !== 0) throw new Error(`tar -tzf ${archive}: ${result.stderr}`)
  return result.stdout.split('\n').filter(Boolean).sort()
}

describeEngine('VolumeTarget on the real engine', () => {
  useEngineInProcessEnv()
  const fixtures = useEngineFixtures()
  const {tracked} = fixtures
  const mounted: string[] = []
  const backupDir = () => join(fixtures.moatHome, 'backups', 'volumes')

  const clean = (options: CleanOptions & {target?: Partial<VolumeTargetOptions>} = {}) =>
    fixtures.clean(
      new VolumeTarget({backupDir: backupDir(), daemonTimeoutMs: 500, moatHome: fixtures.moatHome, runtime: 'docker', ...options.target}),
      options,
    )

  afterEach(() => {
    for (const point of mounted.splice(0)) spawnSync('umount', [point])
  })

  it('backs up an ended run\'s volume, verifies the archive, then removes the volume', async () => {
    const runId = tracked()
    const name = await fixtures.made(createWorkspaceVolume(runId, {'README.md': '# app\n', 'src/main.go': 'package main\n'}))
    const report = await clean()
    const item = itemNamed(report, name)
    expect(item).toMatchObject({decision: 'removed', details: {run: runId, runtime: 'docker'}})
    const archive = item!.details.backup as string
    expect(archive).toMatch(new RegExp(`^${backupDir()}/${name}-\\d{8}T\\d{6}Z\\.tar\\.gz$`))
    expect(item!.outcome).toBe(`backed up to ${archive}, removed`)
    expect(item!.reason).toMatch(/^run ended; created \d+s ago; no container uses it$/)
    expect(item!.evidence).toEqual({
      age: expect.stringMatching(/^created \d+s ago by the engine's clock \(--min-age 1s\)$/),
      run: `no run dir ${join(fixtures.moatHome, 'runs', runId)}; no moat daemon running`,
      users: 'no container uses it, running or stopped',
    })
    expect(tarList(archive)).toEqual([`${name}/`, `${name}/README.md`, `${name}/src/`, `${name}/src/main.go`])
    const extracted = spawnSync('tar', ['-xzOf', archive, `${name}/src/main.go`], {encoding: 'utf8'})
    expect(extracted.stdout).toBe('package main\n')
    expect(await volumeExists(name)).toBe(false)
    // The helper is gone whatever happened, and no partial file is left.
    expect(await dockerOk(['ps', '--all', '--quiet', '--filter', `label=${HELPER_LABEL}`])).toBe('')
    expect((await readdir(backupDir())).filter((file) => file.endsWith('.partial'))).toEqual([])
  })

  it('keeps a volume younger than --min-age on the engine clock', async () => {
    const name = await fixtures.made(createWorkspaceVolume(tracked()))
    const report = await clean({minAgeMs: 3_600_000})
    expect(itemNamed(report, name)).toMatchObject({decision: 'kept', reason: expect.stringMatching(/^young: created \d+s ago \(--min-age 1h\)$/)})
    expect(await volumeExists(name)).toBe(true)
  })

  it('keeps a live run\'s volume and one a stopped container uses, and never takes unlabelled or misnamed volumes', async () => {
    const [live, used] = [tracked(), tracked()]
    const names = [await createWorkspaceVolume(live), await createWorkspaceVolume(used)]
    await makeRunDir(fixtures.moatHome, live, {state: 'stopped', workspace_mode: 'volume'}) // eslint-disable-line camelcase
    const user = await dockerOk(['create', '--name', `user-of-${used}`, '--volume', `${names[1]}:/w`, TEST_IMAGE, 'true'])
    const stranger = tracked()
    const foreign = [`moat_agent_${stranger.slice(4)}`, `moat-ws-${stranger}`]
    await dockerOk(['volume', 'create', foreign[0]!])
    await dockerOk(['volume', 'create', foreign[1]!])
    await dockerOk(['volume', 'create', '--label', 'moat=workspace', `moat-ws-not-a-run-${stranger.slice(4)}`])
    await fixtures.made(Promise.resolve())
    const report = await clean()
    expect(itemNamed(report, names[0]!)).toMatchObject({
      decision: 'kept',
      reason: `run ${live} is alive: run dir exists (state stopped); a volume-mode run without an extraction snapshot: the volume is the only copy of its work`,
    })
    expect(itemNamed(report, names[1]!)).toMatchObject({decision: 'kept', reason: `in use by container user-of-${used} (created)`})
    for (const name of [...foreign, `moat-ws-not-a-run-${stranger.slice(4)}`]) expect(itemNamed(report, name)).toBeUndefined()
    for (const name of names) expect(await volumeExists(name)).toBe(true)
    await dockerOk(['rm', user])
    for (const name of [foreign[0]!, `moat-ws-not-a-run-${stranger.slice(4)}`]) await dockerOk(['volume', 'rm', name])
  })

  it('says when a stopped volume-mode run has an extraction snapshot, and still keeps its volume', async () => {
    const runId = tracked()
    const name = await fixtures.made(createWorkspaceVolume(runId))
    const dir = await makeRunDir(fixtures.moatHome, runId, {state: 'failed', workspace_mode: 'volume'}) // eslint-disable-line camelcase
    await mkdir(join(dir, 'snapshots'))
    await writeFile(join(dir, 'snapshots', 'snapshots.json'), JSON.stringify([{type: 'pre-run'}, {type: 'git'}]))
    const report = await clean()
    expect(itemNamed(report, name)).toMatchObject({
      decision: 'kept',
      reason: `run ${runId} is alive: run dir exists (state failed); it has an extraction snapshot: \`moat destroy\` removes it with its volume`,
    })
  })

  it('a backup that fails half-way keeps the volume, leaves no partial file and no helper: failed', async () => {
    const runId = tracked()
    // Incompressible content larger than the backup file system holds.
    const name = await createWorkspaceVolume(runId, {})
    await dockerOk(['run', '--rm', '--volume', `${name}:/w`, TEST_IMAGE, 'sh', '-c', 'head -c 2000000 /dev/urandom > /w/big'])
    await fixtures.made(Promise.resolve())
    const small = join(fixtures.moatHome, 'small')
    await mkdir(small)
    const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', small], {encoding: 'utf8'})
    expect(mount.status, mount.stderr).toBe(0)
    mounted.push(small)
    const report = await clean({target: {backupDir: small}})
    expect(itemNamed(report, name)).toMatchObject({
      decision: 'failed',
      outcome: expect.stringMatching(/^backup failed, volume kept: .*ENOSPC/),
    })
    expect(report.totals).toMatchObject({failed: 1, removed: 0})
    expect(await volumeExists(name)).toBe(true)
    expect(await readdir(small)).toEqual([])
    expect(await dockerOk(['ps', '--all', '--quiet', '--filter', `label=${HELPER_LABEL}`])).toBe('')
  })

  it('--no-backup removes without a backup', async () => {
    const runId = tracked()
    const name = await fixtures.made(createWorkspaceVolume(runId))
    const report = await clean({target: {backupDir: false}})
    expect(itemNamed(report, name)).toMatchObject({decision: 'removed', outcome: 'removed without a backup (--no-backup)'})
    expect(await volumeExists(name)).toBe(false)
    expect(await readdir(fixtures.moatHome)).not.toContain('backups')
  })

  // Issue 19, case 3: a short-lived container that writes into a volume and is gone by its removal. The engine's
  // in-use refusal cannot help; each volume is removed before the next backup starts, and only when the engine's
  // event log shows no container mounting it since its backup began. Injected at both moments, five times each.
  it('case 3: a write into a volume while the next one is backed up is never lost (5 tries)', async () => {
    for (let attempt = 0; attempt < 5; attempt++) {
      const names = [await createWorkspaceVolume(tracked()), await fixtures.made(createWorkspaceVolume(tracked()))]
      const order: string[] = []
      const report = await clean({
        target: {
          backupHooks: {
            async beforeBackup(volume) {
              order.push(volume)
              if (order.length === 2) await racer(order[0]!)
            },
          },
        },
      })
      expect(order).toHaveLength(2)
      const [first, next] = order as [string, string]
      expect(itemNamed(report, next)).toMatchObject({decision: 'removed'})
      const item = itemNamed(report, first)!
      // The write is in the first volume's backup, or in a volume of that name still there: never only in one removed.
      const inBackup = typeof item.details.backup === 'string' && item.details.backup.startsWith('/') && backedUpWork(item.details.backup, first).includes('raced')
      const inVolume = (await docker(['run', '--rm', '--volume', `${first}:/w`, TEST_IMAGE, 'cat', '/w/work.txt'])).stdout.includes('raced')
      expect({attempt, inBackup, inVolume, removed: item.decision === 'removed'}).toMatchObject({attempt, removed: true})
      expect(inBackup || inVolume, `attempt ${attempt}: the write is lost`).toBe(true)
      for (const name of names) await docker(['volume', 'rm', name])
    }
  })

  it('case 3: a container that mounts a volume between its backup and its removal keeps it, the backup stays on disk (5 tries)', async () => {
    for (let attempt = 0; attempt < 5; attempt++) {
      const names = [await createWorkspaceVolume(tracked()), await fixtures.made(createWorkspaceVolume(tracked()))]
      let raced: string | undefined
      const report = await clean({
        target: {
          backupHooks: {
            async afterBackup(volume) {
              if (raced) return
              raced = volume
              await racer(volume)
            },
          },
        },
      })
      expect(raced).toBeDefined()
      const item = itemNamed(report, raced!)!
      expect(item).toMatchObject({
        decision: 'skipped',
        outcome: expect.stringMatching(new RegExp(`^drift: mounted by container [0-9a-f]{12} since its backup began: volume kept, backup at ${backupDir()}/${raced}-\\d{8}T\\d{6}Z\\.tar\\.gz$`)),
      })
      expect(backedUpWork(item.details.backup as string, raced!)).toBe("the agent's work\n")
      expect(await dockerOk(['run', '--rm', '--volume', `${raced}:/w`, TEST_IMAGE, 'cat', '/w/work.txt'])).toBe("the agent's work\nraced")
      expect(itemNamed(report, names.find((name) => name !== raced)!)).toMatchObject({decision: 'removed'})
      expect(await volumeExists(raced!)).toBe(true)
      await dockerOk(['volume', 'rm', raced!])
    }
  })

  it('skips a volume a container starts using, or whose run dir comes back, between the plan and the removal', async () => {
    const [taken, revived] = [tracked(), tracked()]
    const names = [await createWorkspaceVolume(taken), await fixtures.made(createWorkspaceVolume(revived))]
    const report = await clean({
      hooks: {
        async beforeRemove() {
          await dockerOk(['create', '--name', `late-${taken}`, '--volume', `${names[0]}:/w`, TEST_IMAGE, 'true'])
          await makeRunDir(fixtures.moatHome, revived, null)
        },
      },
    })
    expect(itemNamed(report, names[0]!)).toMatchObject({decision: 'skipped', outcome: `drift: in use by container late-${taken} (created)`})
    expect(itemNamed(report, names[1]!)).toMatchObject({decision: 'skipped', outcome: 'drift: run dir re-created since the scan'})
    for (const name of names) expect(await volumeExists(name)).toBe(true)
  })
})
