// moat-system's optional `moat` front (bin/moat-front, README "The moat front"), installed as the README says (a
// symlink named moat in a directory before the real moat on PATH), with a fake real moat: a script that records how
// it was run. The front must run moat-system's own commands and hand everything else to the real moat unchanged, as
// that very process (exec), and never loop.
import {copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {fakeMoatRun, killTyped, makeFakeMoat, typeMoat} from '../helpers/fake-moat.js'
import {until} from '../helpers/until.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const FRONT = join(ROOT, 'bin/moat-front')
const COMMANDS = Object.keys(JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8')).commands as object)

let dir: string
/** Where the front is installed (the README's ~/.local/bin), where the fake real moat is, and a scratch dir. */
let front: string
let real: string
let scratch: string

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'front-'))
  front = join(dir, 'front')
  real = join(dir, 'real')
  scratch = join(dir, 'scratch')
  mkdirSync(front)
  mkdirSync(scratch)
  symlinkSync(FRONT, join(front, 'moat'))
  makeFakeMoat(real)
})
afterEach(() => {
  killTyped()
  rmSync(dir, {force: true, recursive: true})
})

/** An environment whose PATH is these directories, then node's and the system's. */
function envWith(path: readonly string[], extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {HOME: scratch, MOAT_HOME: join(scratch, 'home'), PATH: [...path, dirname(process.execPath), '/usr/bin', '/bin'].join(':'), ...extra}
}

/** Without what a shell itself sets on its way (PWD, SHLVL, _): the environment a program was given. */
function given(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !['_', 'OLDPWD', 'PWD', 'SHLVL'].includes(name)))
}

describe('the moat front, before the real moat on PATH', () => {
  it.each([
    [['run', '--name', 'a b', '', '*', 'two\nlines', '--', '-x', '$HOME']],
    [['attach', 'run_0123456789ab']],
    [['system', 'containers']],
    [['system', 'images', '--all']],
    [['system']],
    [['system', '--help']],
    [['system', 'clean-tmp']],
    [['system', "clean'; echo"]],
    [['--version']],
    [['System', 'clean-temp']],
    [[]],
  ])('hands %j to the real moat: the same arguments, stdin, stdout, stderr, environment and exit code, as the same process', async (args) => {
    const env = envWith([front, real], {FAKE_MOAT_EXIT: '42', SOME_SETTING: 'kept as it is'})
    const run = typeMoat(args, env, 'stdin for moat\n')
    const {child} = run
    const result = await run
    expect(result).toMatchObject({code: 42, signal: null, stderr: 'fake moat: stderr\n', stdout: 'stdin for moat\n'})
    const seen = fakeMoatRun(real)!
    expect(seen.args).toEqual(args)
    // exec, not a child: the real moat runs as the very process the shell started.
    expect(seen.pid).toBe(child.pid)
    expect(given(seen.env)).toEqual(given(env))
  })

  it.each(['SIGINT', 'SIGTERM', 'SIGHUP'] as const)('%s reaches the real moat itself and ends it as it would end it run directly', async (signal) => {
    const run = typeMoat(['run', 'claude'], envWith([front, real], {FAKE_MOAT_SLEEP: '60'}))
    await until('the real moat to run', () => fakeMoatRun(real) !== undefined)
    expect(fakeMoatRun(real)!.pid).toBe(run.child.pid)
    run.child.kill(signal)
    expect(await run).toMatchObject({code: null, signal})
  })

  it("runs each of moat-system's commands itself, and never the real moat for them", async () => {
    const ours = COMMANDS.filter((id) => id.startsWith('system:')).map((id) => id.slice('system:'.length))
    expect(ours).toEqual(expect.arrayContaining(['clean', 'clean-temp', 'reap', 'status']))
    const env = envWith([front, real])
    for (const name of ours) {
      const help = await typeMoat(['system', name, '--help'], env)
      expect(help.code, help.stderr).toBe(0)
      expect(help.stdout).toContain(`$ moat-system system ${name}`)
    }

    const plan = await typeMoat(['system', 'clean-temp', '--dry-run', '--json', '--tmp-dir', scratch], env)
    expect(plan.code, plan.stderr).toBe(0)
    expect(JSON.parse(plan.stdout)).toMatchObject({dryRun: true, items: []})
    expect(fakeMoatRun(real)).toBeUndefined()
  })

  it('moat system reap through the front is the reaper itself: SIGINT stops it the documented way (exit 0)', async () => {
    const log = join(scratch, 'reap.log')
    const env = envWith([front, real])
    const run = typeMoat(['system', 'reap', '--interval', '1h', '--only', 'temp', '--tmp-dir', scratch, '--log-file', log], env)
    const passes = () => {
      try {
        return readFileSync(log, 'utf8').includes('"event":"pass"')
      } catch {
        return false
      }
    }

    await until('the first pass', passes)
    run.child.kill('SIGINT')
    // A front that ran the reaper as its child would not pass the signal on, and the reaper would go on.
    const stop = setTimeout(killTyped, 15_000)
    const result = await run
    clearTimeout(stop)
    expect(result).toMatchObject({code: 0, signal: null})
    expect(result.stdout).toContain('Reaper stopped after 1 pass')
    expect(fakeMoatRun(real)).toBeUndefined()
  })

  it('reached through a chain of symlinks, it still finds moat-system and the real moat', async () => {
    const chain = join(dir, 'chain')
    mkdirSync(chain)
    symlinkSync(FRONT, join(chain, 'moat-front'))
    rmSync(join(front, 'moat'))
    symlinkSync('../chain/moat-front', join(front, 'moat'))
    const env = envWith([front, real])
    expect((await typeMoat(['system', 'clean-temp', '--dry-run', '--tmp-dir', scratch], env)).stdout).toContain('No moat temporary directories found.')
    expect(fakeMoatRun(real)).toBeUndefined()
    expect((await typeMoat(['run'], env)).code).toBe(0)
    expect(fakeMoatRun(real)!.args).toEqual(['run'])
  })
})

describe('the moat front, with the real moat earlier on PATH', () => {
  it('is never reached: moat is the real moat for every command, moat system clean-temp included', async () => {
    const env = envWith([real, front])
    const result = await typeMoat(['system', 'clean-temp', '--dry-run'], env)
    expect(result.code).toBe(0)
    expect(fakeMoatRun(real)!.args).toEqual(['system', 'clean-temp', '--dry-run'])
  })

  it('run by its own path, it still hands what is not its own to that moat, not to itself', async () => {
    const env = envWith([real, front])
    const result = await typeMoat(['attach', 'x'], {...env, PATH: `${front}:${env.PATH}`})
    expect(result.code).toBe(0)
    expect(fakeMoatRun(real)!.args).toEqual(['attach', 'x'])
  })
})

describe('the moat front never loops', () => {
  it('without a real moat: the front twice on PATH, a copy of it, a link to a link: one line, exit 127', async () => {
    const copy = join(dir, 'copy')
    const twice = join(dir, 'twice')
    mkdirSync(copy)
    mkdirSync(twice)
    copyFileSync(FRONT, join(copy, 'moat'))
    symlinkSync(join(front, 'moat'), join(twice, 'moat'))
    const env = envWith([front, front, copy, twice, front])
    const run = typeMoat(['run', 'x'], env)
    // A front that execs itself again would never end.
    const stop = setTimeout(killTyped, 10_000)
    const result = await run
    clearTimeout(stop)
    expect(result.code).toBe(127)
    expect(result.stdout).toBe('')
    expect(result.stderr).toMatch(/^moat: no moat on PATH besides moat-system's front \(.*\/moat\), which runs only `moat system <moat-system command>`\. Install moat \(https:\/\/github\.com\/majorcontext\/moat\), or remove the front\.\n$/)
  })

  it('a copy of the front (not a symlink into the package) still hands every command to the real moat', async () => {
    const copy = join(dir, 'copy')
    mkdirSync(copy)
    copyFileSync(FRONT, join(copy, 'moat'))
    const env = envWith([copy, real])
    const result = await typeMoat(['system', 'clean-temp', '--dry-run'], env)
    expect(result.code).toBe(0)
    expect(result.stderr).toMatch(/^moat: moat-system's front \(.*copy\/moat\) is not in moat-system's package; make it a symlink/)
    expect(fakeMoatRun(real)!.args).toEqual(['system', 'clean-temp', '--dry-run'])
  })
})
