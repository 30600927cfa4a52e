import {spawnSync} from 'node:child_process'
import {copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {parse as parsePlist} from 'plist'
import {describe, expect, it} from 'vitest'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const UNITS = join(ROOT, 'examples/systemd/')
const NAMES = ['moat-system-reap.service', 'moat-system-reap.timer']
const AGENT = join(ROOT, 'examples/launchd/moat-system.reap.plist')
/** The recommended set-up (issue 24): the watching reaper as a long-running service and agent. */
const WATCHING_SERVICE = 'moat-system-reaper.service'
const WATCHING_AGENT = join(ROOT, 'examples/launchd/moat-system.reaper.plist')
const hasSystemdAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0
const hasPlutil = spawnSync('plutil', ['-help']).error === undefined
/** This project's page: package.json `homepage` without its anchor. */
const PROJECT = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).homepage as string).replace(/#.*$/, '')

/** The anchor GitHub gives a README heading: lower case, punctuation dropped, spaces as hyphens. */
function anchorOf(heading: string): string {
  return heading
    .toLowerCase()
    .replaceAll(/[^\w\- ]/g, '')
    .replaceAll(' ', '-')
}

const README_ANCHORS = new Set(
  readFileSync(join(ROOT, 'README.md'), 'utf8')
    .split('\n')
    .filter((line) => /^#+ /.test(line))
    .map((line) => anchorOf(line.replace(/^#+ /, ''))),
)

/** `systemd-analyze verify` exits 0 even for lines it ignores, so anything it prints is a finding too. */
function verify(dir: string): {output: string; status: null | number} {
  const result = spawnSync('systemd-analyze', ['verify', ...NAMES.map((name) => join(dir, name))], {encoding: 'utf8'})
  return {output: (result.stdout + result.stderr).trim(), status: result.status}
}

/** Without systemd: sections and `Key=value` lines only, and the keys that make the pair work. */
function parseUnit(text: string): Record<string, Record<string, string>> {
  const sections: Record<string, Record<string, string>> = {}
  let current: Record<string, string> | undefined
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (!line || line.startsWith('#') || line.startsWith(';')) continue
    const header = /^\[(\w+)]$/.exec(line)
    if (header) {
      current = {}
      sections[header[1]!] = current
      continue
    }

    const pair = /^([A-Za-z]+)=(.*)$/.exec(line)
    if (!pair || !current) throw new Error(`not a unit-file line: ${line}`)
    current[pair[1]!] = pair[2]!
  }

  return sections
}

describe('the shipped systemd user units', () => {
  it('run `moat-system reap --once` from a timer', () => {
    const service = parseUnit(readFileSync(join(UNITS, NAMES[0]!), 'utf8'))
    const timer = parseUnit(readFileSync(join(UNITS, NAMES[1]!), 'utf8'))
    expect(service.Service).toMatchObject({ExecStart: expect.stringContaining('moat-system reap --once'), Type: 'oneshot'})
    expect(timer.Timer).toMatchObject({OnUnitActiveSec: '10min'})
    expect(timer.Install).toMatchObject({WantedBy: 'timers.target'})
  })

  it('name moat-system by a PATH of their own, since the user manager\'s holds neither ~/.local/bin nor an npm prefix', () => {
    const service = parseUnit(readFileSync(join(UNITS, NAMES[0]!), 'utf8')).Service!
    // `moat`, never: that is the real moat. /usr/bin/env looks moat-system up, and the node its script needs, on PATH.
    expect(service.ExecStart).toMatch(/^\/usr\/bin\/env moat-system reap --once --max-delete 100 --log-file %h\/\.moat\/moat-system-reap\.log$/)
    expect(service.Environment).toBe('PATH=%h/.local/bin:/usr/local/bin:/usr/bin:/bin')
  })

  it('use Persistent= only with OnCalendar= (systemd.timer(5): it does nothing else), and point at this project', () => {
    for (const name of NAMES) {
      const unit = parseUnit(readFileSync(join(UNITS, name), 'utf8'))
      if (unit.Timer?.Persistent !== undefined) expect(unit.Timer).toHaveProperty('OnCalendar')
      const [url, anchor] = unit.Unit!.Documentation!.split('#')
      expect(url).toBe(PROJECT)
      expect(README_ANCHORS).toContain(anchor)
    }
  })

  it.runIf(hasSystemdAnalyze)('pass systemd-analyze verify without a finding, which does catch a broken copy', () => {
    expect(verify(UNITS)).toEqual({output: '', status: 0})
    const broken = mkdtempSync(join(tmpdir(), 'units-'))
    try {
      for (const name of NAMES) copyFileSync(join(UNITS, name), join(broken, name))
      const text = readFileSync(join(broken, NAMES[0]!), 'utf8').replace('Type=oneshot', 'Type=oneshoot')
      writeFileSync(join(broken, NAMES[0]!), text)
      expect(verify(broken).output).toMatch(/Failed to parse service type/)
    } finally {
      rmSync(broken, {force: true, recursive: true})
    }
  })
})

describe('the shipped launchd agent (macOS)', () => {
  const agent = parsePlist(readFileSync(AGENT, 'utf8')) as Record<string, unknown>

  it('runs `moat-system reap --once` at login and every 10 minutes, as a background job', () => {
    expect(agent).toMatchObject({Label: 'moat-system.reap', LowPriorityIO: true, ProcessType: 'Background', RunAtLoad: true, StartInterval: 600})
    // One pass per start: launchd must not restart it as a daemon.
    expect(agent).not.toHaveProperty('KeepAlive')
  })

  it('names moat-system, on a PATH and with log paths that /bin/sh makes from $HOME (launchd expands neither ~ nor $HOME)', () => {
    const [shell, flag, script, ...rest] = agent.ProgramArguments as string[]
    expect([shell, flag, rest]).toEqual(['/bin/sh', '-c', []])
    expect(script).toBe(
      'export PATH="$HOME/.local/bin:/opt/homebrew/bin:/usr/local/bin:$PATH"; exec moat-system reap --once --max-delete 100 ' +
        '--log-file "$HOME/.moat/moat-system-reap.log" >>"$HOME/Library/Logs/moat-system-reap.out.log" 2>&1',
    )
    // Nothing launchd itself would read as a path with ~ in it.
    expect(JSON.stringify(agent)).not.toContain('~')
  })

  it.runIf(hasPlutil)(`passes plutil -lint${hasPlutil ? '' : ' [skipped: plutil is macOS only]'}`, () => {
    const result = spawnSync('plutil', ['-lint', AGENT], {encoding: 'utf8'})
    expect(result.status, result.stdout + result.stderr).toBe(0)
  })

  it('is well-formed XML: a parser that takes it rejects a broken copy', () => {
    expect(() => parsePlist(readFileSync(AGENT, 'utf8').replace('</array>', ''))).toThrow()
  })
})

describe('the watching reaper as a service (the recommended set-up)', () => {
  const service = parseUnit(readFileSync(join(UNITS, WATCHING_SERVICE), 'utf8'))

  it('systemd: runs `moat-system reap` without --once (it watches), restarted on failure, started with the user manager', () => {
    expect(service.Service).toMatchObject({Environment: 'PATH=%h/.local/bin:/usr/local/bin:/usr/bin:/bin', Restart: 'on-failure', Type: 'simple'})
    expect(service.Service!.ExecStart).toBe('/usr/bin/env moat-system reap --interval 10m --min-age 1m --max-delete 100 --log-file %h/.moat/moat-system-reap.log')
    expect(service.Service!.ExecStart).not.toMatch(/--once|--no-watch/)
    expect(service.Install).toMatchObject({WantedBy: 'default.target'})
    const [url, anchor] = service.Unit!.Documentation!.split('#')
    expect(url).toBe(PROJECT)
    expect(README_ANCHORS).toContain(anchor)
  })

  it.runIf(hasSystemdAnalyze)('systemd: passes systemd-analyze verify without a finding', () => {
    const result = spawnSync('systemd-analyze', ['verify', join(UNITS, WATCHING_SERVICE)], {encoding: 'utf8'})
    expect({output: (result.stdout + result.stderr).trim(), status: result.status}).toEqual({output: '', status: 0})
  })

  it('launchd: runs `moat-system reap` without --once at login, kept alive only after a failure, as a background job', () => {
    const agent = parsePlist(readFileSync(WATCHING_AGENT, 'utf8')) as Record<string, unknown>
    expect(agent).toMatchObject({KeepAlive: {SuccessfulExit: false}, Label: 'moat-system.reaper', LowPriorityIO: true, ProcessType: 'Background', RunAtLoad: true})
    // A long-running process: launchd must not also start it on a timer.
    expect(agent).not.toHaveProperty('StartInterval')
    const [shell, flag, script, ...rest] = agent.ProgramArguments as string[]
    expect([shell, flag, rest]).toEqual(['/bin/sh', '-c', []])
    expect(script).toBe(
      'export PATH="$HOME/.local/bin:/opt/homebrew/bin:/usr/local/bin:$PATH"; exec moat-system reap --interval 10m --min-age 1m --max-delete 100 ' +
        '--log-file "$HOME/.moat/moat-system-reap.log" >>"$HOME/Library/Logs/moat-system-reap.out.log" 2>&1',
    )
    expect(JSON.stringify(agent)).not.toContain('~')
  })

  it('the README installs both, and says which is recommended', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
    // Quoted otherwise than the timer's lines, which test/cli/install.test.ts finds by their text, each once.
    expect(readme).toContain(`cp "$(npm root -g)"/moat-system/examples/systemd/${WATCHING_SERVICE} ~/.config/systemd/user/`)
    expect(readme).toContain('systemctl --user daemon-reload && systemctl --user enable --now moat-system-reaper.service')
    expect(readme).toContain('cp "$(npm root -g)"/moat-system/examples/launchd/moat-system.reaper.plist ~/Library/LaunchAgents/')
    expect(readme).toContain('launchctl bootstrap "gui/$(id -u)" ~/Library/LaunchAgents/moat-system.reaper.plist')
    expect(readme).toMatch(/recommended/i)
  })
})
