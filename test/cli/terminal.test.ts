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

  it('the prompt is one plain line with the answer echoed after it; bold where colour is wanted, not a cursor code anywhere', async () => {
    const old = makeTempDir(root, 'moat-aws-1')
    const run = await runOnTerminal(['system', 'clean-temp', '--tmp-dir', root], {answer: 'y', env: {MOAT_HOME: root}, waitFor: '[y/N] '})
    expect(run.exitCode).toBe(0)
    expect(run.output).toContain(`${ESC}1mRemove these 1 temporary directory (18 B)?${ESC}22m [y/N] yes\r\n`)
    // Only SGR (colour, bold) codes: no cursor movement, no hidden cursor, no erased line.
    // eslint-disable-next-line no-control-regex
    expect(run.output.replaceAll(/\u001B\[[\d;]*m/g, '')).not.toContain('\u001B')
    expect(existsSync(old)).toBe(false)
  })

  it.each([
    ['NO_COLOR=1', {NO_COLOR: '1'}],
    ['TERM=dumb', {TERM: 'dumb'}],
  ])('%s: plan, question, answer and outcome without a single escape code', async (_, env) => {
    const old = makeTempDir(root, 'moat-aws-1')
    const run = await runOnTerminal(['system', 'clean-temp', '--tmp-dir', root], {answer: 'y', env: {MOAT_HOME: root, ...env}, waitFor: '[y/N] '})
    expect(run.exitCode).toBe(0)
    expect(run.output).not.toContain('\u001B')
    expect(run.output).toContain('\r\nRemove these 1 temporary directory (18 B)? [y/N] yes\r\n')
    expect(run.output).toMatch(new RegExp(`${old} +3\\.0h +18 B +removed +unchanged for 3\\.0h`))
    expect(existsSync(old)).toBe(false)
  })

  it.each([
    ['n', 'no'],
    ['\r', 'no'],
    ['\u0004', 'no'],
    ['x\u001B', 'no'],
  ])('%j at the prompt answers %s: "Canceled.", nothing removed, exit 0 (any other key is ignored)', async (answer, echoed) => {
    const old = makeTempDir(root, 'moat-aws-1')
    const run = await runOnTerminal(['system', 'clean-temp', '--tmp-dir', root], {answer, env: {MOAT_HOME: root, NO_COLOR: '1'}, waitFor: '[y/N] '})
    expect(run.exitCode).toBe(0)
    expect(run.output).toContain(`[y/N] ${echoed}\r\nCanceled.`)
    expect(existsSync(old)).toBe(true)
  })

  it('--quiet at a prompt: the plan it asks about still shows; after it, one summary line', async () => {
    const old = makeTempDir(root, 'moat-aws-1')
    const run = await runOnTerminal(['system', 'clean-temp', '--tmp-dir', root, '--quiet'], {answer: 'y', env: {MOAT_HOME: root, NO_COLOR: '1'}, waitFor: '[y/N] '})
    expect(run.exitCode).toBe(0)
    const [plan, after] = run.output.split('[y/N] yes\r\n')
    expect(plan).toMatch(new RegExp(`${old} +3\\.0h +18 B +remove +`))
    expect(after).toBe('Temporary directories: 1 found, 1 removed (18 B freed), 0 kept, 0 skipped, 0 failed.\r\n')
    expect(existsSync(old)).toBe(false)
  })

  it('Ctrl-C at the prompt: "Canceled.", nothing removed, exit 130', async () => {
    const old = makeTempDir(root, 'moat-aws-1')
    const run = await runOnTerminal(['system', 'clean-temp', '--tmp-dir', root], {answer: '\u0003', env: {MOAT_HOME: root}, waitFor: 'Remove these'})
    expect(run.exitCode).toBe(130)
    expect(plain(run.output)).toContain('Canceled.')
    expect(existsSync(old)).toBe(true)
  })

  it('SIGTERM while the question waits answers it as Ctrl-C would: "Canceled.", nothing removed, exit 143', async () => {
    const old = makeTempDir(root, 'moat-aws-1')
    const run = await runOnTerminal(['system', 'clean-temp', '--tmp-dir', root], {env: {MOAT_HOME: root, NO_COLOR: '1'}, signal: 'SIGTERM', waitFor: '[y/N] '})
    expect(run.exitCode).toBe(143)
    expect(run.output).toMatch(/\[y\/N\] SIGTERM: [^\r\n]*\r\n\r\nCanceled\.\r\n/)
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
