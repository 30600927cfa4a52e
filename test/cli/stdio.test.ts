// Output without Node's streams (src/lib/cli/stdio.ts): a run writes to its descriptors directly, and whatever a pipe
// does (fills up while non-blocking, loses its reader) the output is the same as through process.stdout: complete, in
// order, and a reader gone is no error.
import {spawn} from 'node:child_process'
import {mkdirSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runCli, startCli} from '../helpers/cli.js'

const FIXTURES = fileURLToPath(new URL('../fixtures/stdio/', import.meta.url))

describe('output written to the descriptors, not through Node streams', () => {
  let dir: string

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mth-stdio-'))
    mkdirSync(join(dir, 'T'))
  })

  afterAll(() => {
    rmSync(dir, {force: true, recursive: true})
  })

  it('a run to pipes prints its lines and never loads net, stream or tty', () => {
    const report = join(dir, 'streams.json')
    const result = runCli(['system', 'clean-temp', '--dry-run', '--runtime', 'docker', '--tmp-dir', join(dir, 'T')], {
      MOAT_HOME: join(dir, 'home'),
      MOAT_STREAMS_REPORT: report,
      NODE_OPTIONS: `--require ${join(FIXTURES, 'streams-report.cjs')}`,
    })
    expect(result.exitCode, result.stderr).toBe(0)
    expect(result.stdout).toBe('No moat temporary directories found.\nDry run: nothing was removed.\n')
    expect(result.stderr).toContain('Note: moat home')
    expect(JSON.parse(readFileSync(report, 'utf8'))).toEqual([])
  })

  it('a full non-blocking pipe: the rest goes through the stream, every line once and in order', async () => {
    // 4 MB: far more than a pipe and the reader's buffer hold while nobody reads.
    const lines = 4096
    const child = spawn(process.execPath, [join(FIXTURES, 'nonblocking-parent.mjs'), join(FIXTURES, 'flood.mjs'), String(lines)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    // stdout is not read until the writer says it is done: its writes met a full pipe.
    child.stdout!.pause()
    let stderr = ''
    await new Promise<void>((resolve, reject) => {
      child.stderr!.on('data', (chunk: Buffer) => {
        stderr += chunk.toString()
        if (stderr.includes('\n')) resolve()
      })
      child.on('error', reject)
      child.on('exit', () => resolve())
    })
    expect(stderr).toBe('stream: true\n')
    const chunks: Buffer[] = []
    child.stdout!.on('data', (chunk: Buffer) => chunks.push(chunk))
    child.stdout!.resume()
    const code = await new Promise((resolve) => {
      child.on('close', resolve)
    })
    expect(code).toBe(0)
    const out = Buffer.concat(chunks).toString().split('\n')
    expect(out.pop()).toBe('')
    expect(out.length).toBe(lines)
    expect(out.every((line, i) => line === `${String(i).padStart(8, '0')} ${'x'.repeat(1014)}`)).toBe(true)
  })

  it('a reader gone before the output (EPIPE) is no error: exit 0, as with oclif on process.stdout', async () => {
    const run = startCli(['system', 'clean-temp', '--dry-run', '--json', '--runtime', 'docker', '--tmp-dir', join(dir, 'T')], {
      MOAT_HOME: join(dir, 'home'),
    })
    // Closed before the child can have written: Node takes tens of ms to start.
    run.child.stdout!.destroy()
    const result = await run
    expect(result.exitCode, result.stderr).toBe(0)
    expect(result.stderr).not.toContain('Error')
  })
})
