import {mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import type {PipelineHooks, Report} from '../../src/lib/pipeline/pipeline.js'

import {runPipeline} from '../../src/lib/pipeline/pipeline.js'
import {type TempDirOptions, TempDirTarget} from '../../src/lib/targets/temp-dirs.js'

export const HOUR = 3_600_000

/** A private directory standing in for /tmp (prefix chosen to match no moat pattern). */
export function makeTmpRoot(): string {
  return mkdtempSync(join(tmpdir(), 'mst-'))
}

export function removeTmpRoot(root: string): void {
  rmSync(root, {force: true, recursive: true})
}

/**
 * Sets the mtime of a whole tree, deepest entries first (writing a file bumps its directory's mtime), every entry to
 * the same instant: the tree's newest entry is then the directory itself, whatever the load.
 */
export function ageTree(path: string, ageMs: number, when = new Date(Date.now() - ageMs)): void {
  for (const entry of readdirSync(path, {withFileTypes: true})) {
    const child = join(path, entry.name)
    if (entry.isDirectory()) ageTree(child, ageMs, when)
    else if (!entry.isSymbolicLink()) utimesSync(child, when, when)
  }

  utimesSync(path, when, when)
}

/** A moat-shaped temp dir with a few files, one in a subdirectory, all `ageMs` old. */
export function makeTempDir(root: string, name: string, ageMs = 3 * HOUR): string {
  const path = join(root, name)
  mkdirSync(join(path, 'sub', 'deeper'), {mode: 0o700, recursive: true})
  writeFileSync(join(path, 'credentials'), 'secret')
  writeFileSync(join(path, 'config'), '[default]\n')
  writeFileSync(join(path, 'sub', 'deeper', 'settings.json'), '{}')
  ageTree(path, ageMs)
  return path
}

export interface RunTempOptions extends Partial<Omit<TempDirOptions, 'roots'>> {
  confirm?: () => Promise<boolean>
  dryRun?: boolean
  hooks?: PipelineHooks
  minAgeMs?: number
}

/** The clean-temp pipeline over one private root, as the command runs it, without Docker. */
export function runTemp(root: string, options: RunTempOptions = {}): Promise<Report> {
  const target = new TempDirTarget({apple: false, docker: false, ...options, roots: [root]})
  return runPipeline([target], {
    confirm: options.confirm ?? (async () => true),
    dryRun: options.dryRun ?? false,
    hooks: options.hooks,
    minAgeMs: options.minAgeMs ?? HOUR,
  })
}

export function itemAt(report: Report, path: string) {
  const item = report.targets[0]!.items.find((candidate) => candidate.id === path)
  if (!item) throw new Error(`no item for ${path}; items: ${report.targets[0]!.items.map((i) => i.id).join(', ')}`)
  return item
}
