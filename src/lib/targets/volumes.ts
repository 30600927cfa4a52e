// Workspace volumes `moat-ws-<run-id>` labelled moat=workspace (moat-resources.md §5.1; Docker only, the Apple
// runtime rejects volume mode). A volume is the only copy of its agent's work, so one is removed only when its run
// has ended (no run dir, not listed by the daemon, §10.1), it is older than --min-age on the engine's clock, no
// container uses it (running or stopped), and, unless the user said --no-backup, a verified backup exists.
// The unlabelled persistent agent volumes `moat_<agent>_<vol>` (§5.1) are never candidates.
import type {Stats} from 'node:fs'

import {join} from 'node:path'

import type {RunRegistry} from '../moat/registry.js'
import type {PlannedItem, Settle, Target, TargetContext} from '../pipeline/pipeline.js'
import type {ContainerInfo, Runtime, VolumeInfo} from '../runtime/types.js'

import {formatAge, formatDuration} from '../duration.js'
import {entryStat, readStateFile} from '../host/checked-fs.js'
import {walkTree} from '../host/tree.js'
import {hasExtractionSnapshot} from '../moat/metadata.js'
import {RUN_ID} from '../moat/run-id.js'
import {sameLabels} from '../runtime/labels.js'
import {HELPER_LABEL, VolumeArchiver} from '../runtime/volume-archive.js'
import {containersForScan, type EngineTargetOptions, removeByRuntime, removeRecorded, rereadRuns, revived, scanEngine} from './engine-target.js'

/** §5.1, §10.3: the label and name prefix moat gives workspace volumes. */
const WORKSPACE_LABEL = 'moat=workspace'
const WORKSPACE_NAME = /^moat-ws-(run_[0-9a-f]{12})$/
/** A backup helper older than this was left by a pass that died: it no longer counts as a user of its volumes. */
const STALE_HELPER_MS = 3_600_000
const FINISHED_STATES: ReadonlySet<string> = new Set(['failed', 'stopped'])

export interface VolumeTargetOptions extends EngineTargetOptions {
  /** Where backups go (`$MOAT_HOME/backups/volumes` by default), or false for --no-backup. */
  backupDir: false | string
}

interface ScannedVolume {
  /** Backup helpers a dead pass left on this volume (never started, older than an hour). */
  helpers: ContainerInfo[]
  registry: RunRegistry
  runId: string
  runtime: Runtime
  /** Containers, running or not, that mount the volume. */
  users: ContainerInfo[]
  volume: VolumeInfo
}

export interface VolumeFingerprint {
  createdMs: number | undefined
  labels: Record<string, string>
  mountpoint?: string
  runId: string
  runtime: Runtime
}

type Planned = PlannedItem<VolumeFingerprint>

export class VolumeTarget implements Target<ScannedVolume, VolumeFingerprint> {
  readonly kind = 'volumes'
  readonly noun = ['workspace volume', 'workspace volumes'] as const

  constructor(private readonly options: VolumeTargetOptions) {}

  async classify(ctx: TargetContext, scanned: ScannedVolume[]): Promise<Planned[]> {
    return scanned.map((entry) => this.judge(ctx, entry))
  }

  async remove(ctx: TargetContext, items: Planned[], settle: Settle): Promise<void> {
    await removeByRuntime(ctx, items, (runtime, group) => this.removeGroup(ctx, runtime, group, settle))
  }

  async scan(ctx: TargetContext): Promise<ScannedVolume[]> {
    const scanned = await scanEngine(ctx, this.options, async (runtime) => {
      if (runtime.name !== 'docker') {
        ctx.warn(`${runtime.name === 'apple' ? 'Apple container' : runtime.name}: moat makes workspace volumes only on Docker (volume mode is rejected there); nothing to check.`)
        return []
      }

      const volumes = (await runtime.list('volume', {label: WORKSPACE_LABEL})).filter((volume) => isCandidate(volume))
      const containers = volumes.length > 0 ? await containersForScan(ctx, runtime) : []
      return volumes.map((volume) => ({containers, volume}))
    })
    if (!scanned) return []
    const {listed, registry} = scanned
    return listed.flatMap(({found, runtime}) =>
      found.map(({containers, volume}) => ({
        ...usersOf(volume.name, containers, runtime),
        registry,
        runId: WORKSPACE_NAME.exec(volume.name)![1]!,
        runtime,
        volume,
      })),
    )
  }

  /** Backs up (unless --no-backup) and removes one runtime's volumes, re-verified before and after the backups. */
  private async backUp(ctx: TargetContext, items: Planned[], settle: Settle): Promise<Planned[]> {
    const dir = this.options.backupDir
    if (dir === false || items.length === 0) return items
    let archiver: VolumeArchiver
    try {
      archiver = await VolumeArchiver.open(items.map((item) => item.name))
    } catch (error) {
      for (const item of items) settle(item, 'failed', `no backup, volume kept: ${(error as Error).message}`)
      return []
    }

    const backedUp: Planned[] = []
    try {
      for (const item of items) {
        if (ctx.signal?.aborted) break
        // One after another: each copy is bounded by the disk, and a failure must stop only its own volume.
        // eslint-disable-next-line no-await-in-loop
        const outcome = await archiver.backup(item.name, dir)
        if (!outcome.ok) {
          settle(item, 'failed', `backup failed, volume kept: ${outcome.reason}`)
          continue
        }

        const {count, path} = outcome.backup
        const mismatch = compareWithFiles(item.fingerprint.mountpoint, count)
        if (mismatch) {
          settle(item, 'failed', `backup ${path} does not match the volume, volume kept: ${mismatch}`)
          continue
        }

        item.details.backup = path
        item.details.backupEntries = count.entries
        backedUp.push(item)
      }
    } finally {
      try {
        await archiver.close()
      } catch (error) {
        ctx.warn((error as Error).message)
      }
    }

    return backedUp
  }

  private judge(ctx: TargetContext, entry: ScannedVolume): Planned {
    const {registry, runId, runtime, users, volume} = entry
    const ageMs = volume.createdMs === undefined ? undefined : runtime.now() - volume.createdMs
    const item: Planned = {
      ageMs,
      decision: 'kept',
      details: {
        backup: this.options.backupDir === false ? 'none (--no-backup)' : `to ${this.options.backupDir}`,
        run: runId,
        runtime: runtime.name,
      },
      fingerprint: {createdMs: volume.createdMs, labels: volume.labels, mountpoint: volume.mountpoint, runId, runtime},
      id: volume.id,
      name: volume.name,
      reason: '',
    }
    const keep = (reason: string): Planned => {
      item.reason = reason
      item.details.backup = undefined
      return item
    }

    const alive = registry.aliveReason(runId)
    if (alive) return keep(`run ${runId} is alive: ${alive}${volumeRunNote(registry, runId)}`)
    // In `clean`, containers an earlier target removes first are leaving: re-verification sees whether they went.
    const leaving = new Set(ctx.planned.map((planned) => planned.id))
    const staying = users.filter((user) => !leaving.has(user.id))
    if (staying.length > 0) return keep(`in use by container ${describeUsers(staying)}`)
    if (ageMs === undefined) return keep('age unknown: the engine gave no creation time')
    if (ageMs < ctx.minAgeMs) return keep(`young: created ${formatAge(ageMs)} ago (--min-age ${formatDuration(ctx.minAgeMs)})`)
    item.decision = 'orphan'
    const leavingFirst = users.length - staying.length
    item.evidence = {
      age: `created ${formatAge(ageMs)} ago by the engine's clock (--min-age ${formatDuration(ctx.minAgeMs)})`,
      run: registry.endedEvidence(runId),
      users: `no container uses it, running or stopped${leavingFirst > 0 ? `, once the ${leavingFirst} this pass removes first are gone` : ''}`,
    }
    item.reason = `run ended; created ${formatAge(ageMs)} ago; no container uses it`
    return item
  }

  private async removeGroup(ctx: TargetContext, runtime: Runtime, items: Planned[], settle: Settle): Promise<void> {
    const ready = await this.reverify(runtime, items, settle)
    if (ready.length === 0) return
    const backedUp = await this.backUp(ctx, ready, settle)
    if (backedUp.length === 0 || ctx.signal?.aborted) return
    // A backup takes time: the runs are looked at again before the removal.
    const registry = await rereadRuns(this.options, backedUp, settle)
    if (!registry) return
    const removable = backedUp.filter((item) => {
      const why = revived(registry, item.fingerprint.runId)
      if (why) settle(item, 'skipped', `drift: ${why}`)
      return !why
    })
    if (removable.length === 0) return
    // By name and without force: the engine itself refuses a volume any container (even a stopped one) uses.
    await removeRecorded({ctx, runtime, settle}, 'volume', removable, {
      done(item) {
        const {backup} = item.details
        return typeof backup === 'string' && backup.startsWith('/') ? `backed up to ${backup}, removed` : 'removed without a backup (--no-backup)'
      },
      key: (item) => item.name,
      place: (item) => ({createdMs: item.fingerprint.createdMs}),
    })
  }

  /** DESIGN.md step 4: run dirs and daemon, the volumes and every container read again; drifted items skipped. */
  private async reverify(runtime: Runtime, items: Planned[], settle: Settle): Promise<Planned[]> {
    const registry = await rereadRuns(this.options, items, settle)
    if (!registry) return []

    const [volumes, containers] = await Promise.all([
      runtime.inspect('volume', items.map((item) => item.name)),
      runtime.list('container'),
    ])
    const helpers = containers.filter((container) => isStaleHelper(container, runtime))
    if (helpers.length > 0) await runtime.remove('container', helpers.map((helper) => helper.id))
    const ready: Planned[] = []
    for (const item of items) {
      const drift = volumeDrift(item, volumes.get(item.name), registry, usersOf(item.name, containers, runtime).users)
      if (drift) settle(item, 'skipped', `drift: ${drift}`)
      else ready.push(item)
    }

    return ready
  }
}

function isCandidate(volume: VolumeInfo): boolean {
  // Both the label and the name (§10.3); the run ID is validated by the pattern itself (§10.2).
  const match = WORKSPACE_NAME.exec(volume.name)
  return Boolean(match && RUN_ID.test(match[1]!) && volume.labels.moat === 'workspace')
}

function isStaleHelper(container: ContainerInfo, runtime: Runtime): boolean {
  if (container.labels[HELPER_LABEL] !== '1' || container.running || container.state !== 'created') return false
  return container.createdMs !== undefined && runtime.now() - container.createdMs > STALE_HELPER_MS
}

function usersOf(volume: string, containers: readonly ContainerInfo[], runtime: Runtime): {helpers: ContainerInfo[]; users: ContainerInfo[]} {
  const mounting = containers.filter((container) => container.mounts.some((mount) => mount.type === 'volume' && mount.name === volume))
  return {
    helpers: mounting.filter((container) => isStaleHelper(container, runtime)),
    users: mounting.filter((container) => !isStaleHelper(container, runtime)),
  }
}

function describeUsers(users: readonly ContainerInfo[]): string {
  return users.map((user) => `${user.name || user.id.slice(0, 12)} (${user.state})`).join(', ')
}

function volumeDrift(item: Planned, now: undefined | VolumeInfo, registry: RunRegistry, users: ContainerInfo[]): string | undefined {
  const {fingerprint} = item
  const alive = revived(registry, fingerprint.runId)
  if (alive) return alive
  if (!now) return 'gone since the scan'
  if (now.createdMs !== fingerprint.createdMs) return 'replaced by a new volume of the same name'
  if (!sameLabels(now.labels, fingerprint.labels)) return 'labels changed since the scan'
  if (users.length > 0) return `in use by container ${describeUsers(users)}`
  return undefined
}

/** §5.1: what a volume-mode run whose dir still exists would need before `moat destroy` removes its volume. */
function volumeRunNote(registry: RunRegistry, runId: string): string {
  const run = registry.runs.get(runId)
  const metadata = run?.metadata
  if (!metadata || metadata.workspaceMode !== 'volume' || !metadata.state || !FINISHED_STATES.has(metadata.state)) return ''
  let snapshots: string | undefined
  try {
    snapshots = readStateFile(join(run.dir, 'snapshots', 'snapshots.json'), 'snapshots.json')
  } catch (error) {
    // Only this note depends on it: the volume is kept either way (its run is alive).
    return `; whether it has an extraction snapshot is unknown (${(error as Error).message})`
  }

  return hasExtractionSnapshot(snapshots)
    ? '; it has an extraction snapshot: `moat destroy` removes it with its volume'
    : '; a volume-mode run without an extraction snapshot: the volume is the only copy of its work'
}

/** Compares a backup with the volume's own files, where the engine's host is this one and they can be read. */
function compareWithFiles(mountpoint: string | undefined, count: {bytes: number; entries: number}): string | undefined {
  if (!mountpoint) return undefined
  let stat: Stats | undefined
  try {
    stat = entryStat(mountpoint)
  } catch {
    // Not readable by this user: the engine's stream, counted twice, is the check.
    return undefined
  }

  // Absent: the engine's files are on another host; again the stream, counted twice, is the check.
  if (!stat?.isDirectory()) return undefined
  const facts = walkTree(mountpoint, stat)
  if (facts.error) return `the volume's files cannot be read to compare (${facts.error})`
  if (facts.entries !== count.entries || facts.bytes !== count.bytes) {
    return `the volume holds ${facts.entries} entries and ${facts.bytes} bytes, the archive ${count.entries} and ${count.bytes}`
  }

  return undefined
}
