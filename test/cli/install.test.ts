// moat-system as a user installs it: this checkout packed (`npm pack`; `npm test` has built it), then `npm i -g` into
// an npm prefix that already holds a `moat` (a fake real moat: a script that records how it was run), and again with
// `--prefix ~/.local` as the README's "for yourself only". Then the README's own lines, exactly as written, with HOME
// and npm's prefix pointing into this test's directory: the `moat` front set-up, the systemd and launchd copies and
// the cron line, and the commands the units and the agent start, under the PATH that cron, the systemd user manager and
// launchd give. systemctl, loginctl and launchctl themselves are not run (no user manager here, not macOS).
import {spawnSync, type SpawnSyncReturns} from 'node:child_process'
import {existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, statSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {parse as parsePlist} from 'plist'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {fakeMoatRun, fakeMoatScript, killTyped, makeFakeMoat, typeMoat} from '../helpers/fake-moat.js'
import {itAsRoot} from '../helpers/root.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const README = readFileSync(join(ROOT, 'README.md'), 'utf8')
/** Where Docker's engine is when nothing says otherwise (moat-resources.md §12.1): never asked by these tests. */
const DEFAULT_SOCKET = '/var/run/docker.sock'

/** The one README line that contains `text`. */
function readmeLine(text: string): string {
  const lines = README.split('\n').filter((line) => line.includes(text))
  expect(lines, `README lines containing ${text}`).toHaveLength(1)
  return lines[0]!
}

/** The environment of a shell that never ran npm: none of the npm_config_* that `npm test` hands its children. */
function withoutNpmConfig(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !/^npm_/i.test(name)))
}

function ok(result: SpawnSyncReturns<string>, what: string): string {
  expect(result.status, `${what}:\n${result.stdout}${result.stderr}`).toBe(0)
  return result.stdout
}

let scratch: string
/** The user's home: ~/.moat (moat's home, with runs/), ~/.local (the --prefix ~/.local install). */
let home: string
/** An npm prefix that held moat's binary before moat-system was installed into it. */
let prefix: string
/** Where the fake moat in that prefix writes down how it was run. */
let moatRecord: string
let moatInode: number

beforeAll(() => {
  // Not under /tmp: the tests that run a real pass hide /tmp behind an empty tmpfs, so that the pass sees nothing of
  // this machine's /tmp (it deletes with --force semantics).
  mkdirSync('/var/tmp', {recursive: true})
  scratch = mkdtempSync('/var/tmp/mst-install-')
  home = join(scratch, 'home')
  prefix = join(scratch, 'prefix')
  moatRecord = join(scratch, 'moat-record')
  mkdirSync(join(home, '.moat/runs'), {recursive: true})
  mkdirSync(moatRecord)
  mkdirSync(join(scratch, 'tmp'))
  makeFakeMoat(join(prefix, 'bin'), moatRecord)
  moatInode = statSync(join(prefix, 'bin/moat')).ino

  const env = withoutNpmConfig(process.env)
  const packed = ok(spawnSync('npm', ['pack', '--ignore-scripts', '--pack-destination', scratch], {cwd: ROOT, encoding: 'utf8', env}), 'npm pack')
  const tarball = join(scratch, packed.trim().split('\n').at(-1)!)
  for (const into of [prefix, join(home, '.local')]) {
    const args = ['i', '-g', tarball, '--prefix', into, '--prefer-offline', '--no-audit', '--no-fund']
    ok(spawnSync('npm', args, {cwd: scratch, encoding: 'utf8', env}), `npm ${args.join(' ')}`)
  }
}, 300_000)

afterAll(() => {
  killTyped()
  if (scratch) rmSync(scratch, {force: true, recursive: true})
})

/** The environment of a user's shell whose npm installs into the prefix that held moat, with HOME this test's home. */
function userEnv(path: readonly string[]): NodeJS.ProcessEnv {
  // A TMPDIR of its own: npm run by Node 22 or later (the Node first on this PATH) keeps Node's compile cache in
  // $TMPDIR/node-compile-cache, which a test must not leave in the machine's /tmp.
  // eslint-disable-next-line camelcase -- npm's own name for its setting
  return {HOME: home, npm_config_prefix: prefix, PATH: [...path, dirname(process.execPath), '/usr/bin', '/bin'].join(':'), TMPDIR: join(scratch, 'tmp')}
}

/** Runs a README line as written, in bash (the lines use brace expansion, as interactive bash and zsh take them). */
function runLine(line: string, env: NodeJS.ProcessEnv): SpawnSyncReturns<string> {
  return spawnSync('bash', ['-c', line], {cwd: home, encoding: 'utf8', env})
}

/**
 * Runs `argv` with `env` as the service manager would, in a private mount namespace (root) whose /tmp is an empty
 * tmpfs, and where this machine has a Docker socket at the default address, its directory too: a pass there deletes
 * nothing of this machine and asks no engine of it.
 */
function inPrivateTmp(argv: readonly string[], env: NodeJS.ProcessEnv): SpawnSyncReturns<string> {
  const hide = ['/tmp', ...(existsSync(DEFAULT_SOCKET) ? [dirname(realpathSync(DEFAULT_SOCKET))] : [])]
  const script = 'for dir in $HIDE; do mount -t tmpfs none "$dir" || exit 99; done; unset HIDE; exec "$@"'
  return spawnSync('/usr/bin/unshare', ['--mount', '--propagation', 'private', '/bin/sh', '-c', script, 'sh', ...argv], {
    encoding: 'utf8',
    env: {...env, HIDE: hide.join(' ')},
    input: '',
    timeout: 60_000,
  })
}

/** The audit trail's pass events, from the log a pass wrote. */
function passEvents(log: string): Array<Record<string, unknown>> {
  return readFileSync(log, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line.event === 'pass')
}

describe('npm i -g into a prefix that already holds moat', () => {
  it('succeeds, leaves that moat exactly as it was and adds only moat-system', async () => {
    expect(readdirSync(join(prefix, 'bin')).sort()).toEqual(['moat', 'moat-system'])
    const moat = join(prefix, 'bin/moat')
    expect(lstatSync(moat).isSymbolicLink()).toBe(false)
    expect(statSync(moat).ino).toBe(moatInode)
    expect(readFileSync(moat, 'utf8')).toBe(fakeMoatScript(moatRecord))

    const moatSystem = join(prefix, 'bin/moat-system')
    expect(ok(spawnSync(moatSystem, ['--version'], {encoding: 'utf8', env: userEnv([])}), 'moat-system --version')).toMatch(/^moat-system\/\d+\.\d+\.\d+ /)
    const plan = spawnSync(moatSystem, ['clean-temp', '--dry-run', '--tmp-dir', scratch, '--moat-home', join(home, '.moat')], {encoding: 'utf8', env: userEnv([])})
    expect(ok(plan, 'moat-system clean-temp --dry-run')).toContain('Dry run: nothing was removed.')

    // `moat` there is still moat.
    const run = await typeMoat(['run', 'claude'], userEnv([join(prefix, 'bin')]))
    expect(run.code).toBe(0)
    expect(fakeMoatRun(moatRecord)!.args).toEqual(['run', 'claude'])
  })

  const hasMan = spawnSync('man', ['--version']).error === undefined
  it.runIf(hasMan)(`links the man pages: \`man moat-system-clean-temp\` finds its page under <prefix>/share/man${hasMan ? '' : ' [skipped: man is not installed]'}`, () => {
    const pages = readdirSync(join(prefix, 'lib/node_modules/moat-system/man')).sort()
    expect(pages).toContain('moat-system-clean-temp.1')
    expect(readdirSync(join(prefix, 'share/man/man1')).sort()).toEqual(pages)
    for (const page of ['moat-system', 'moat-system-clean-temp', 'moat-system-status']) {
      const found = spawnSync('man', ['-w', page], {encoding: 'utf8', env: {...userEnv([]), MANPATH: join(prefix, 'share/man')}})
      // man -w names the file the link in share/man/man1 leads to: the package's own page.
      expect(found.status, `man -w ${page}: ${found.stderr}`).toBe(0)
      expect(realpathSync(found.stdout.trim())).toBe(realpathSync(join(prefix, `share/man/man1/${page}.1`)))
      expect(realpathSync(found.stdout.trim())).toBe(join(prefix, `lib/node_modules/moat-system/man/${page}.1`))
    }

    const shown = spawnSync('man', ['moat-system-clean-temp'], {encoding: 'utf8', env: {...userEnv([]), MANPAGER: 'cat', MANPATH: join(prefix, 'share/man'), MANWIDTH: '200'}})
    expect(shown.stdout).toContain('moat-system-clean-temp - Remove temp directories that crashed moat runs left behind.')
  })
})

describe("the README's set-up lines, as written", () => {
  it('the moat front: `moat system clean-temp` reaches moat-system, everything else the moat of that prefix', async () => {
    const line = readmeLine('bin/moat-front" ~/.local/bin/moat')
    ok(runLine(line, userEnv([join(prefix, 'bin')])), line)
    const front = join(home, '.local/bin/moat')
    expect(readlinkSync(front)).toBe(join(prefix, 'lib/node_modules/moat-system/bin/moat-front'))

    const env = userEnv([join(home, '.local/bin'), join(prefix, 'bin')])
    const ours = await typeMoat(['system', 'clean-temp', '--dry-run', '--json', '--tmp-dir', scratch], env)
    expect(ours.code, ours.stderr).toBe(0)
    expect(JSON.parse(ours.stdout)).toMatchObject({dryRun: true})
    expect(fakeMoatRun(moatRecord)!.args).toEqual(['run', 'claude'])

    const theirs = typeMoat(['attach', 'run_0123456789ab'], env)
    const {child} = theirs
    expect(await theirs).toMatchObject({code: 0, stdout: ''})
    expect(fakeMoatRun(moatRecord)).toMatchObject({args: ['attach', 'run_0123456789ab'], pid: child.pid})

    // Run again where a moat already is: ln refuses, and what was there stays.
    const again = runLine(line, userEnv([join(prefix, 'bin')]))
    expect(again.status).not.toBe(0)
    expect(again.stderr).toMatch(/File exists/)
    expect(readlinkSync(front)).toBe(join(prefix, 'lib/node_modules/moat-system/bin/moat-front'))
  })

  itAsRoot('cron: the line runs moat-system (installed with --prefix ~/.local) under cron\'s PATH', () => {
    const line = readmeLine('* * * * export PATH=')
    const [minute, hour, day, month, weekday, ...command] = line.split(' ')
    expect([minute, hour, day, month, weekday]).toEqual(['*/10', '*', '*', '*', '*'])
    // % ends a cron command (the rest becomes its stdin).
    expect(line).not.toContain('%')
    // What cron gives a job: HOME, LOGNAME, PATH=/usr/bin:/bin and SHELL=/bin/sh, which runs the command.
    const env = {HOME: home, LOGNAME: 'root', PATH: '/usr/bin:/bin', SHELL: '/bin/sh'}
    const result = inPrivateTmp(['/bin/sh', '-c', command.join(' ')], env)
    expect(result.status, result.stderr).toBe(0)
    expect(result.stdout).toContain('Reaper stopped after 1 pass: 0 removed')
    expect(passEvents(join(home, '.moat/moat-system-reap.log')).at(-1)).toMatchObject({event: 'pass', totals: {failed: 0}})
  })

  itAsRoot('systemd: the cp line puts the units where the user manager reads them, and their ExecStart finds moat-system on their PATH', () => {
    const line = readmeLine('cp "$(npm root -g)/moat-system/examples/systemd/')
    // The lines before it in the README make the directory.
    ok(runLine(`${readmeLine('mkdir -p ~/.config/systemd/user')} && ${line}`, userEnv([join(prefix, 'bin')])), line)
    const units = join(home, '.config/systemd/user')
    expect(readdirSync(units).sort()).toEqual(['moat-system-reap.service', 'moat-system-reap.timer'])
    const service = readFileSync(join(units, 'moat-system-reap.service'), 'utf8')
    expect(service).toBe(readFileSync(join(ROOT, 'examples/systemd/moat-system-reap.service'), 'utf8'))

    // What the user manager runs: ExecStart, %h expanded, with the unit's Environment= and the manager's own HOME.
    const value = (key: string) => /^(\w+)=(.*)$/m.exec(service.split('\n').find((text) => text.startsWith(`${key}=`)) ?? '')![2]!
    const expand = (text: string) => text.replaceAll('%h', home)
    const [variable, path] = expand(value('Environment')).split('=')
    expect(variable).toBe('PATH')
    const argv = expand(value('ExecStart')).split(' ')
    const env = {HOME: home, LOGNAME: 'root', PATH: path, USER: 'root'}
    expect(ok(spawnSync('/usr/bin/env', ['sh', '-c', 'command -v moat-system'], {encoding: 'utf8', env}), 'command -v').trim()).toBe(
      join(home, '.local/bin/moat-system'),
    )
    const log = join(home, '.moat/moat-system-reap.log')
    const before = existsSync(log) ? passEvents(log).length : 0
    const result = inPrivateTmp(argv, env)
    expect(result.status, result.stderr).toBe(0)
    expect(passEvents(log)).toHaveLength(before + 1)
  })

  itAsRoot('launchd: the cp line puts the agent in ~/Library/LaunchAgents, and its command runs under launchd\'s bare PATH', () => {
    const line = readmeLine('cp "$(npm root -g)/moat-system/examples/launchd/')
    ok(runLine(`${readmeLine('mkdir -p ~/Library/LaunchAgents')} && ${line}`, userEnv([join(prefix, 'bin')])), line)
    const plist = join(home, 'Library/LaunchAgents/moat-system.reap.plist')
    const agent = parsePlist(readFileSync(plist, 'utf8')) as {ProgramArguments: string[]}
    expect(readmeLine('launchctl bootstrap gui/')).toBe('launchctl bootstrap gui/$(id -u) ~/Library/LaunchAgents/moat-system.reap.plist')

    // What launchd gives an agent: HOME, USER, LOGNAME, SHELL, TMPDIR and PATH=/usr/bin:/bin:/usr/sbin:/sbin.
    mkdirSync(join(home, 'Library/Logs'), {recursive: true})
    const tmp = join(scratch, 'agent-tmp')
    mkdirSync(tmp, {recursive: true})
    const env = {HOME: home, LOGNAME: 'root', PATH: '/usr/bin:/bin:/usr/sbin:/sbin', SHELL: '/bin/zsh', TMPDIR: tmp, USER: 'root'}
    const log = join(home, '.moat/moat-system-reap.log')
    const before = existsSync(log) ? passEvents(log).length : 0
    const result = inPrivateTmp(agent.ProgramArguments, env)
    expect(result.status, readFileSync(join(home, 'Library/Logs/moat-system-reap.out.log'), 'utf8')).toBe(0)
    expect(passEvents(log)).toHaveLength(before + 1)
    expect(readFileSync(join(home, 'Library/Logs/moat-system-reap.out.log'), 'utf8')).toContain('Reaper stopped after 1 pass: 0 removed')
  })
})

describe('npm uninstall -g', () => {
  it('removes moat-system and leaves moat', () => {
    ok(spawnSync('npm', ['uninstall', '-g', 'moat-system', '--prefix', prefix], {encoding: 'utf8', env: withoutNpmConfig(process.env)}), 'npm uninstall')
    expect(readdirSync(join(prefix, 'bin'))).toEqual(['moat'])
    expect(readFileSync(join(prefix, 'bin/moat'), 'utf8')).toBe(fakeMoatScript(moatRecord))
  })
})
