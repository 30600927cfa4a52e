// Backups of Docker volumes made through the engine (moat-resources.md §5.1: a workspace volume is the only copy of
// an agent's work): one helper container per pass, created and never started, mounts every volume read-only, and
// `docker cp <helper>:/backup/<volume> -` streams each as a tar, which is counted, gzipped to a private file,
// read back and counted again before the caller may remove the volume.
import {spawn} from 'node:child_process'
import {join} from 'node:path'
import {Writable} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {createGunzip, createGzip} from 'node:zlib'

import {createFileStream, outputDirectory, publishFile, readStream, removeFile, syncEntry, temporaryName} from '../host/checked-fs.js'
import {type TarCount, TarCounter} from '../host/tar-count.js'
import {firstLine} from './batch.js'
import {DockerCli} from './docker.js'
import {execFile} from './exec.js'

/**
 * No registry can be assumed reachable, so the helper's image is imported by this tool: a tar holding one empty
 * directory. It has no program at all, so nothing can run in it; it only gives the helper a root to mount into.
 */
export const HELPER_IMAGE = 'moat-system/volume-backup:1'
/** Marks helpers, so a pass killed before removing its helper is cleaned up by a later one. */
export const HELPER_LABEL = 'moat-system.volume-backup'
/** A `docker cp` that sends nothing for this long is taken as hung. */
const IDLE_TIMEOUT_MS = 60_000

export interface Backup {
  count: TarCount
  path: string
}

export type BackupOutcome = {backup: Backup; ok: true} | {ok: false; reason: string}

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

export class VolumeArchiver {
  private constructor(
    private readonly docker: DockerCli,
    readonly helper: string,
  ) {}

  /** Creates the helper (importing its image when missing) with these volumes mounted read-only. */
  static async open(volumes: readonly string[], docker = new DockerCli()): Promise<VolumeArchiver> {
    const image = await docker.call(['image', 'inspect', '--format', '{{.Id}}', HELPER_IMAGE])
    if (image.exitCode !== 0) {
      // Every byte of this tar is ASCII or NUL, so it survives as a string on stdin.
      const input = emptyRootTar().toString('latin1')
      const imported = await execFile('docker', ['import', '--change', 'CMD ["/none"]', '-', HELPER_IMAGE], {input, timeoutMs: 60_000})
      if (imported.exitCode !== 0) throw new Error(`could not import the backup helper image: ${firstLine(imported.stderr)}`)
    }

    const mounts = volumes.flatMap((volume) => ['--volume', `${volume}:/backup/${volume}:ro`])
    const created = await docker.call(['create', '--label', `${HELPER_LABEL}=1`, '--network', 'none', ...mounts, HELPER_IMAGE])
    if (created.exitCode !== 0) throw new Error(`could not create the backup helper: ${firstLine(created.stderr)}`)
    return new VolumeArchiver(docker, created.stdout.trim())
  }

  /**
   * Copies one volume into `<dir>/<volume>-<UTC time>.tar.gz` (0600). The archive is counted as the engine sends it,
   * written and synced under a hidden `.partial` name, read back and counted again, and only then given its name; on
   * any failure nothing is left behind and the outcome says why. Both files are made by this tool alone
   * (host/checked-fs.ts): the temporary one under an unpredictable name with O_EXCL|O_NOFOLLOW in a real directory,
   * the final name given with link(2), which never replaces what is there.
   */
  async backup(volume: string, dir: string): Promise<BackupOutcome> {
    const path = join(dir, `${volume}-${backupStamp()}.tar.gz`)
    const partial = temporaryName(path, 'partial')
    let made = false
    try {
      outputDirectory(dir)
      const file = createFileStream(partial, 0o600)
      made = true
      const sent = await this.copyOut(volume, partial, file)
      const reread = await countArchive(partial)
      if (reread.error) throw new Error(`the written archive does not read back: ${reread.error}`)
      if (reread.entries !== sent.entries || reread.bytes !== sent.bytes) {
        throw new Error(`the written archive holds ${reread.entries} entries and ${reread.bytes} bytes, the engine sent ${sent.entries} and ${sent.bytes}`)
      }

      publishFile(partial, path)
      made = false
      syncEntry(dir)
      return {backup: {count: reread, path}, ok: true}
    } catch (error) {
      if (made) removeFile(partial)
      return {ok: false, reason: (error as Error).message}
    }
  }

  /** Removes the helper (never started, so without force). */
  async close(): Promise<void> {
    const removed = await this.docker.call(['rm', this.helper])
    if (removed.exitCode !== 0 && !/no such container/i.test(removed.stderr)) {
      throw new Error(`could not remove the backup helper ${this.helper.slice(0, 12)}: ${firstLine(removed.stderr)}`)
    }
  }

  private async copyOut(volume: string, file: string, out: Writable): Promise<TarCount> {
    const child = spawn('docker', ['cp', `${this.helper}:/backup/${volume}`, '-'], {stdio: ['ignore', 'pipe', 'pipe']})
    let stderr = ''
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk
    })
    const exited = new Promise<number>((resolve, reject) => {
      child.on('error', reject)
      child.on('close', (code) => resolve(code ?? -1))
    })
    let idle: NodeJS.Timeout | undefined
    const watchdog = () => {
      clearTimeout(idle)
      idle = setTimeout(() => child.kill('SIGKILL'), IDLE_TIMEOUT_MS)
    }

    child.stdout.on('data', watchdog)
    watchdog()
    const counter = new TarCounter()
    try {
      await pipeline(child.stdout, counter, createGzip(), out)
    } finally {
      clearTimeout(idle)
      out.destroy()
    }

    syncEntry(file)
    const code = await exited
    if (code !== 0) throw new Error(`docker cp exited with ${code}: ${firstLine(stderr) || 'no message'}`)
    if (counter.count.error) throw new Error(`the engine sent no readable archive: ${counter.count.error}`)
    return counter.count
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
