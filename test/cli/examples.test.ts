import {spawnSync} from 'node:child_process'
import {copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {describe, expect, it} from 'vitest'

const UNITS = fileURLToPath(new URL('../../examples/systemd/', import.meta.url))
const NAMES = ['moat-system-reap.service', 'moat-system-reap.timer']
const hasSystemdAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0

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
  it('run `moat system reap --once` from a timer', () => {
    const service = parseUnit(readFileSync(join(UNITS, NAMES[0]!), 'utf8'))
    const timer = parseUnit(readFileSync(join(UNITS, NAMES[1]!), 'utf8'))
    expect(service.Service).toMatchObject({ExecStart: expect.stringContaining('moat system reap --once'), Type: 'oneshot'})
    expect(timer.Timer).toMatchObject({OnUnitActiveSec: '10min'})
    expect(timer.Install).toMatchObject({WantedBy: 'timers.target'})
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
