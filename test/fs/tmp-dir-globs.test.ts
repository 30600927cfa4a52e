// `--tmp-dir '/var/folders/*/*/T'`: a quoted glob lists the real directories it matches, never through a symlink its
// wildcards meet, and the temp target scans each as it scans a literal --tmp-dir. Against real directories.
import {mkdirSync, readdirSync, realpathSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {InputError} from '../../src/lib/exit-codes.js'
import {expandDirGlobs, hasGlobMagic} from '../../src/lib/host/dir-globs.js'
import {runPipeline} from '../../src/lib/pipeline/pipeline.js'
import {TempDirTarget} from '../../src/lib/targets/temp-dirs.js'
import {HOUR, makeTempDir, makeTmpRoot, removeTmpRoot} from '../helpers/temp-fixtures.js'

let root: string
let outside: string

beforeEach(() => {
  root = realpathSync(makeTmpRoot())
  outside = realpathSync(makeTmpRoot())
  // What macOS has: /var/folders/<xx>/<hash>/T, one per user; here also things a glob must not take.
  for (const user of ['ab/one', 'cd/two']) mkdirSync(join(root, 'folders', user, 'T'), {recursive: true})
  mkdirSync(join(root, 'folders', 'ef', 'three'), {recursive: true})
  writeFileSync(join(root, 'folders', 'ef', 'three', 'T'), 'a file, not a directory')
  // A symlink where the pattern has a wildcard, to a directory outside with the same shape.
  mkdirSync(join(outside, 'elsewhere', 'T'), {recursive: true})
  symlinkSync(outside, join(root, 'folders', 'zz'))
  // A symlink where the pattern's last part is matched: a "T" that points outside.
  mkdirSync(join(root, 'folders', 'gh', 'four'), {recursive: true})
  symlinkSync(join(outside, 'elsewhere', 'T'), join(root, 'folders', 'gh', 'four', 'T'))
})

afterEach(() => {
  removeTmpRoot(root)
  removeTmpRoot(outside)
})

describe('hasGlobMagic', () => {
  it.each(['/var/folders/*/*/T', '/tmp/moat-?', '/tmp/[ab]', '/tmp/{a,b}', '/tmp/@(a|b)', '/tmp/**'])('%j is a glob', (value) => {
    expect(hasGlobMagic(value)).toBe(true)
  })

  it.each(['/tmp', '/var/tmp/', 'relative/dir', '/tmp/a-b_c.d', '/tmp/a(1)', '/tmp/x!y'])('%j is a literal path', (value) => {
    expect(hasGlobMagic(value)).toBe(false)
  })
})

describe('expandDirGlobs', () => {
  it('lists the real directories the pattern matches, resolved and sorted, never through a symlink it meets', async () => {
    const notes: string[] = []
    const dirs = await expandDirGlobs([join(root, 'folders/*/*/T')], (message) => notes.push(message))
    expect(dirs).toEqual([join(root, 'folders/ab/one/T'), join(root, 'folders/cd/two/T')])
    expect(notes).toEqual([])
  })

  it('follows a symlink the pattern names literally (/var on macOS), and resolves what it lists', async () => {
    symlinkSync(join(root, 'folders'), join(root, 'alias'))
    const dirs = await expandDirGlobs([join(root, 'alias/*/one/T')], () => {})
    expect(dirs).toEqual([join(root, 'folders/ab/one/T')])
  })

  it('a pattern that matches nothing is a note, not an error; each directory is listed once', async () => {
    const notes: string[] = []
    const pattern = join(root, 'nowhere/*/T')
    const dirs = await expandDirGlobs([pattern, join(root, 'folders/ab/*/T'), join(root, 'folders/[a]b/one/T')], (message) => notes.push(message))
    expect(dirs).toEqual([join(root, 'folders/ab/one/T')])
    expect(notes).toEqual([`--tmp-dir '${pattern}' matches no directory: nothing scanned for it.`])
  })
})

describe('the temp target over a --tmp-dir glob', () => {
  it('removes old moat dirs in every matched directory and nothing reached through a symlink', async () => {
    const first = makeTempDir(join(root, 'folders/ab/one/T'), 'moat-aws-1')
    const second = makeTempDir(join(root, 'folders/cd/two/T'), 'moat-claude-2')
    const young = makeTempDir(join(root, 'folders/cd/two/T'), 'moat-npm-3', 60_000)
    const beyondLink = makeTempDir(join(outside, 'elsewhere/T'), 'moat-aws-4')
    const missing = join(root, 'gone/*/T')
    const target = new TempDirTarget({apple: false, docker: false, roots: [join(root, 'folders/*/*/T'), missing]})
    const report = await runPipeline([target], {confirm: async () => true, dryRun: false, minAgeMs: HOUR})

    const decisions = Object.fromEntries(report.targets[0]!.items.map((item) => [item.id, item.decision]))
    expect(decisions).toEqual({[first]: 'removed', [second]: 'removed', [young]: 'kept'})
    expect(readdirSync(join(root, 'folders/cd/two/T'))).toEqual(['moat-npm-3'])
    expect(readdirSync(join(outside, 'elsewhere/T'))).toEqual(['moat-aws-4'])
    expect(readdirSync(beyondLink).sort()).toEqual(['config', 'credentials', 'sub'])
    expect(report.warnings).toContain(`--tmp-dir '${missing}' matches no directory: nothing scanned for it.`)
  })

  it('expands at every scan: a directory made after the target was built is scanned by the next pass', async () => {
    const target = new TempDirTarget({apple: false, docker: false, roots: [join(root, 'late/*')]})
    const options = {confirm: async () => true, dryRun: true, minAgeMs: HOUR}
    expect((await runPipeline([target], options)).targets[0]!.items).toEqual([])
    const late = makeTempDir(join(root, 'late', 'T'), 'moat-aws-5')
    expect((await runPipeline([target], options)).targets[0]!.items).toEqual([expect.objectContaining({decision: 'orphan', id: late})])
  })

  it('a literal --tmp-dir beside a glob is still checked at once: a missing one is a usage error', () => {
    expect(() => new TempDirTarget({apple: false, docker: false, roots: [join(root, 'folders/*/*/T'), join(root, 'missing')]})).toThrow(InputError)
  })
})
