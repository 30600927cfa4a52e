// What a person at a real terminal sees (a pseudo-terminal from util-linux `script`): aligned rows that fit the
// width, colour unless NO_COLOR, the plan beside the question when stdout is redirected, Ctrl-C at the prompt.
import {existsSync, readFileSync, realpathSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {makeTempDir, makeTmpRoot, removeTmpRoot} from '../helpers/temp-fixtures.js'
import {plain, runOnTerminal} from '../helpers/terminal.js'

let root: string

beforeEach(() => {
  root = realpathSync(makeTmpRoot())
})

afterEach(() => {
  removeTmpRoot(root)
})

const ESC = '\u001B['

describe('at a terminal', () => {
  it('a dry run: a header and one aligned row per item that fits the width, the decision in colour; --verbose adds the details', async () => {
    const old = makeTempDir(root, 'moat-aws-1')
    makeTempDir(root, `moat-claude-${'7'.repeat(60)}`, 60_000)
    const run = await runOnTerminal(['system', 'clean-temp', '--tmp-dir', root, '--dry-run'], {columns: 70, env: {MOAT_HOME: root}})
    expect(run.exitCode).toBe(0)
    const lines = plain(run.output).split(/\r?\n/)
    const table = lines.filter((line) => line.startsWith('NAME') || line.startsWith('/'))
    expect(table).toHaveLength(3)
    for (const line of table) expect([...line].length).toBeLessThanOrEqual(70)
    expect(lines).toContainEqual(expect.stringMatching(/^NAME +AGE +SIZE +DECISION +REASON$/))
    expect(lines.filter((line) => line.includes('would remove'))).toEqual([expect.stringMatching(/^\/.*moat-aws-1 +3\.0h +18 B +would remove +\S/)])
    // The long name is cut in the middle: its end (the suffix that tells runs apart) stays.
    expect(lines).toContainEqual(expect.stringMatching(/…7+ +1m .*keep +young/))
    expect(run.output).toContain(`${ESC}36mwould remove${ESC}0m`)
    expect(run.output).not.toContain('holds AWS credential helper')

    const verbose = await runOnTerminal(['system', 'clean-temp', '--tmp-dir', root, '--dry-run', '--verbose'], {env: {MOAT_HOME: root}})
    expect(plain(verbose.output)).toContain('holds AWS credential helper, pattern moat-aws-*')
    expect(existsSync(old)).toBe(true)
  })

  it('NO_COLOR: the same rows without a single colour code', async () => {
    makeTempDir(root, 'moat-aws-1')
    const run = await runOnTerminal(['system', 'clean-temp', '--tmp-dir', root, '--dry-run'], {env: {MOAT_HOME: root, NO_COLOR: '1'}})
    expect(run.exitCode).toBe(0)
    expect(run.output).toContain('would remove')
    expect(plain(run.output)).toBe(run.output)
    expect(run.output).not.toContain(`${ESC}3`)
  })

  it('stdout redirected to a file: the plan is shown with the question on the terminal, the outcome goes to the file', async () => {
    const old = makeTempDir(root, 'moat-aws-1')
    const young = makeTempDir(root, 'moat-claude-2', 60_000)
    const file = join(root, 'out.txt')
    const run = await runOnTerminal(['system', 'clean-temp', '--tmp-dir', root], {
      answer: 'y\r',
      env: {MOAT_HOME: root},
      stdoutTo: file,
      waitFor: 'Remove these',
    })
    expect(run.exitCode).toBe(0)
    const shown = plain(run.output)
    const question = shown.indexOf('Remove these 1 temporary directory (18 B)?')
    expect(question).toBeGreaterThan(0)
    // Before the question: the row of what will go, and the one that stays.
    expect(shown.slice(0, question)).toMatch(new RegExp(`${old} +3\\.0h +18 B +remove +\\S`))
    expect(shown.slice(0, question)).toContain(young)
    const written = readFileSync(file, 'utf8')
    expect(written).toMatch(new RegExp(`${old} +3\\.0h +18 B +removed +\\S`))
    expect(written).toContain('1 removed (18 B freed)')
    expect(written).not.toContain('Remove these')
    expect(written).not.toContain(ESC)
    expect(existsSync(old)).toBe(false)
    expect(existsSync(young)).toBe(true)
  })

  it('Ctrl-C at the prompt: "Canceled.", nothing removed, exit 130', async () => {
    const old = makeTempDir(root, 'moat-aws-1')
    const run = await runOnTerminal(['system', 'clean-temp', '--tmp-dir', root], {answer: '\u0003', env: {MOAT_HOME: root}, waitFor: 'Remove these'})
    expect(run.exitCode).toBe(130)
    expect(plain(run.output)).toContain('Canceled.')
    expect(existsSync(old)).toBe(true)
  })

  it('Esc at the prompt is a no: "Canceled.", nothing removed, exit 0', async () => {
    const old = makeTempDir(root, 'moat-aws-1')
    const run = await runOnTerminal(['system', 'clean-temp', '--tmp-dir', root], {answer: '\u001B', env: {MOAT_HOME: root}, waitFor: 'Remove these'})
    expect(run.exitCode).toBe(0)
    expect(plain(run.output)).toContain('Canceled.')
    expect(existsSync(old)).toBe(true)
  })

  it('--json never prompts, even on a terminal: without --force or --dry-run it refuses, exit 2, nothing removed', async () => {
    const old = makeTempDir(root, 'moat-aws-1')
    const run = await runOnTerminal(['system', 'clean-temp', '--tmp-dir', root, '--json'], {env: {MOAT_HOME: root}})
    expect(run.exitCode).toBe(2)
    expect(run.output).not.toContain('Remove these')
    const doc = JSON.parse(plain(run.output).slice(plain(run.output).indexOf('{')))
    expect(doc).toMatchObject({error: {code: 'USAGE', exitCode: 2, message: expect.stringContaining('--json never prompts')}})
    expect(existsSync(old)).toBe(true)
  })
})
