// For cron and scripts: --quiet prints only errors (stderr) and the final summary line (stdout) of every command that
// prints a report, and `status --exit-zero` gives 0 whatever is orphaned. Temp dirs on a host with no container runtime
// (no DOCKER_HOST, no docker context, no docker CLI on PATH): nothing here needs an engine.
import {execFileSync} from 'node:child_process'
import {existsSync, readFileSync, realpathSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {jsonOf, runCli} from '../helpers/cli.js'
import {itAsRoot} from '../helpers/root.js'
import {makeTempDir, makeTmpRoot, removeTmpRoot} from '../helpers/temp-fixtures.js'

let root: string
let env: NodeJS.ProcessEnv

beforeEach(() => {
  root = realpathSync(makeTmpRoot())
  env = {DOCKER_CONFIG: root, MOAT_HOME: join(root, 'home'), PATH: dirname(process.execPath)}
})

afterEach(() => {
  removeTmpRoot(root)
})

const run = (args: string[]) => runCli(['system', ...args, '--tmp-dir', root], env)

describe('--quiet', () => {
  it('clean-temp: one summary line on stdout and nothing on stderr (its notes are for the JSON alone); without it, the plan and the notes', () => {
    const old = makeTempDir(root, 'moat-aws-1')
    makeTempDir(root, 'moat-claude-2', 60_000)
    const loud = run(['clean-temp', '--dry-run'])
    expect(loud.stdout).toContain('NAME')
    expect(loud.stderr).toContain('Note: No container runtime on this host')

    expect(run(['clean-temp', '--dry-run', '--quiet'])).toEqual({exitCode: 0, stderr: '', stdout: 'Temporary directories: 2 found, 1 would be removed (18 B), 1 kept.\n'})
    expect(existsSync(old)).toBe(true)
    expect(run(['clean-temp', '--force', '-q'])).toEqual({exitCode: 0, stderr: '', stdout: 'Temporary directories: 2 found, 1 removed (18 B freed), 1 kept, 0 skipped, 0 failed.\n'})
    expect(existsSync(old)).toBe(false)
    expect(run(['clean-temp', '--force', '-q', '--tmp-dir', join(root, 'home')]).stdout).toBe('')
  })

  it('clean-temp with nothing there: the line says so', () => {
    expect(run(['clean-temp', '--force', '--quiet'])).toEqual({exitCode: 0, stderr: '', stdout: 'No moat temporary directories found.\n'})
  })

  it('clean: the grand total is the line', () => {
    makeTempDir(root, 'moat-aws-1')
    const result = run(['clean', '--dry-run', '--quiet'])
    expect(result).toEqual({exitCode: 0, stderr: '', stdout: 'Total: 1 found, 1 would be removed (18 B), 0 kept.\n'})
  })

  it('--json is unchanged: the whole document, its warnings included', () => {
    makeTempDir(root, 'moat-aws-1')
    const result = run(['clean-temp', '--dry-run', '--quiet', '--json'])
    expect(result.exitCode).toBe(0)
    expect(result.stderr).toBe('')
    expect(jsonOf(result)).toMatchObject({items: [{decision: 'orphan'}], warnings: [expect.stringMatching(/^moat home .* does not exist/), expect.stringMatching(/^No container runtime/)]})
  })

  itAsRoot('a failure: each failed item on stderr with why, the summary on stdout, exit 3', () => {
    const old = makeTempDir(root, 'moat-aws-1')
    execFileSync('mount', ['--bind', root, root])
    try {
      execFileSync('mount', ['-o', 'remount,bind,ro', root])
      const result = run(['clean-temp', '--force', '--quiet'])
      expect(result.exitCode).toBe(3)
      expect(result.stderr).toBe(`Failed: temp ${old}: cannot create a quarantine in ${root}: EROFS\n`)
      expect(result.stdout).toBe('Temporary directories: 1 found, 0 removed (0 B freed), 0 kept, 0 skipped, 1 failed.\n')
    } finally {
      execFileSync('umount', [root])
    }
  })

  it('a pass refused by --max-delete: the refusal on stderr, the summary on stdout, exit 3', () => {
    for (const name of ['moat-aws-1', 'moat-aws-2']) makeTempDir(root, name)
    const result = run(['clean-temp', '--force', '--quiet', '--max-delete', '1'])
    expect(result).toEqual({
      exitCode: 3,
      stderr: 'Refused: 2 items to remove is more than --max-delete 1; nothing was removed.\n',
      stdout: 'Temporary directories: 2 found, 0 removed (0 B freed), 0 kept, 2 skipped, 0 failed.\n',
    })
  })

  it('reap --once: the one line it always ends with, and the audit trail in --log-file as ever', () => {
    makeTempDir(root, 'moat-aws-1')
    const log = join(root, 'reap.log')
    const result = run(['reap', '--once', '--only', 'temp', '--quiet', '--log-file', log])
    expect(result).toEqual({exitCode: 0, stderr: '', stdout: 'Reaper stopped after 1 pass: 1 removed, 0 skipped, 0 failed.\n'})
    expect(readFileSync(log, 'utf8')).toMatch(/"decision":"removed"/)
  })
})

describe('status --quiet and --exit-zero', () => {
  it('--quiet: the line that says what to run; exit 4 while something is orphaned, 0 once nothing is', () => {
    makeTempDir(root, 'moat-aws-1')
    expect(run(['status', '--quiet'])).toEqual({exitCode: 4, stderr: '', stdout: 'To clean: 1 orphan, 18 B. Run moat-system clean-temp (1).\n'})
    run(['clean-temp', '--force', '--quiet'])
    expect(run(['status', '-q'])).toEqual({exitCode: 0, stderr: '', stdout: 'Nothing to clean.\n'})
  })

  it('--exit-zero: exit 0 with something to clean, in text and JSON; the document still says so', () => {
    makeTempDir(root, 'moat-aws-1')
    const text = run(['status', '--exit-zero'])
    expect(text.exitCode).toBe(0)
    expect(text.stdout).toContain('To clean: 1 orphan, 18 B.')
    const json = run(['status', '--exit-zero', '--json'])
    expect(json.exitCode).toBe(0)
    expect(jsonOf(json)).toMatchObject({somethingToClean: true, totals: {orphans: 1}})
    expect(run(['status', '--json']).exitCode).toBe(4)
  })

  it('--exit-zero keeps an error an error: a runtime that is there and does not answer is still exit 1', () => {
    makeTempDir(root, 'moat-aws-1')
    const result = runCli(['system', 'status', '--exit-zero', '--tmp-dir', root], {...env, DOCKER_HOST: `unix://${join(root, 'no-such.sock')}`})
    expect(result.exitCode).toBe(1)
  })
})
