// The engine commands' fast path, the built binary against the test engine: the Engine API adapter does the work,
// and neither execa nor any docker process is needed (DESIGN.md "Runtimes").
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterEach, beforeEach, expect, it} from 'vitest'

import {jsonOf, loadedSources, runCli} from '../helpers/cli.js'
import {describeEngine, requireEngine} from '../helpers/engine.js'

const REGISTER = fileURLToPath(new URL('../fixtures/trace-imports/register.mjs', import.meta.url))

describeEngine('engine commands on the Engine API', () => {
  let dir: string

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'fast-path-'))
  })

  afterEach(() => {
    rmSync(dir, {force: true, recursive: true})
  })

  for (const command of ['clean-containers', 'clean-networks', 'clean-sidecars']) {
    it(`${command} loads neither execa nor the docker CLI, and still plans`, () => {
      const trace = join(dir, 'imports.log')
      // PATH holds no docker and no Apple `container`: any process the command tried to start would fail.
      const result = runCli(['system', command, '--dry-run', '--json', '--min-age', '0s', '--runtime', 'auto'], {
        DOCKER_HOST: requireEngine(),
        MOAT_HOME: dir,
        MOAT_TRACE_IMPORTS: trace,
        NODE_OPTIONS: `--import ${REGISTER}`,
        PATH: dir,
      })
      expect(result.exitCode, result.stderr).toBe(0)
      expect(jsonOf(result)).toMatchObject({dryRun: true})
      const loaded = loadedSources(trace)
      expect(loaded.some((url) => url.endsWith('/dist/lib/runtime/docker-api.js'))).toBe(true)
      expect(loaded.filter((url) => url.includes('/node_modules/execa/'))).toEqual([])
    })
  }
})
