import type {TestProject} from 'vitest/node'

import {spawn, spawnSync} from 'node:child_process'
import {mkdtemp} from 'node:fs/promises'
import {fileURLToPath} from 'node:url'

import {collectOutput} from '../helpers/child-output.js'

// Values engine suites read with inject(); see test/helpers/engine.ts.
declare module 'vitest' {
  export interface ProvidedContext {
    /** `unix://…` of the test engine, or '' when there is none (skipped or failed). */
    dockerHost: string
    /** One line saying why the engine could not be started, or ''. */
    engineError: string
  }
}

const ENGINE_SH = fileURLToPath(new URL('engine.sh', import.meta.url))

interface ScriptResult {
  exitCode: number
  stderr: string
  stdout: string
}

// stderr is passed through live: a first run may spend a minute in apt-get and should not look hung.
function runEngineSh(args: string[]): Promise<ScriptResult> {
  const child = spawn('bash', [ENGINE_SH, ...args], {stdio: ['ignore', 'pipe', 'pipe']})
  return collectOutput(child, (chunk) => process.stderr.write(chunk)).then(
    ({code, stderr, stdout}) => ({exitCode: code ?? 1, stderr, stdout}),
    (error: Error) => ({exitCode: 127, stderr: `${error.message}\n`, stdout: ''}),
  )
}

function lastLine(text: string): string {
  return (
    text
      .split('\n')
      .map((line) => line.trim())
      .findLast((line) => line !== '') ?? ''
  )
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  project.provide('engineError', '')

  if (process.env.MOAT_TEST_ENGINE === 'skip') {
    process.stderr.write('\n!!! ENGINE SUITES SKIPPED: MOAT_TEST_ENGINE=skip (the Docker side is NOT tested) !!!\n\n')
    project.provide('dockerHost', '')
    return
  }

  const given = process.env.MOAT_TEST_DOCKER_HOST
  if (given) {
    // A developer's already running engine: used as is, and left running.
    project.provide('dockerHost', given)
    return
  }

  // Short on purpose: the engine's unix socket path must stay under 108 bytes.
  const dir = await mkdtemp('/tmp/mte-')
  const started = Date.now()
  const result = await runEngineSh(['start', dir])
  const match = /^DOCKER_HOST=(\S+)$/.exec(lastLine(result.stdout))
  if (result.exitCode !== 0 || !match?.[1]) {
    const why = lastLine(result.stderr) || `engine.sh start ${dir} exited with code ${result.exitCode}`
    // Do not throw: suites that need no engine must still run; engine suites fail with this line.
    project.provide('dockerHost', '')
    project.provide('engineError', why)
    await runEngineSh(['stop', dir])
    return
  }

  const dockerHost = match[1]
  const seconds = ((Date.now() - started) / 1000).toFixed(1)
  process.stderr.write(`test Docker engine: ${dockerHost} (started in ${seconds} s)\n`)
  project.provide('dockerHost', dockerHost)

  // On Ctrl-C or SIGTERM vitest calls process.exit() without running teardowns; the daemon (setsid) would outlive it.
  const stopOnExit = (): void => {
    spawnSync('bash', [ENGINE_SH, 'stop', dir], {stdio: ['ignore', 'ignore', 'inherit']})
  }

  process.once('exit', stopOnExit)

  return async () => {
    process.off('exit', stopOnExit)
    const stopped = await runEngineSh(['stop', dir])
    if (stopped.exitCode !== 0) {
      process.stderr.write(`warning: engine.sh stop ${dir} exited with code ${stopped.exitCode}\n`)
    }
  }
}
