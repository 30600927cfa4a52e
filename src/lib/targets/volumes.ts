// Workspace volumes `moat-ws-<run-id>` labelled moat=workspace (moat-resources.md §5.1; Docker only, the Apple
// runtime rejects volume mode). A volume is the only copy of its agent's work, so one is removed only when its run
// has ended (no run dir, not listed by the daemon, §10.1), it is older than --min-age on the engine's clock, no
// container uses it (running or stopped), and, unless the user said --no-backup, a verified backup exists that no
// container can have outdated (the engine's event log shows no mount of it since the backup began).
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
import {HELPER_LABEL, unreadableByHelper, VolumeArchiver} from '../runtime/volume-archive.js'
import {containersForScan, engineDetail, type EngineTargetOptions, removeByRuntime, removeRecorded, rereadRuns, revived, scanEngine} from './engine-target.js'

/** §5.1, §10.3: the label and name prefix moat gives workspace volumes. */
const WORKSPACE_LABEL = 'moat=workspace'
const WORKSPACE_NAME = /^moat-ws-(run_[0-9a-f]{12})$/
/** A backup helper older than this was left by a pass that died: it no longer counts as a user of its volumes. */
const STALE_HELPER_MS = 3_600_000
const FINISHED_STATES: ReadonlySet<string> = new Set(['failed', 'stopped'])

export interface VolumeTargetOptions extends EngineTargetOptions {
  /** Where backups go (`$MOAT_HOME/backups/volumes` by default), or false for --no-backup. */
  backupDir: false | string
  /** Test hooks: runs between a volume's backup and the re-check before its removal (where races are injected). */
  backupHooks?: {afterBackup?(volume: string): Promise<void> | void; beforeBackup?(volume: string): Promise<void> | void}
}

interface ScannedVolume {
  /** The engine's address, when the pass asked several Docker engines. */
  engine?: string
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
    const {listed, registry, runtimes} = scanned
    return listed.flatMap(({found, runtime}) =>
      found.map(({containers, volume}) => ({
        ...usersOf(volume.name, containers, runtime),
        engine: engineDetail(runtime, runtimes),
        registry,
        runId: WORKSPACE_NAME.exec(volume.name)![1]!,
        runtime,
        volume,
      })),
    )
  }

  /**
   * Backs up one volume and removes it, before the next one is started: right before the removal its run is read
   * again, the volume must still be the one judged, and the engine's event log must show no container mounting it
   * since its backup began (a container that wrote into it and left would otherwise be lost, issue 19, case 3). Any
   * doubt keeps the volume; the backup stays on disk whatever happens.
   */
  private async backUpAndRemove(ctx: TargetContext, round: {archiver: VolumeArchiver; dir: string; runtime: Runtime}, item: Planned, settle: Settle): Promise<void> {
    const {archiver, dir, runtime} = round
    await this.options.backupHooks?.beforeBackup?.(item.name)
    const outcome = await archiver.backup({createdMs: item.fingerprint.createdMs, name: item.name}, dir)
    if (!outcome.ok) {
      if (outcome.drift) settle(item, 'skipped', `drift: ${outcome.reason}`)
      else settle(item, 'failed', outcome.reason)
      return
    }

    const {count, path, since} = outcome.backup
    item.details.backup = path
    item.details.backupEntries = count.entries
    const mismatch = compareWithFiles(item.fingerprint.mountpoint, count)
    if (mismatch) {
      settle(item, 'failed', `backup ${path} does not match the volume, volume kept: ${mismatch}`)
      return
    }

    await this.options.backupHooks?.afterBackup?.(item.name)
    const kept = `volume kept, backup at ${path}`
    // A backup takes time: the run is looked at again before the removal.
    const registry = await rereadRuns(this.options, [item], settle)
    if (!registry) return
    const back = revived(registry, item.fingerprint.runId)
    const now = back ? undefined : (await runtime.inspect('volume', [item.name])).get(item.name)
    const drift = back ?? volumeChanged(item, now)
    if (drift) {
      settle(item, 'skipped', `drift: ${drift}; ${kept}`)
      return
    }

    const use = await archiver.mountsSince(item.name, since)
    if ('doubt' in use) {
      settle(item, 'failed', `cannot tell whether a container used it since its backup began (${use.doubt}): ${kept}`)
      return
    }

    if (use.mountedBy.length > 0) {
      const who = use.mountedBy.map((id) => (/^[0-9a-f]{64}$/.test(id) ? id.slice(0, 12) : id)).join(', ')
      settle(item, 'skipped', `drift: mounted by container ${who} since its backup began: ${kept}`)
      return
    }

    if (ctx.signal?.aborted) return
    // By name and without force: the engine itself refuses a volume any container (even a stopped one) uses. On
    // record before it is sent and as its answer arrives (issue 21).
    await removeRecorded({ctx, runtime, settle}, 'volume', [item], {
      done: () => `backed up to ${path}, removed`,
      key: (volume) => volume.name,
      place: (volume) => ({createdMs: volume.fingerprint.createdMs}),
    })
  }

  private judge(ctx: TargetContext, entry: ScannedVolume): Planned {
    const {engine, registry, runId, runtime, users, volume} = entry
    const ageMs = volume.createdMs === undefined ? undefined : runtime.now() - volume.createdMs
    const item: Planned = {
      ageMs,
      decision: 'kept',
      details: {
        backup: this.options.backupDir === false ? 'none (--no-backup)' : `to ${this.options.backupDir}`,
        engine,
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
    if (this.options.backupDir !== false) {
      const unreadable = unreadableByHelper(volume)
      if (unreadable) return keep(`no backup can be made: ${unreadable}`)
      // The check between a backup and the removal reads the engine's event log (backUpAndRemove).
      if (runtime.identity?.kind === 'podman') {
        return keep("on podman, whose event log records no volume mounts, nothing could prove that no container wrote to it after a backup; back it up and remove it by hand")
      }
    }

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
    if (ready.length === 0 || ctx.signal?.aborted) return
    const dir = this.options.backupDir
    if (dir === false) {
      await this.removeWithoutBackup(ctx, runtime, ready, settle)
      return
    }

    // The helper is made on, and the copy read from, the engine the volumes live on: never the default one.
    const archiver = VolumeArchiver.on(runtime, (message) => ctx.warn(message))
    for (const item of ready) {
      if (ctx.signal?.aborted) return
      // One after another, each removed before the next backup starts: a backup stays current only until it is done.
      // eslint-disable-next-line no-await-in-loop
      await this.backUpAndRemove(ctx, {archiver, dir, runtime}, item, settle)
    }
  }

  /** --no-backup: the runs read again, then one removal for all. */
  private async removeWithoutBackup(ctx: TargetContext, runtime: Runtime, items: Planned[], settle: Settle): Promise<void> {
    const registry = await rereadRuns(this.options, items, settle)
    if (!registry) return
    const removable = items.filter((item) => {
      const why = revived(registry, item.fingerprint.runId)
      if (why) settle(item, 'skipped', `drift: ${why}`)
      return !why
    })
    if (removable.length === 0) return
    // By name and without force: the engine itself refuses a volume any container (even a stopped one) uses.
    await removeRecorded({ctx, runtime, settle}, 'volume', removable, {
      done: () => 'removed without a backup (--no-backup)',
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
  const alive = revived(registry, item.fingerprint.runId)
  if (alive) return alive
  const changed = volumeChanged(item, now)
  if (changed) return changed
  if (users.length > 0) return `in use by container ${describeUsers(users)}`
  return undefined
}

/** How the volume differs from the one judged: gone, replaced under its name, or relabelled. */
function volumeChanged(item: Planned, now: undefined | VolumeInfo): string | undefined {
  if (!now) return 'gone since the scan'
  if (now.createdMs !== item.fingerprint.createdMs) return 'changed since the scan: its CreatedAt moved (a new volume of that name, or an entry added at its top: Docker dates a local volume by its directory)'
  if (!sameLabels(now.labels, item.fingerprint.labels)) return 'labels changed since the scan'
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
