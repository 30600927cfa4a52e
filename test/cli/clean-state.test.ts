// `moat system clean-state` as a user runs it: the built CLI over a real MOAT_HOME.
import {existsSync, mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {itemsByName, jsonOf, runCli} from '../helpers/cli.js'
import {newRunId, useMoatHome} from '../helpers/moat-fixtures.js'
import {ageTree, HOUR} from '../helpers/temp-fixtures.js'

describe('moat system clean-state', () => {
  const home = useMoatHome()
  const run = (args: string[]) => runCli(['system', 'clean-state', ...args], {MOAT_HOME: home.home, PATH: '/usr/bin:/bin'})

  it('--dry-run lists an ended run\'s socket dir; --force --json removes it', () => {
    const dir = join(home.home, 'sockets', newRunId())
    mkdirSync(dir, {recursive: true})
    writeFileSync(join(dir, 'agent.sock'), '')
    ageTree(dir, 3 * HOUR)
    const plan = run(['--dry-run', '--json'])
    expect(plan.exitCode).toBe(0)
    expect(itemsByName(plan)[dir]).toMatchObject({decision: 'orphan', kind: 'socket dir'})
    expect(existsSync(dir)).toBe(true)
    const done = run(['--force', '--json'])
    expect(done.exitCode).toBe(0)
    expect(jsonOf(done)).toMatchObject({target: 'state', totals: {removed: 1}})
    expect(existsSync(dir)).toBe(false)
  })

  it('bad run-dir flags are usage errors, exit 2', () => {
    const grace = run(['--dry-run', '--include-run-dirs', '--run-dir-grace', 'soon'])
    expect(grace.exitCode).toBe(2)
    expect(grace.stderr).toMatch(/^Error: --run-dir-grace: "soon" is not a duration; use one such as 24h, 3d or 1w\.\n$/)
    expect(run(['--dry-run', '--purge-run-dirs']).exitCode).toBe(2)
  })
})
