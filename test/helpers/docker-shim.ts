import {execFileSync} from 'node:child_process'
import {chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {delimiter, join} from 'node:path'

export interface DockerShim {
  /** How many docker processes were started since the last reset. */
  count(): number
  /** PATH (and nothing else) for the CLI under test, with the counting `docker` first. */
  env: NodeJS.ProcessEnv
  remove(): void
  reset(): void
}

/** A `docker` first on PATH that logs each invocation and runs the real one: for "processes do not grow" checks. */
export function dockerShim(): DockerShim {
  const dir = mkdtempSync(join(tmpdir(), 'docker-shim-'))
  const log = join(dir, 'calls.log')
  const realDocker = execFileSync('sh', ['-c', 'command -v docker'], {encoding: 'utf8'}).trim()
  writeFileSync(join(dir, 'docker'), `#!/bin/sh\necho "$*" >> '${log}'\nexec '${realDocker}' "$@"\n`)
  chmodSync(join(dir, 'docker'), 0o755)
  writeFileSync(log, '')
  return {
    count: () => readFileSync(log, 'utf8').split('\n').filter(Boolean).length,
    env: {PATH: `${dir}${delimiter}${process.env.PATH}`},
    remove: () => rmSync(dir, {force: true, recursive: true}),
    reset: () => writeFileSync(log, ''),
  }
}
