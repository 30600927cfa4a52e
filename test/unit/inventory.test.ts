// The inventory of every path the tool reads or writes (issue 20) cannot drift from the code: docs/reliability.md
// holds exactly what src/lib/host/inventory.ts renders, every state file kind checked-fs.ts reads has its row, and no
// module outside src/lib/host/ calls node:fs on a path, but those the inventory names as out of scope.
import {existsSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join, relative} from 'node:path'
import {fileURLToPath} from 'node:url'
import {describe, expect, it} from 'vitest'

import {STATE_FILES} from '../../src/lib/host/checked-fs.js'
import {inventoryMarkdown, OUT_OF_SCOPE, PATHS} from '../../src/lib/host/inventory.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const DOC = join(ROOT, 'docs', 'reliability.md')
const BEGIN = '<!-- inventory -->'
const END = '<!-- /inventory -->'
/** node:fs calls on a descriptor, not a path: fine anywhere (an audit log writes to the fd checked-fs opened). */
const ON_DESCRIPTORS = new Set(['closeSync', 'constants', 'fstatSync', 'fsyncSync', 'readSync', 'writeSync'])

function sources(dir: string): string[] {
  return readdirSync(dir, {withFileTypes: true}).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return sources(path)
    return entry.name.endsWith('.ts') ? [relative(ROOT, path)] : []
  })
}

/** The runtime names a source imports from node:fs or node:fs/promises (types left out), and any other way in. */
function fsImports(text: string): {names: string[]; other: string[]} {
  const names: string[] = []
  for (const match of text.matchAll(/import\s+(type\s+)?\{([^}]*)\}\s+from\s+'node:fs(?:\/promises)?'/g)) {
    if (match[1]) continue
    for (const part of match[2]!.split(',').map((name) => name.trim()).filter(Boolean)) {
      if (!part.startsWith('type ')) names.push(part.split(/\s+as\s+/)[0]!)
    }
  }

  const other = [
    ...text.matchAll(/import\s+\*\s+as\s+\w+\s+from\s+'node:fs|import\s+\w+\s+from\s+'node:fs|from\s+'fs(?:\/promises)?'|require\([^)]*'(?:node:)?fs|import\(\s*'(?:node:)?fs/g),
  ].map((match) => match[0])
  return {names, other}
}

describe('the path inventory', () => {
  it('docs/reliability.md holds the inventory exactly as the code renders it', () => {
    const section = `${BEGIN}\n${inventoryMarkdown()}\n${END}`
    const doc = readFileSync(DOC, 'utf8')
    const at = doc.indexOf(BEGIN)
    const end = doc.indexOf(END)
    if (process.env.MOAT_INVENTORY_DOCS === '1') {
      const updated = at === -1 ? `${doc.trimEnd()}\n\n${section}\n` : `${doc.slice(0, at)}${section}${doc.slice(end + END.length)}`
      writeFileSync(DOC, updated)
      return
    }

    expect(at, `no inventory in ${DOC}: run MOAT_INVENTORY_DOCS=1 npx vitest run test/unit/inventory.test.ts`).toBeGreaterThan(-1)
    expect(doc.slice(at, end + END.length)).toBe(section)
  })

  it('has a row for every kind of state file the checked reads know, with its cap', () => {
    const rows = PATHS.filter((use) => use.stateFile)
    expect(rows.map((use) => use.stateFile).sort()).toEqual(Object.keys(STATE_FILES).sort())
    for (const use of rows) {
      const {cap, why} = STATE_FILES[use.stateFile!]
      expect(use.how).toContain(`at most ${cap >= 1024 * 1024 ? `${cap / 1024 / 1024} MiB` : `${cap / 1024} KiB`}`)
      if (use.stateFile !== 'metrics file') expect(use.how).toContain(why)
    }

    for (const use of PATHS) {
      for (const module of use.where.split(', ').filter((where) => where !== '(none)')) expect(existsSync(join(ROOT, 'src', 'lib', module)), module).toBe(true)
    }
  })

  it('nothing outside src/lib/host/ calls node:fs on a path, but the out-of-scope files it names', () => {
    const offenders: string[] = []
    const outside = sources(join(ROOT, 'src')).filter((file) => !file.startsWith('src/lib/host/'))
    for (const file of outside) {
      const {names, other} = fsImports(readFileSync(join(ROOT, file), 'utf8'))
      const onPaths = names.filter((name) => !ON_DESCRIPTORS.has(name))
      if (other.length > 0) offenders.push(`${file}: ${other.join(', ')}`)
      if (onPaths.length > 0 && !(file in OUT_OF_SCOPE)) offenders.push(`${file}: ${onPaths.join(', ')}`)
    }

    expect(offenders).toEqual([])
    // And the list does not rot: each file it names still reads something itself.
    for (const file of Object.keys(OUT_OF_SCOPE)) {
      expect(fsImports(readFileSync(join(ROOT, file), 'utf8')).names.filter((name) => !ON_DESCRIPTORS.has(name)), file).not.toEqual([])
    }
  })
})
