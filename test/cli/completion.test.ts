// Shell completion as each shell runs it, from the scripts `moat-system autocomplete` caches: bash through its
// completion function (test/fixtures/bash-complete.sh), zsh through the plain function its completion widget calls
// (test/fixtures/zsh-complete.zsh), the real compinit registering it and an interactive zsh on a pseudo-terminal
// (test/fixtures/zsh-interactive.zsh), fish through its own `complete -C`. Command
// names with the system topic or without, flags, and the values of --runtime, --only, --skip, --include and --filter.
// zsh and fish suites skip visibly where the shell is not installed (apt-get install zsh fish).
import {spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {TARGET_KINDS} from '../../src/lib/targets/index.js'
import {runCli} from '../helpers/cli.js'

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url))
const has = (shell: string) => spawnSync(shell, ['--version']).status === 0
const skipped = (shell: string) => (has(shell) ? '' : ` [skipped: ${shell} is not installed]`)
const SYSTEM_COMMANDS = ['clean', 'clean-containers', 'clean-helpers', 'clean-networks', 'clean-sidecars', 'clean-state', 'clean-temp', 'clean-volumes', 'reap', 'status']

let cache: string
let setup: Record<'bash' | 'fish' | 'zsh', string>

beforeAll(() => {
  cache = mkdtempSync(join(tmpdir(), 'mth-ac-'))
  const refreshed = runCli(['autocomplete', '--refresh-cache'], {HOME: cache, XDG_CACHE_HOME: cache})
  expect(refreshed).toMatchObject({exitCode: 0, stdout: ''})
  const dir = join(cache, 'moat-system', 'autocomplete')
  setup = {bash: join(dir, 'bash_setup'), fish: join(dir, 'fish_setup'), zsh: join(dir, 'zsh_setup')}
})

afterAll(() => {
  rmSync(cache, {force: true, recursive: true})
})

/** What bash offers at <TAB> after these words (the last one being typed). */
function bash(...words: string[]): string[] {
  return spawnSync('bash', [fixture('bash-complete.sh'), setup.bash, ...words], {encoding: 'utf8'}).stdout.split('\n').filter(Boolean)
}

/** How zsh completes the last word, and the candidates (word, or word:description for `describe`). */
function zsh(...words: string[]): {candidates: string[]; how: string} {
  const [how, ...candidates] = spawnSync('zsh', ['-f', fixture('zsh-complete.zsh'), setup.zsh, ...words], {encoding: 'utf8'}).stdout.split('\n').filter(Boolean)
  return {candidates, how: how!}
}

/** What fish completes at the end of this command line: the words (descriptions dropped). */
function fish(line: string): string[] {
  const {stdout} = spawnSync('fish', [fixture('fish-complete.fish'), setup.fish, line], {encoding: 'utf8'})
  return stdout.split('\n').filter(Boolean).map((candidate) => candidate.split('\t')[0]!)
}

describe('bash', () => {
  it('commands with the topic or without, flags of each command', () => {
    expect(bash('moat-system', '')).toEqual(expect.arrayContaining([...SYSTEM_COMMANDS, 'system', 'autocomplete', 'help', 'version']))
    expect(bash('moat-system', 'system', '')).toEqual(SYSTEM_COMMANDS)
    expect(bash('moat-system', 'status', '--')).toEqual(expect.arrayContaining(['--exit-zero', '--filter', '--quiet', '--runtime', '--tmp-dir']))
    expect(bash('moat-system', 'status', '--')).not.toContain('--force')
  })

  it('values: --runtime options, target names for --only and --skip (the next after a comma), --include, --filter keys', () => {
    expect(bash('moat-system', 'clean', '--runtime', '')).toEqual(['apple', 'auto', 'docker'])
    expect(bash('moat-system', 'system', 'clean-temp', '--runtime', 'd')).toEqual(['docker'])
    expect(bash('moat-system', 'clean', '--only', '')).toEqual([...TARGET_KINDS].sort())
    expect(bash('moat-system', 'reap', '--skip', 'containers,ne')).toEqual(['containers,networks'])
    // --only=sid: bash splits the word at the =.
    expect(bash('moat-system', 'clean', '--only', '=', 'sid')).toEqual(['sidecars'])
    expect(bash('moat-system', 'clean', '--include', '')).toEqual(['volumes'])
    expect(bash('moat-system', 'status', '--filter', '')).toEqual(['run!=', 'run=', 'until='])
    expect(bash('moat-system', 'autocomplete', '')).toEqual(['bash', 'fish', 'zsh'])
  })
})

describe(`zsh${skipped('zsh')}`, () => {
  it.runIf(has('zsh'))('commands with their summaries, flags with their help', () => {
    expect(zsh('moat-system', '')).toMatchObject({how: 'describe'})
    expect(zsh('moat-system', '').candidates).toContain('clean-temp:Remove temp directories that crashed moat runs left behind.')
    expect(zsh('moat-system', 'system', '').candidates.map((entry) => entry.split(':')[0])).toEqual(SYSTEM_COMMANDS)
    expect(zsh('moat-system', 'clean', '--').candidates).toContain('--runtime=:Container runtime to check: every one there (auto: each Docker engine moat may use, and Apple container), or only docker or apple.')
  })

  it.runIf(has('zsh'))('values: --runtime, --only and --skip (after a comma, or after --only=), --include, --filter, directories', () => {
    expect(zsh('moat-system', 'clean', '--runtime', '')).toEqual({candidates: ['auto', 'docker', 'apple'], how: 'words'})
    expect(zsh('moat-system', 'clean', '--runtime=do')).toEqual({candidates: ['auto', 'docker', 'apple'], how: 'words'})
    expect(zsh('moat-system', 'clean', '--only', 'containers,')).toEqual({candidates: TARGET_KINDS, how: 'list'})
    expect(zsh('moat-system', 'system', 'reap', '--skip=')).toEqual({candidates: TARGET_KINDS, how: 'list'})
    expect(zsh('moat-system', 'clean', '--include', '')).toEqual({candidates: ['volumes'], how: 'list'})
    expect(zsh('moat-system', 'clean', '--filter', '')).toEqual({candidates: ['run=', 'run!=', 'until='], how: 'keys'})
    expect(zsh('moat-system', 'clean-temp', '--tmp-dir', '')).toEqual({candidates: [], how: 'dirs'})
  })

  it.runIf(has('zsh'))('at a real zsh prompt (a pseudo-terminal), TAB lists the values and completes the word', () => {
    /** What an interactive zsh showed after `line` and two TABs, escape codes dropped, once `word` showed. */
    const typed = (line: string, word: string) => {
      const result = spawnSync('zsh', ['-f', fixture('zsh-interactive.zsh'), setup.zsh, line, word], {encoding: 'utf8', env: {...process.env, HOME: cache}, timeout: 30_000})
      expect(result.status, `${line}: ${result.stdout}${result.stderr}`).toBe(0)
      // eslint-disable-next-line no-control-regex
      return result.stdout.replaceAll(/\u001B\[[\d;?]*[A-Za-z]/g, '')
    }

    expect(typed('moat-system clean --runtime ', 'docker')).toMatch(/apple +auto +docker/)
    // The words already in the list stay as typed; the next one is listed bare.
    // zsh lays the listing out in columns, row by row: after the line typed, every target name once.
    const shown = typed('moat-system clean --only containers,', 'temp')
    const listing = shown.slice(shown.lastIndexOf('--only containers,') + '--only containers,'.length)
    // eslint-disable-next-line no-control-regex -- the terminal's bell and carriage returns
    expect(listing.replaceAll(/[\u0000-\u001F]/g, ' ').split(/\s+/).filter(Boolean).sort()).toEqual([...TARGET_KINDS].sort())
    expect(typed('moat-system system clean-t', 'clean-temp')).toContain('moat-system system clean-temp')
  })

  it.runIf(has('zsh'))('the real completion system registers it for moat-system (and for nothing named moat)', () => {
    const script = `autoload -Uz compinit && compinit -D && source ${JSON.stringify(setup.zsh)} && print -r -- "$_comps[moat-system]|$_comps[moat]"`
    expect(spawnSync('zsh', ['-f', '-c', script], {encoding: 'utf8', env: {...process.env, HOME: cache}}).stdout).toBe('_moat_system|\n')
  })
})

describe(`fish${skipped('fish')}`, () => {
  it.runIf(has('fish'))('commands with the topic or without, and flags', () => {
    expect(fish('moat-system ')).toEqual(expect.arrayContaining([...SYSTEM_COMMANDS, 'system', 'autocomplete', 'help', 'version']))
    expect(fish('moat-system system clean-t')).toEqual(['clean-temp'])
    expect(fish('moat-system clean --dr')).toEqual(['--dry-run'])
  })

  it.runIf(has('fish'))('values: --runtime, --only and --skip (after a comma, or after --only=), --include, --filter, directories', () => {
    expect(fish('moat-system clean --runtime ')).toEqual(['apple', 'auto', 'docker'])
    expect(fish('moat-system clean --only containers,ne')).toEqual(['containers,networks'])
    expect(fish('moat-system system clean --only=vol')).toEqual(['--only=volumes'])
    expect(fish('moat-system reap --skip ')).toEqual([...TARGET_KINDS].sort())
    expect(fish('moat-system clean --include ')).toEqual(['volumes'])
    expect(fish('moat-system clean --filter ')).toEqual(['run!=', 'run=', 'until='])
    expect(fish(`moat-system clean-temp --tmp-dir ${cache}/moat-sys`)).toEqual([`${cache}/moat-system/`])
  })
})

describe('set-up', () => {
  it.each([
    ['bash', '~/.bashrc', 'printf "$(moat-system autocomplete script bash)" >> ~/.bashrc; source ~/.bashrc'],
    ['zsh', '~/.zshrc', 'printf "$(moat-system autocomplete script zsh)" >> ~/.zshrc; source ~/.zshrc'],
    ['fish', '~/.config/fish/config.fish', 'moat-system autocomplete script fish >> ~/.config/fish/config.fish; source ~/.config/fish/config.fish'],
  ])('%s: the line to add to %s, which loads the cached script', (shell, _, line) => {
    const env = {HOME: cache, XDG_CACHE_HOME: cache}
    expect(runCli(['autocomplete', shell], env).stdout).toContain(`\n  ${line}\n`)
    const added = runCli(['autocomplete', 'script', shell], env)
    expect(added.exitCode).toBe(0)
    expect(added.stdout).toContain(setup[shell as keyof typeof setup])
    expect(readFileSync(setup[shell as keyof typeof setup], 'utf8')).toContain('generated by `moat-system autocomplete`')
  })

  it.runIf(has('fish'))('fish: the line it adds, run by fish, makes `complete -C` offer our commands', () => {
    const line = runCli(['autocomplete', 'script', 'fish'], {HOME: cache, XDG_CACHE_HOME: cache}).stdout.trim()
    const {stdout} = spawnSync('fish', ['--no-config', '-c', `${line}\ncomplete -C 'moat-system system clean-v'`], {encoding: 'utf8'})
    expect(stdout.split('\t')[0]).toBe('clean-volumes')
  })

  it('an unknown shell is a usage error naming the ones there are', () => {
    const result = runCli(['autocomplete', 'powershell'])
    expect(result.exitCode).toBe(2)
    expect(result.stderr).toContain('Expected powershell to be one of: bash, zsh, fish')
  })
})
