// `--filter` on the built binary, without an engine (temp dirs on a host with no container runtime): until= is
// --min-age by docker's name, run= narrows every command that runs a pass, and a bad filter is one usage line.
// The run filters against real engine objects: test/cli/clean.test.ts.
import {realpathSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {TARGETS} from '../../src/lib/targets/index.js'
import {jsonOf, runCli} from '../helpers/cli.js'
import {HOUR, makeTempDir, makeTmpRoot, removeTmpRoot} from '../helpers/temp-fixtures.js'

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

describe('--filter until=<duration>', () => {
  it('is --min-age: the same plan, echoed as minAge', () => {
    const old = makeTempDir(root, 'moat-aws-1', 30 * HOUR)
    const day = makeTempDir(root, 'moat-aws-2', 3 * HOUR)
    const byFilter = jsonOf(run(['clean-temp', '--dry-run', '--json', '--filter', 'until=24h']))
    const byFlag = jsonOf(run(['clean-temp', '--dry-run', '--json', '--min-age', '24h']))
    expect(byFilter.minAge).toBe('24h')
    const decisions = (doc: typeof byFilter) => Object.fromEntries(doc.items!.map((item) => [item.id, [item.decision, item.reason]]))
    expect(decisions(byFilter)).toEqual(decisions(byFlag))
    expect(decisions(byFilter)[old]![0]).toBe('orphan')
    expect(decisions(byFilter)[day]).toEqual(['kept', 'young: the directory itself modified 3.0h ago (--min-age 24h)'])
  })

  it('with --min-age as well, or not a duration: one usage line, exit 2', () => {
    expect(run(['clean-temp', '--dry-run', '--filter', 'until=2h', '--min-age', '1h'])).toEqual({
      exitCode: 2,
      stderr: 'Error: --filter until=2h and --min-age 1h say the same thing twice; give one, e.g. --min-age 24h\n',
      stdout: '',
    })
    expect(run(['clean-temp', '--dry-run', '--filter', 'until=soon']).stderr).toBe(
      'Error: --filter until: "soon" is not a duration; use one such as until=90s, until=24h or until=7d.\n',
    )
  })
})

describe('--filter run=<id>', () => {
  it('narrows status and reap as it does clean: a temp dir, tied to no run, is then not theirs to count or remove', () => {
    const old = makeTempDir(root, 'moat-aws-1')
    const status = run(['status', '--json', '--filter', 'run=run_0123456789ab'])
    expect(status.exitCode).toBe(0)
    expect(jsonOf(status)).toMatchObject({filter: ['run=run_0123456789ab'], somethingToClean: false, totals: {found: 1, orphans: 0}})
    const reap = run(['reap', '--once', '--only', 'temp', '--json', '--filter', 'run!=run_0123456789ab', '--log-file', join(root, 'reap.log')])
    expect(jsonOf(reap)).toMatchObject({
      filter: ['run!=run_0123456789ab'],
      targets: [{items: [{decision: 'kept', id: old, reason: "--filter run!=run_0123456789ab: tied to no run, so it may be that run's"}]}],
    })
  })

  it('a bad filter is one usage line (exit 2) in every command, also as the JSON error', () => {
    const commands = [...TARGETS.map((spec) => spec.command), 'clean', 'reap', 'status']
    for (const command of commands) {
      const dry = command === 'status' ? [] : ['--dry-run']
      const human = runCli(['system', command, ...dry, '--filter', 'label=moat.role=service'], env)
      expect(human.exitCode, command).toBe(2)
      expect(human.stderr, command).toMatch(/^Error: --filter label=moat\.role=service: labels are not a filter here: [^\n]+\n$/)
      const json = runCli(['system', command, '--json', ...dry, '--filter', 'run=latest'], env)
      expect(jsonOf(json), command).toEqual({
        error: {code: 'USAGE', exitCode: 2, message: '--filter run=latest: "latest" is not a run ID (run_ and 12 hex digits), e.g. --filter run=run_0123456789ab', name: 'Error'},
      })
    }
  })
})
