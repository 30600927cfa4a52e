// namesWhere, the streamed listing clean-temp scans a tmp dir with: on a real directory larger than one kernel read,
// it returns exactly the accepted names, in readdirSync's byte order, and never holds the others.
import {mkdirSync, readdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {namesWhere} from '../../src/lib/host/raw-path.js'
import {makeTmpRoot, removeTmpRoot} from '../helpers/temp-fixtures.js'

let root: string
const isMoatName = (name: string): boolean => name.startsWith('moat-')

beforeEach(() => {
  root = makeTmpRoot()
})

afterEach(() => {
  removeTmpRoot(root)
})

describe('namesWhere', () => {
  it('returns exactly the accepted names among 5,000, in the order readdirSync gives', () => {
    for (let i = 0; i < 5000; i++) writeFileSync(join(root, `unrelated-${i}`), '')
    for (const name of ['moat-aws-9', 'moat-aws-10', 'moat-Zeta-1', 'moat-é-2', 'moat-a']) mkdirSync(join(root, name))
    const kept = namesWhere(root, isMoatName)
    expect(kept).toEqual(readdirSync(root).filter((name) => isMoatName(name)))
    expect(kept).toEqual(['moat-Zeta-1', 'moat-a', 'moat-aws-10', 'moat-aws-9', 'moat-é-2'])
  })

  it('an empty directory, or nothing accepted, gives no names', () => {
    expect(namesWhere(root, () => true)).toEqual([])
    writeFileSync(join(root, 'x'), '')
    expect(namesWhere(root, () => false)).toEqual([])
  })

  it('a missing directory throws, as readdirSync does', () => {
    expect(() => namesWhere(join(root, 'missing'), () => true)).toThrow(/ENOENT/)
  })
})
