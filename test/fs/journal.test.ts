// The journal of removing passes (src/lib/output/journal.ts) on real files: where it lives, what it holds, that it
// stays small, and that it is never written through a symlink or into someone else's file.
import {linkSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import type {Intent} from '../../src/lib/pipeline/intents.js'
import type {Item} from '../../src/lib/pipeline/pipeline.js'

import {Journal, journalPath, openIntentsIn, readOpenIntents} from '../../src/lib/output/journal.js'
import {stateDir} from '../../src/lib/output/state-dir.js'

let root: string
let dir: string
const HOME = '/home/someone/.moat'

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'mts-journal-'))
  dir = join(root, 'state', 'moat-system')
})

afterEach(() => {
  rmSync(root, {force: true, recursive: true})
})

function intent(id: string, extra: Partial<Intent> = {}): Intent {
  return {action: 'remove', engine: 'unix:///var/run/docker.sock', engineId: 'E1', id, name: `run_${id}`, object: 'container', target: 'containers', ...extra}
}

function decided(id: string, decision: Item['decision']): Item {
  return {decision, details: {}, id, name: `run_${id}`, outcome: decision, reason: 'ended'}
}

describe('the journal', () => {
  it('lives in $XDG_STATE_HOME/moat-system (else ~/.local/state/moat-system), one file per moat home', () => {
    expect(stateDir({HOME: '/home/a', XDG_STATE_HOME: '/var/state'})).toBe('/var/state/moat-system')
    // A relative XDG_STATE_HOME is to be ignored (XDG base directory specification).
    expect(stateDir({HOME: '/home/a', XDG_STATE_HOME: 'rel'})).toBe('/home/a/.local/state/moat-system')
    expect(stateDir({HOME: '/home/a'})).toBe('/home/a/.local/state/moat-system')
    expect(journalPath(dir, HOME)).toMatch(/\/journal-[0-9a-f]{12}\.jsonl$/)
    expect(journalPath(dir, '/elsewhere')).not.toBe(journalPath(dir, HOME))
  })

  it('holds intents (synced) until a decision closes them; `unknown` keeps one open; emptied when all are closed', () => {
    const journal = Journal.open(dir, HOME)
    expect(statSync(dir).mode.toString(8)).toMatch(/700$/)
    expect(statSync(journal.path).mode.toString(8)).toMatch(/600$/)
    journal.intents([intent('a'), intent('b'), intent('c')])
    journal.decision('containers', decided('a', 'removed'), intent('a'))
    journal.decision('containers', decided('b', 'unknown'), intent('b'))
    // Written as it happens: what a SIGKILL now would leave.
    expect([...openIntentsIn(readFileSync(journal.path, 'utf8')).keys()].map((key) => key.split('\u0000')[2])).toEqual(['b', 'c'])
    journal.close()
    expect(readOpenIntents(dir, HOME).map((entry) => entry.id)).toEqual(['b', 'c'])

    const next = Journal.open(dir, HOME)
    expect(next.leftOpen.map((entry) => [entry.id, entry.engineId, typeof entry.time])).toEqual([
      ['b', 'E1', 'string'],
      ['c', 'E1', 'string'],
    ])
    next.resumed([
      {decision: 'removed', intent: next.leftOpen[0]!, outcome: 'removed by an interrupted earlier pass, confirmed now'},
      {decision: 'failed', intent: next.leftOpen[1]!, outcome: 'not done'},
    ])
    next.close()
    expect(readFileSync(next.path, 'utf8')).toBe('')
  })

  it('the same ID on two engines is two intents', () => {
    const journal = Journal.open(dir, HOME)
    journal.intents([intent('v', {engine: 'unix:///a.sock'}), intent('v', {engine: 'unix:///b.sock'})])
    journal.decision('containers', decided('v', 'removed'), intent('v', {engine: 'unix:///a.sock'}))
    journal.close()
    expect(readOpenIntents(dir, HOME).map((entry) => entry.engine)).toEqual(['unix:///b.sock'])
  })

  it('a line a crash cut short is ignored, the rest is read', () => {
    mkdirSync(dir, {mode: 0o700, recursive: true})
    const line = JSON.stringify({event: 'intent', ...intent('a')})
    writeFileSync(journalPath(dir, HOME), `${line}\n${line.slice(0, 40)}`, {mode: 0o600})
    expect(readOpenIntents(dir, HOME).map((entry) => entry.id)).toEqual(['a'])
  })

  it('grown past 256 KiB with intents still open, it is cut down to those', () => {
    const journal = Journal.open(dir, HOME)
    const many = Array.from({length: 2000}, (_, i) => intent(`x${i}`))
    journal.intents(many)
    for (const entry of many.slice(1)) journal.decision('containers', decided(entry.id, 'removed'), entry)
    expect(statSync(journal.path).size).toBeGreaterThan(256 * 1024)
    journal.close()
    expect(statSync(journalPath(dir, HOME)).size).toBeLessThan(1024)
    expect(statSync(journalPath(dir, HOME)).mode.toString(8)).toMatch(/600$/)
    expect(readOpenIntents(dir, HOME).map((entry) => entry.id)).toEqual(['x0'])
  })

  it('is never written through a symlink, nor into a file with another name (a hard link)', () => {
    mkdirSync(dir, {mode: 0o700, recursive: true})
    const victim = join(root, 'victim')
    writeFileSync(victim, 'precious\n')
    symlinkSync(victim, journalPath(dir, HOME))
    expect(() => Journal.open(dir, HOME)).toThrow(/^the journal .*journal-[0-9a-f]{12}\.jsonl cannot be kept \(ELOOP\): no removal goes without its record; /)
    rmSync(journalPath(dir, HOME))
    linkSync(victim, journalPath(dir, HOME))
    expect(() => Journal.open(dir, HOME)).toThrow(/cannot be kept \(EPERM\)/)
    expect(readFileSync(victim, 'utf8')).toBe('precious\n')
  })

  it('a state directory that is a symlink is refused', () => {
    mkdirSync(join(root, 'state'), {recursive: true})
    mkdirSync(join(root, 'elsewhere'))
    symlinkSync(join(root, 'elsewhere'), dir)
    expect(() => Journal.open(dir, HOME)).toThrow(/cannot be kept \(EUNSAFE\)/)
    expect(lstatSync(dir).isSymbolicLink()).toBe(true)
    expect(readdirSync(join(root, 'elsewhere'))).toEqual([])
  })
})
