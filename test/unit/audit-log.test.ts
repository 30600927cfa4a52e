import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {AuditLog} from '../../src/lib/output/audit-log.js'

describe('the audit log notes', () => {
  let dir: string

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mtu-audit-'))
  })

  afterEach(() => rmSync(dir, {force: true, recursive: true}))

  it('says a note once per pass, again in the next pass, and keeps only the current pass in memory', () => {
    const file = join(dir, 'audit.log')
    const log = new AuditLog('json', file)
    for (let pass = 1; pass <= 1000; pass++) {
      log.note(pass, 'engine unix:///x.sock did not answer')
      log.note(pass, 'engine unix:///x.sock did not answer')
      log.note(pass, `pass ${pass} only`)
    }

    log.close()
    const notes = readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as {event: string; message: string; pass: number})
      .filter((line) => line.event === 'note')
    expect(notes).toHaveLength(2000)
    expect(notes.filter((line) => line.pass === 7).map((line) => line.message)).toEqual(['engine unix:///x.sock did not answer', 'pass 7 only'])
    // A reaper that runs for months makes a pass every few minutes: what it remembers must not grow with them.
    expect((log as unknown as {noted: Set<string>}).noted.size).toBe(2)
  })
})
