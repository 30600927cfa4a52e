// Backups of Docker volumes, made through the engine the volume lives on (moat-resources.md §5.1: a workspace volume is
// the only copy of an agent's work; §12.1: a run's objects live on its own engine). Per volume, one helper container,
// created and never started, gets the volume's own directory (its Mountpoint on the engine's host) bind-mounted
// read-only: a bind mount of a directory that is not there is an error, where a volume mount of a name that is not
// there would make a new, empty volume. Its tar is read through the same engine (GET /containers/{id}/archive, or
// `docker cp` with that engine's address), counted, gzipped to a private file, read back and counted again before
// the caller may remove the volume. The engine's event log then says whether any container mounted the volume
// between the helper's creation and the removal.
import type {IncomingMessage} from 'node:http'
import type {Readable} from 'node:stream'

import {spawn} from 'node:child_process'
import {join} from 'node:path'
import {Writable} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {createGunzip, createGzip} from 'node:zlib'

import type {Runtime, VolumeInfo} from './types.js'

import {createFileStream, outputDirectory, publishFile, readStream, removeFile, syncEntry, temporaryName} from '../host/checked-fs.js'
import {type TarCount, TarCounter} from '../host/tar-count.js'
import {firstLine} from './batch.js'
import {DockerApi} from './docker-api.js'
import {DockerCli} from './docker.js'
import {execFile} from './exec.js'

/**
 * No registry can be assumed reachable, so the helper's image is imported by this tool: a tar holding one empty
 * directory. It has no program at all, so nothing can run in it; it only gives the helper a root to mount into.
 */
export const HELPER_IMAGE = 'moat-system/volume-backup:1'
/** Marks helpers, so a pass killed before removing its helper is cleaned up by a later one. */
export const HELPER_LABEL = 'moat-system.volume-backup'
/** A copy that sends nothing for this long is taken as hung. */
const IDLE_TIMEOUT_MS = 60_000
/** Replies read whole (an event list of one volume, an error): far more than they ever hold. */
const REPLY_LIMIT = 4 * 1024 * 1024

export interface Backup {
  count: TarCount
  path: string
  /** The engine's time when the helper was made (`<seconds>.<nanoseconds>`, its event-log format): what mountsSince() asks from. */
  since: string
}

/** `drift`: the volume itself is gone or not the one judged (a skip, not a failure). */
export type BackupOutcome = {backup: Backup; ok: true} | {drift?: boolean; ok: false; reason: string}

/** What the engine says of a volume between two instants: the containers that mounted it, or why it cannot say. */
export type VolumeUse = {doubt: string} | {mountedBy: string[]}

/** The tar of one directory entry `backup/` (ustar): the whole helper image. */
function emptyRootTar(): Buffer {
  const header = Buffer.alloc(512)
  header.write('backup/', 0, 'latin1')
  header.write('0000755\0', 100, 'latin1')
  header.write('0000000\0', 108, 'latin1')
  header.write('0000000\0', 116, 'latin1')
  header.write('00000000000\0', 124, 'latin1')
  header.write('00000000000\0', 136, 'latin1')
  header.write('        ', 148, 'latin1')
  header.write('5', 156, 'latin1')
  header.write('ustar\0', 257, 'latin1')
  header.write('00', 263, 'latin1')
  let sum = 0
  for (const byte of header) sum += byte
  header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1')
  return Buffer.concat([header, Buffer.alloc(1024)])
}

/** `20261201T223500Z`: sortable, and without the colons some file systems refuse. */
export function backupStamp(date = new Date()): string {
  return date.toISOString().replaceAll(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')
}

/** An engine's RFC 3339 time (any precision, any offset) as its event log takes it: `<unix seconds>.<nanoseconds>`. */
export function eventTime(rfc3339: string): string | undefined {
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/i.exec(rfc3339.trim())
  if (!match) return undefined
  const seconds = Date.parse(`${match[1]}${match[3]}`) / 1000
  if (!Number.isFinite(seconds)) return undefined
  return `${seconds}.${(match[2] ?? '').padEnd(9, '0').slice(0, 9)}`
}

/** Why this volume's files cannot be bind-mounted into a helper, if they cannot (what is checked at plan time too). */
export function unreadableByHelper(volume: Pick<VolumeInfo, 'driver' | 'mountpoint' | 'options'>): string | undefined {
  if (volume.driver && volume.driver !== 'local') return `its driver ${volume.driver} keeps the files where no backup helper can read them`
  if (volume.options && Object.keys(volume.options).length > 0) {
    return `a local volume with mount options (${Object.keys(volume.options).sort().join(', ')}) holds its files only while mounted`
  }

  if (!volume.mountpoint) return 'the engine gives no mountpoint for it'
  return undefined
}

/** The engine calls a backup needs, through the Engine API or the docker CLI. */
interface HelperEngine {
  archive(helper: string, path: string): Promise<{done: Promise<void>; kill(): void; stream: Readable}>
  create(volume: string, mountpoint: string): Promise<string>
  createdAt(helper: string): Promise<string>
  hasImage(): Promise<boolean>
  importImage(tar: Buffer): Promise<void>
  now(): Promise<string>
  remove(helper: string): Promise<void>
  volumeEvents(volume: string, since: string, until: string): Promise<Array<{action: string; container: string}>>
}

export class VolumeArchiver {
  private imageReady?: Promise<void>

  private constructor(
    private readonly runtime: Runtime,
    private readonly engine: HelperEngine,
    private readonly warn: (message: string) => void,
  ) {}

  /** The archiver for volumes of this Docker engine; throws for a runtime that has no volumes. */
  static on(runtime: Runtime, warn: (message: string) => void = () => {}): VolumeArchiver {
    if (runtime instanceof DockerApi) return new VolumeArchiver(runtime, apiEngine(runtime), warn)
    if (runtime instanceof DockerCli) return new VolumeArchiver(runtime, cliEngine(runtime), warn)
    throw new Error(`${runtime.name} has no volumes to back up`)
  }

  /**
   * Copies one volume into `<dir>/<volume>-<UTC time>.tar.gz` (0600), through a helper made for it and removed
   * after. The volume must still be the one judged (`createdMs`) before and after the helper is made. The archive
   * is counted as the engine sends it, written and synced under a `.partial` name, read back and counted again, and
   * only then given its name; on any failure nothing is left behind and the outcome says why.
   */
  async backup(volume: {createdMs: number | undefined; name: string}, dir: string): Promise<BackupOutcome> {
    let helper: string
    try {
      const current = await this.current(volume)
      if ('reason' in current) return current
      const unreadable = unreadableByHelper(current.info)
      if (unreadable) return {ok: false, reason: `no backup, volume kept: ${unreadable}`}
      await (this.imageReady ??= this.ensureImage())
      helper = await this.engine.create(volume.name, current.info.mountpoint!)
    } catch (error) {
      this.imageReady = undefined
      return {ok: false, reason: `no backup, volume kept: ${(error as Error).message.split('\n')[0]}`}
    }

    try {
      // Made for the directory of the volume judged: the name may have been given to a new volume in between.
      const still = await this.current(volume)
      if ('reason' in still) return still
      const created = eventTime(await this.engine.createdAt(helper))
      if (!created) throw new Error('the engine gave no creation time for the backup helper')
      const outcome = await this.copy(helper, volume.name, dir)
      return outcome.ok ? {backup: {...outcome.backup, since: created}, ok: true} : outcome
    } catch (error) {
      return {ok: false, reason: `backup failed, volume kept: ${(error as Error).message}`}
    } finally {
      // Never started, so removed without force; one left behind is removed by a later pass once stale (volumes.ts).
      await this.engine.remove(helper).catch((error: Error) => this.warn(error.message))
    }
  }

  /**
   * The containers that mounted (or unmounted) the volume between `since` and the engine's time now, from its event
   * log; any doubt (no event log, an engine that does not answer) is said, never taken for "none".
   */
  async mountsSince(volume: string, since: string): Promise<VolumeUse> {
    if (this.runtime.identity?.kind === 'podman') return {doubt: "podman's event log does not record volume mounts"}
    try {
      const until = eventTime(await this.engine.now())
      if (!until) return {doubt: 'the engine gave no time'}
      const events = await this.engine.volumeEvents(volume, since, until)
      return {mountedBy: [...new Set(events.filter((event) => event.action === 'mount' || event.action === 'unmount').map((event) => event.container))]}
    } catch (error) {
      return {doubt: (error as Error).message.split('\n')[0]!}
    }
  }

  /**
   * Copies, counts, writes and verifies one volume's tar; the helper is already made. Written and synced under a
   * hidden `.partial` name, read back and counted again, and only then given its name. Both files are made by this
   * tool alone (host/checked-fs.ts): the temporary one under an unpredictable name with O_EXCL|O_NOFOLLOW in a real
   * directory, the final name given with link(2), which never replaces what is there.
   */
  private async copy(helper: string, volume: string, dir: string): Promise<BackupOutcome> {
    const path = join(dir, `${volume}-${backupStamp()}.tar.gz`)
    const partial = temporaryName(path, 'partial')
    let made = false
    try {
      outputDirectory(dir)
      const file = createFileStream(partial, 0o600)
      made = true
      const sent = await this.copyOut(helper, volume, partial, file)
      const reread = await countArchive(partial)
      if (reread.error) throw new Error(`the written archive does not read back: ${reread.error}`)
      if (reread.entries !== sent.entries || reread.bytes !== sent.bytes) {
        throw new Error(`the written archive holds ${reread.entries} entries and ${reread.bytes} bytes, the engine sent ${sent.entries} and ${sent.bytes}`)
      }

      publishFile(partial, path)
      made = false
      syncEntry(dir)
      return {backup: {count: reread, path, since: ''}, ok: true}
    } catch (error) {
      if (made) removeFile(partial)
      return {ok: false, reason: `backup failed, volume kept: ${(error as Error).message}`}
    }
  }

  private async copyOut(helper: string, volume: string, file: string, out: Writable): Promise<TarCount> {
    const copy = await this.engine.archive(helper, `/backup/${volume}`)
    let idle: NodeJS.Timeout | undefined
    const watchdog = () => {
      clearTimeout(idle)
      idle = setTimeout(() => copy.kill(), IDLE_TIMEOUT_MS)
    }

    copy.stream.on('data', watchdog)
    watchdog()
    const counter = new TarCounter()
    try {
      await pipeline(copy.stream, counter, createGzip(), out)
    } finally {
      clearTimeout(idle)
      out.destroy()
    }

    syncEntry(file)
    await copy.done
    if (counter.count.error) throw new Error(`the engine sent no readable archive: ${counter.count.error}`)
    return counter.count
  }

  /** The volume as the engine has it now, or why it is not the one judged. */
  private async current(volume: {createdMs: number | undefined; name: string}): Promise<{drift: true; ok: false; reason: string} | {info: VolumeInfo}> {
    const info = (await this.runtime.inspect('volume', [volume.name])).get(volume.name)
    if (!info) return {drift: true, ok: false, reason: 'gone since the scan'}
    if (info.createdMs !== volume.createdMs) return {drift: true, ok: false, reason: 'changed since the scan: its CreatedAt moved (a new volume of that name, or an entry added at its top: Docker dates a local volume by its directory)'}
    return {info}
  }

  private async ensureImage(): Promise<void> {
    if (!(await this.engine.hasImage())) await this.engine.importImage(emptyRootTar())
  }
}

/** Entries and bytes of a .tar.gz, read from disk. */
export async function countArchive(path: string): Promise<TarCount> {
  const counter = new TarCounter()
  try {
    // Drained into nothing: only the count matters.
    await pipeline(readStream(path), createGunzip(), counter, new Writable({write: (_chunk, _encoding, next) => next()}))
  } catch (error) {
    return {...counter.count, error: (error as Error).message}
  }

  return counter.count
}

/** A reply's body as text, up to REPLY_LIMIT (then the request is dropped: an error, not a crash). */
async function readBody(res: IncomingMessage): Promise<string> {
  let body = ''
  res.setEncoding('utf8')
  for await (const chunk of res) {
    body += chunk as string
    if (body.length > REPLY_LIMIT) {
      res.destroy()
      throw new Error(`the engine's reply is larger than ${REPLY_LIMIT} bytes`)
    }
  }

  return body
}

async function expectOk(res: IncomingMessage, what: string): Promise<string> {
  const body = await readBody(res)
  const status = res.statusCode ?? 0
  if (status >= 200 && status < 300) return body
  let message = body.trim() || `HTTP ${status}`
  try {
    message = (JSON.parse(body) as {message?: string}).message ?? message
  } catch {}

  throw new Error(`${what}: Error response from daemon: ${message}`)
}

/** The helper's container: no network, never started, the volume's directory read-only at /backup/<volume>. */
function helperSpec(volume: string, mountpoint: string): Record<string, unknown> {
  return {
    HostConfig: {Mounts: [{ReadOnly: true, Source: mountpoint, Target: `/backup/${volume}`, Type: 'bind'}], NetworkMode: 'none'},
    Image: HELPER_IMAGE,
    Labels: {[HELPER_LABEL]: '1'},
    NetworkDisabled: true,
  }
}

function eventFilters(volume: string): string {
  return encodeURIComponent(JSON.stringify({event: ['mount', 'unmount'], type: ['volume'], volume: [volume]}))
}

/** JSON lines of an event list: each event's action and the container it names. */
function parseEvents(text: string): Array<{action: string; container: string}> {
  return text
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => {
      const event = JSON.parse(line) as {Action?: string; Actor?: {Attributes?: {container?: string}}; status?: string}
      return {action: event.Action ?? event.status ?? '', container: event.Actor?.Attributes?.container ?? 'a container'}
    })
}

function apiEngine(api: DockerApi): HelperEngine {
  const image = encodeURIComponent(HELPER_IMAGE)
  return {
    async archive(helper, path) {
      const res = await api.open('GET', `/containers/${encodeURIComponent(helper)}/archive?path=${encodeURIComponent(path)}`, {timeoutMs: IDLE_TIMEOUT_MS})
      if (res.statusCode !== 200) await expectOk(res, 'reading the volume through the backup helper')
      const done = new Promise<void>((resolve, reject) => {
        res.on('end', resolve)
        res.on('aborted', () => reject(new Error('the engine stopped sending the archive')))
        res.on('error', reject)
      })
      // The pipeline reports an error first; this one must not be unhandled.
      done.catch(() => {})
      return {done, kill: () => res.destroy(new Error(`the engine sent nothing for ${IDLE_TIMEOUT_MS / 1000}s`)), stream: res}
    },
    async create(volume, mountpoint) {
      const body = Buffer.from(JSON.stringify(helperSpec(volume, mountpoint)))
      const created = await expectOk(await api.open('POST', '/containers/create', {body}), 'could not create the backup helper')
      return (JSON.parse(created) as {Id: string}).Id
    },
    async createdAt(helper) {
      const body = await expectOk(await api.open('GET', `/containers/${encodeURIComponent(helper)}/json`), 'could not inspect the backup helper')
      return (JSON.parse(body) as {Created?: string}).Created ?? ''
    },
    async hasImage() {
      const res = await api.open('GET', `/images/${image}/json`)
      if (res.statusCode === 404) {
        res.resume()
        return false
      }

      await expectOk(res, 'could not inspect the backup helper image')
      return true
    },
    async importImage(tar) {
      const [repo, tag] = HELPER_IMAGE.split(':') as [string, string]
      const query = `fromSrc=-&repo=${encodeURIComponent(repo)}&tag=${tag}&changes=${encodeURIComponent('CMD ["/none"]')}`
      const body = await expectOk(await api.open('POST', `/images/create?${query}`, {body: tar, contentType: 'application/x-tar', timeoutMs: 60_000}), 'could not import the backup helper image')
      // The import reports its progress, and a failure, as JSON lines in a 200 reply.
      const failed = body.split('\n').find((line) => line.includes('"error"'))
      if (failed) throw new Error(`could not import the backup helper image: ${(JSON.parse(failed) as {error: string}).error}`)
    },
    async now() {
      const body = await expectOk(await api.open('GET', '/info'), 'could not read the engine time')
      return (JSON.parse(body) as {SystemTime?: string}).SystemTime ?? ''
    },
    async remove(helper) {
      const res = await api.open('DELETE', `/containers/${encodeURIComponent(helper)}`)
      if (res.statusCode === 404) res.resume()
      else await expectOk(res, `could not remove the backup helper ${helper.slice(0, 12)}`)
    },
    async volumeEvents(volume, since, until) {
      const res = await api.open('GET', `/events?since=${since}&until=${until}&filters=${eventFilters(volume)}`)
      return parseEvents(await expectOk(res, 'could not read the event log'))
    },
  }
}

function cliEngine(cli: DockerCli): HelperEngine {
  const ok = async (args: string[], what: string) => {
    const result = await cli.call(args)
    if (result.exitCode !== 0) throw new Error(`${what}: ${firstLine(result.stderr) || `docker exited with ${result.exitCode}`}`)
    return result.stdout.trim()
  }

  return {
    async archive(helper, path) {
      const child = spawn('docker', ['cp', `${helper}:${path}`, '-'], {env: {...process.env, ...cli.env}, stdio: ['ignore', 'pipe', 'pipe']})
      let stderr = ''
      child.stderr.setEncoding('utf8')
      child.stderr.on('data', (chunk: string) => {
        stderr += chunk
      })
      const done = new Promise<void>((resolve, reject) => {
        child.on('error', reject)
        child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`docker cp exited with ${code}: ${firstLine(stderr) || 'no message'}`))))
      })
      done.catch(() => {})
      return {done, kill: () => child.kill('SIGKILL'), stream: child.stdout}
    },
    async create(volume, mountpoint) {
      // A bind mount of a directory that is not there fails; `--volume <name>:...` would create the volume.
      const mount = `type=bind,source=${mountpoint},target=/backup/${volume},readonly`
      return ok(['create', '--label', `${HELPER_LABEL}=1`, '--network', 'none', '--mount', mount, HELPER_IMAGE], 'could not create the backup helper')
    },
    createdAt: async (helper) => JSON.parse(await ok(['container', 'inspect', '--format', '{{json .Created}}', helper], 'could not inspect the backup helper')) as string,
    hasImage: async () => (await cli.call(['image', 'inspect', '--format', '{{.Id}}', HELPER_IMAGE])).exitCode === 0,
    async importImage(tar) {
      // Every byte of this tar is ASCII or NUL, so it survives as a string on stdin.
      const imported = await execFile('docker', ['import', '--change', 'CMD ["/none"]', '-', HELPER_IMAGE], {env: cli.env, input: tar.toString('latin1'), timeoutMs: 60_000})
      if (imported.exitCode !== 0) throw new Error(`could not import the backup helper image: ${firstLine(imported.stderr)}`)
    },
    now: async () => JSON.parse(await ok(['info', '--format', '{{json .SystemTime}}'], 'could not read the engine time')) as string,
    async remove(helper) {
      const removed = await cli.call(['rm', helper])
      if (removed.exitCode !== 0 && !/no such container/i.test(removed.stderr)) {
        throw new Error(`could not remove the backup helper ${helper.slice(0, 12)}: ${firstLine(removed.stderr)}`)
      }
    },
    async volumeEvents(volume, since, until) {
      const args = ['events', '--since', since, '--until', until, '--filter', 'type=volume', '--filter', `volume=${volume}`, '--format', '{{json .}}']
      return parseEvents(await ok(args, 'could not read the event log'))
    },
  }
}
