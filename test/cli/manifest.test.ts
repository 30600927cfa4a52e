import {execFileSync} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'
import {describe, expect, it} from 'vitest'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/** The committed version of a file; `npm test` has just rebuilt the working-tree copy from the sources. */
function committed(path: string): string {
  return execFileSync('git', ['show', `HEAD:${path}`], {cwd: ROOT, encoding: 'utf8'})
}

function commandsSection(text: string): string {
  return text.slice(text.indexOf('<!-- commands -->'), text.indexOf('<!-- commandsstop -->'))
}

describe('generated files are committed fresh', () => {
  it('oclif.manifest.json matches what the build generates', () => {
    const fresh = JSON.parse(readFileSync(`${ROOT}/oclif.manifest.json`, 'utf8'))
    expect(Object.keys(fresh.commands)).toContain('system:clean-temp')
    expect(JSON.parse(committed('oclif.manifest.json'))).toEqual(fresh)
  })

  it("the README's command reference matches what `oclif readme` generates", () => {
    const fresh = commandsSection(readFileSync(`${ROOT}/README.md`, 'utf8'))
    expect(fresh).toContain('moat-system system clean-temp')
    expect(commandsSection(committed('README.md'))).toBe(fresh)
  })
})
