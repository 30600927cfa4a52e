// Every command's --json documents have one shape, from the registry, so a new target is covered without editing
// this file: the single-target document, `clean`'s and `reap --once`'s, and the one-line error document.
import {realpathSync} from 'node:fs'
import {afterEach, beforeEach, expect, it} from 'vitest'

import {TARGETS} from '../../src/lib/targets/index.js'
import {jsonOf, runCli} from '../helpers/cli.js'
import {describeEngine, engineEnv} from '../helpers/engine.js'
import {useMoatHome} from '../helpers/moat-fixtures.js'
import {makeTmpRoot, removeTmpRoot} from '../helpers/temp-fixtures.js'

const moat = useMoatHome()
let root: string

beforeEach(() => {
  root = realpathSync(makeTmpRoot())
})

afterEach(() => {
  removeTmpRoot(root)
})

// `unknown` (issue 21): removals the engine was sent and never confirmed or denied.
const TOTALS = ['bytesRemoved', 'candidates', 'failed', 'kept', 'orphans', 'removed', 'skipped', 'unknown']
const SECTION = ['items', 'target', 'totals']
const HEAD = ['canceled', 'dryRun', 'minAge', 'warnings']

function expectSection(section: Record<string, unknown>, kind: string): void {
  expect(section.target).toBe(kind)
  expect(Array.isArray(section.items)).toBe(true)
  expect(Object.keys(section.totals as object).sort()).toEqual(TOTALS)
}

const run = (args: string[]) => runCli(args, engineEnv({MOAT_HOME: moat.home}))
const tempArgs = (kind: string) => (kind === 'temp' ? ['--tmp-dir', root] : [])

describeEngine('--json documents', () => {
  it('each single-target command: the head, then its section at the top level', () => {
    for (const spec of TARGETS) {
      const result = run(['system', spec.command, '--dry-run', '--json', '--min-age', '90m', ...tempArgs(spec.kind)])
      expect(result.exitCode, `${spec.command}: ${result.stderr}`).toBe(0)
      const doc = jsonOf(result)
      expect(Object.keys(doc).sort(), spec.command).toEqual([...HEAD, ...SECTION].sort())
      expect(doc).toMatchObject({canceled: false, dryRun: true, minAge: '1h30m'})
      expectSection(doc, spec.kind)
    }
  })

  it('`clean` and `reap --once`: the head, a section per target in registry order, and the totals of all', () => {
    const kinds = TARGETS.map((spec) => spec.kind)
    const args = ['--dry-run', '--json', '--only', kinds.join(','), '--tmp-dir', root]
    const clean = jsonOf(run(['system', 'clean', ...args]))
    const reap = jsonOf(run(['system', 'reap', '--once', ...args, '--log-file', `${root}/reap.log`]))
    for (const doc of [clean, reap]) {
      expect(Object.keys(doc).sort()).toEqual([...HEAD, 'targets', 'totals'].sort())
      const sections = doc.targets as Array<Record<string, unknown>>
      expect(sections.map((section) => section.target)).toEqual(kinds)
      for (const [index, section] of sections.entries()) expectSection(section, kinds[index]!)
      expect(Object.keys(doc.totals as object).sort()).toEqual(TOTALS)
    }
  })

  it('a usage error in every command: one document, code USAGE, exit 2, the message on one line', () => {
    for (const command of [...TARGETS.map((spec) => spec.command), 'clean', 'reap']) {
      const result = run(['system', command, '--json', '--dry-run', '--min-age', 'soon'])
      expect(result.exitCode, command).toBe(2)
      const doc = jsonOf(result) as {error: Record<string, unknown>}
      expect(Object.keys(doc)).toEqual(['error'])
      expect(doc.error).toMatchObject({code: 'USAGE', exitCode: 2, message: expect.stringContaining('--min-age: "soon" is not a duration')})
      expect(doc.error.message).not.toContain('\n')
    }
  })
})
