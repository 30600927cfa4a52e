// The man pages `npm run build` writes from the help text (scripts/man.js): one for the tool and one per command,
// named as users type the command; package.json's `man` lists exactly them (npm links them on `npm i -g`, which
// test/cli/install.test.ts checks with man -w); each renders what --help says and passes mandoc's and groff's checks.
import {spawnSync} from 'node:child_process'
import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {describe, expect, it} from 'vitest'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const MAN = join(ROOT, 'man')
const pjson = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {files: string[]; man: string[]}
const manifest = JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8')) as {
  commands: Record<string, {flags: Record<string, {char?: string; hidden?: boolean}>; hidden?: boolean; id: string; summary?: string}>
}
const has = (tool: string) => spawnSync(tool, ['--version'], {encoding: 'utf8'}).error === undefined
const skipped = (tool: string) => (has(tool) ? '' : ` [skipped: ${tool} is not installed]`)

/** `moat-system-clean-temp` for system:clean-temp: the command as users type it, dashed. */
const pageOf = (id: string) => `moat-system-${id.replace(/^system:/, '').replaceAll(':', '-')}`
const commands = Object.values(manifest.commands).filter((command) => !command.hidden)

/** A page as man shows it 200 columns wide; into a pipe, man leaves out bold and underline. */
function render(page: string): string {
  const result = spawnSync('man', ['-l', join(MAN, `${page}.1`)], {encoding: 'utf8', env: {...process.env, MANWIDTH: '200'}})
  expect(result.status, result.stderr).toBe(0)
  return result.stdout
}

describe('man pages', () => {
  it('one for the tool and one per command, named as typed; package.json ships and links exactly these', () => {
    const files = ['moat-system', ...commands.map((command) => pageOf(command.id))].map((page) => `${page}.1`).sort()
    expect(files).toContain('moat-system-clean-temp.1')
    expect(readdirSync(MAN).sort()).toEqual(files)
    expect([...pjson.man].sort()).toEqual(files.map((file) => `./man/${file}`))
    expect(pjson.files).toContain('./man')
  })

  it.runIf(has('man'))(`each command's page says what its --help says: summary, usage with and without the topic, every flag${skipped('man')}`, () => {
    for (const command of commands) {
      const page = pageOf(command.id)
      const text = render(page)
      expect(text, page).toContain(`${page} - ${command.summary}`)
      if (command.id.startsWith('system:')) expect(text, page).toContain(`moat-system ${command.id.replace(':', ' ')} [flags]`)
      for (const [name, flag] of Object.entries(command.flags)) {
        if (!flag.hidden) expect(text, `${page}: --${name}`).toMatch(new RegExp(`(^ *|, )--(\\[no-\\])?${name}\\b`, 'm'))
      }
    }

    const tool = render('moat-system')
    for (const command of commands) expect(tool).toContain(`${pageOf(command.id)}(1)`)
  })

  it.runIf(has('mandoc'))(`mandoc -Tlint finds nothing at warning level or worse${skipped('mandoc')}`, () => {
    const result = spawnSync('mandoc', ['-Tlint', '-W', 'warning', ...readdirSync(MAN).map((name) => join(MAN, name))], {encoding: 'utf8'})
    expect(result.stdout + result.stderr).toBe('')
    expect(result.status).toBe(0)
  })

  it.runIf(has('groff'))(`groff -man -ww warns of nothing${skipped('groff')}`, () => {
    for (const name of readdirSync(MAN)) {
      const result = spawnSync('groff', ['-man', '-ww', '-z', join(MAN, name)], {encoding: 'utf8'})
      expect(result.stderr, name).toBe('')
    }
  })
})
