import {chmodSync, existsSync, mkdirSync, readdirSync, realpathSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {jsonOf, runCli, startCli} from '../helpers/cli.js'
import {describeEngine, dockerOk, engineEnv} from '../helpers/engine.js'
import {createRunContainer, newRunId, removeAllForRun} from '../helpers/moat-fixtures.js'
import {makeTempDir, makeTmpRoot, removeTmpRoot} from '../helpers/temp-fixtures.js'

let root: string

beforeEach(() => {
  root = realpathSync(makeTmpRoot())
})

afterEach(() => {
  removeTmpRoot(root)
})

const cleanTemp = (...args: string[]) => runCli(['system', 'clean-temp', '--tmp-dir', root, ...args])

describe('moat system clean-temp', () => {
  it('--dry-run prints the plan on stdout, notes on stderr, and deletes nothing', () => {
    const old = makeTempDir(root, 'moat-aws-1')
    const young = makeTempDir(root, 'moat-claude-2', 60_000)
    const result = cleanTemp('--dry-run')
    expect(result.exitCode).toBe(0)
    expect(result.stdout).toContain(old)
    expect(result.stdout).toContain('holds AWS credential helper, pattern moat-aws-*')
    expect(result.stdout).toMatch(/would remove/)
    expect(result.stdout).toMatch(/keep: young/)
    expect(result.stdout).toContain('Dry run: nothing was removed.')
    expect(result.stderr).not.toContain(old)
    expect(existsSync(old) && existsSync(young)).toBe(true)
  })

  it('--force --json removes orphans and prints one clean JSON document', () => {
    const old = makeTempDir(root, 'moat-aws-1')
    const young = makeTempDir(root, 'moat-claude-2', 60_000)
    const result = cleanTemp('--force', '--json')
    expect(result.exitCode).toBe(0)
    const doc = jsonOf(result)
    expect(doc).toMatchObject({dryRun: false, minAge: '1h', target: 'temp', totals: {kept: 1, removed: 1}})
    expect(doc.items).toEqual(
      expect.arrayContaining([
        expect.objectContaining({bytes: 18, decision: 'removed', id: old, pattern: 'moat-aws-*'}),
        expect.objectContaining({decision: 'kept', id: young, reason: expect.stringMatching(/^young/)}),
      ]),
    )
    expect(existsSync(old)).toBe(false)
    expect(existsSync(young)).toBe(true)
  })

  it('without a terminal and without --force or --dry-run: exit 2, one line, nothing deleted', () => {
    const old = makeTempDir(root, 'moat-aws-1')
    const result = cleanTemp()
    expect(result.exitCode).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr).toMatch(/no terminal.*--dry-run.*--force/)
    expect(existsSync(old)).toBe(true)

    const json = cleanTemp('--json')
    expect(json.exitCode).toBe(2)
    expect(jsonOf(json)).toMatchObject({error: {code: 'USAGE', exitCode: 2}})
    expect(existsSync(old)).toBe(true)
  })

  it.each([['abc'], ['-1h'], ['1x'], ['']])('--min-age %j: exit 2 with a message naming the flag', (value) => {
    const old = makeTempDir(root, 'moat-aws-1')
    const result = cleanTemp('--force', `--min-age=${value}`)
    expect(result.exitCode).toBe(2)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr).toContain('--min-age')
    expect(result.stderr).toMatch(/such as 90s/)
    expect(existsSync(old)).toBe(true)

    const json = cleanTemp('--force', '--json', `--min-age=${value}`)
    expect(json.exitCode).toBe(2)
    expect(jsonOf(json)).toMatchObject({error: {exitCode: 2, message: expect.stringContaining('--min-age')}})
  })

  it('accepts Go-style durations such as 1h30m and 0s', () => {
    const fresh = makeTempDir(root, 'moat-aws-1', 60_000)
    expect(jsonOf(cleanTemp('--dry-run', '--json', '--min-age', '1h30m')).items?.[0]).toMatchObject({decision: 'kept'})
    expect(jsonOf(cleanTemp('--dry-run', '--json', '--min-age', '0s')).items?.[0]).toMatchObject({decision: 'orphan'})
    expect(existsSync(fresh)).toBe(true)
  })

  it('a --tmp-dir that does not exist is a usage error', () => {
    const result = runCli(['system', 'clean-temp', '--dry-run', '--tmp-dir', join(root, 'missing')])
    expect(result.exitCode).toBe(2)
    expect(result.stderr).toMatch(/--tmp-dir: .*missing.*e\.g\. --tmp-dir/)
  })

  it('a failed deletion exits 3 and says why', () => {
    const old = makeTempDir(root, 'moat-aws-1')
    // A quarantine that others can read is refused: nothing may be moved through it.
    mkdirSync(join(root, `moat-system-quarantine-${process.getuid!()}`))
    chmodSync(join(root, `moat-system-quarantine-${process.getuid!()}`), 0o755)
    const result = cleanTemp('--force', '--json')
    expect(result.exitCode).toBe(3)
    expect(jsonOf(result)).toMatchObject({
      items: [expect.objectContaining({decision: 'failed', reason: expect.stringContaining('not a private directory')})],
      totals: {failed: 1, removed: 0},
    })
    expect(existsSync(old)).toBe(true)

    const human = cleanTemp('--force')
    expect(human.exitCode).toBe(3)
    expect(human.stdout).toMatch(/FAILED: quarantine/)
  })

  it('an engine that cannot be reached is noted once on stderr and the clean goes on', () => {
    const old = makeTempDir(root, 'moat-aws-1')
    const result = runCli(['system', 'clean-temp', '--tmp-dir', root, '--force', '--json'], {
      DOCKER_HOST: `unix://${join(root, 'no-such.sock')}`,
    })
    expect(result.exitCode).toBe(0)
    expect(result.stderr.match(/Docker engine not reachable/g)).toHaveLength(1)
    expect(jsonOf(result)).toMatchObject({totals: {removed: 1}, warnings: [expect.stringContaining('not reachable')]})
    expect(existsSync(old)).toBe(false)
  })
})

describeEngine('moat system clean-temp with a running container', () => {
  it('keeps a dir a running container bind-mounts and names the container; removes it once the container is gone', async () => {
    const runId = newRunId()
    const mounted = makeTempDir(root, 'moat-aws-77')
    const free = makeTempDir(root, 'moat-aws-78')
    await createRunContainer(runId, {mounts: [`${mounted}:/moat/aws:ro`]})
    try {
      const result = runCli(['system', 'clean-temp', '--tmp-dir', root, '--force', '--json'], engineEnv())
      expect(result.exitCode).toBe(0)
      expect(jsonOf(result).items).toEqual(
        expect.arrayContaining([
          expect.objectContaining({decision: 'kept', id: mounted, reason: expect.stringContaining(`running container ${runId}`)}),
          expect.objectContaining({decision: 'removed', id: free}),
        ]),
      )
      expect(readdirSync(mounted)).toContain('credentials')
    } finally {
      await removeAllForRun(runId)
    }

    await expect(dockerOk(['ps', '-aq', '--filter', `name=${runId}`])).resolves.toBe('')
    const after = runCli(['system', 'clean-temp', '--tmp-dir', root, '--force', '--json'], engineEnv())
    expect(jsonOf(after).items).toEqual([expect.objectContaining({decision: 'removed', id: mounted})])
  })
})

describe('limits on one pass', () => {
  it('--max-delete refuses an oversized pass: nothing removed, exit 3, says why', () => {
    const dirs = ['moat-aws-1', 'moat-aws-2', 'moat-aws-3'].map((name) => makeTempDir(root, name))
    const result = cleanTemp('--force', '--json', '--max-delete', '2')
    expect(result.exitCode).toBe(3)
    const doc = jsonOf(result)
    expect(doc.refused).toMatch(/3 items to remove is more than --max-delete 2/)
    expect(doc.items?.map((item) => item.decision)).toEqual(['skipped', 'skipped', 'skipped'])
    for (const dir of dirs) expect(existsSync(dir)).toBe(true)
    expect(cleanTemp('--force', '--max-delete', '3').exitCode).toBe(0)
    for (const dir of dirs) expect(existsSync(dir)).toBe(false)
  })

  it('two forced runs started together: every orphan removed exactly once, the second reports the lock', async () => {
    const count = 600
    for (let i = 0; i < count; i++) makeTempDir(root, `moat-build-${i}`)
    const home = realpathSync(makeTmpRoot())
    try {
      const env = {MOAT_HOME: home}
      const first = startCli(['system', 'clean-temp', '--tmp-dir', root, '--force', '--json'], env)
      // Start the second as soon as the first holds the lock.
      while (!existsSync(join(home, '.moat-system.lock'))) {
        await new Promise((resolve) => {
          setImmediate(resolve)
        })
      }

      const second = startCli(['system', 'clean-temp', '--tmp-dir', root, '--force', '--json'], env)
      const [a, b] = await Promise.all([first, second])
      expect([a.exitCode, b.exitCode]).toEqual([0, 0])
      expect(jsonOf(a)).toMatchObject({totals: {failed: 0, removed: count, skipped: 0}})
      expect(jsonOf(b)).toMatchObject({busy: true, lockHolder: {command: 'system:clean-temp'}})
      expect(readdirSync(root)).toEqual([])
    } finally {
      removeTmpRoot(home)
    }
  })
})
