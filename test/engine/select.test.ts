// --runtime auto|docker|apple against the real Docker engine and the SIMULATED Apple `container` CLI
// (test/fixtures/fake-container; the real one runs only on macOS).
import {mkdtempSync, rmSync, symlinkSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, expect, it} from 'vitest'

import {AppleCli} from '../../src/lib/runtime/apple.js'
import {DockerApi} from '../../src/lib/runtime/docker-api.js'
import {parseDockerHost} from '../../src/lib/runtime/docker-endpoint.js'
import {DockerCli} from '../../src/lib/runtime/docker.js'
import {RuntimeUnreachableError} from '../../src/lib/runtime/errors.js'
import {selectRuntimes} from '../../src/lib/runtime/select.js'
import {type FakeHandle, useFakeContainer} from '../fixtures/fake-container/state.js'
import {describeEngine, requireEngine} from '../helpers/engine.js'

const DEAD_ENGINE = 'unix:///nonexistent/moat-test/docker.sock'

function names(runtimes: Array<{name: string}>): string[] {
  return runtimes.map((runtime) => runtime.name)
}

describeEngine('selectRuntimes', () => {
  const saved = {context: process.env.DOCKER_CONTEXT, host: process.env.DOCKER_HOST, path: process.env.PATH}
  let fake: FakeHandle | undefined
  let warnings: string[]
  const warn = (message: string) => warnings.push(message)
  const apple = (down = false) => {
    fake = useFakeContainer({containers: [], down, networks: [], schema: '1.0.0'})
  }

  beforeEach(() => {
    warnings = []
    process.env.DOCKER_HOST = requireEngine()
    delete process.env.DOCKER_CONTEXT
  })

  afterEach(() => {
    fake?.restore()
    fake = undefined
    process.env.PATH = saved.path
    if (saved.host === undefined) delete process.env.DOCKER_HOST
    else process.env.DOCKER_HOST = saved.host
    if (saved.context !== undefined) process.env.DOCKER_CONTEXT = saved.context
  })

  it('auto: every runtime that answers; an absent Apple CLI is silently not used', async () => {
    expect(names(await selectRuntimes('auto', warn))).toEqual(['docker'])
    expect(warnings).toEqual([])
    apple()
    expect(names(await selectRuntimes('auto', warn))).toEqual(['docker', 'apple'])
    expect(warnings).toEqual([])
  })

  it('auto: a runtime whose CLI is present but does not answer is skipped with a warning', async () => {
    process.env.DOCKER_HOST = DEAD_ENGINE
    apple()
    expect(names(await selectRuntimes('auto', warn))).toEqual(['apple'])
    expect(warnings).toEqual([expect.stringMatching(/^Docker engine unreachable: .*skipped: none of its resources is judged\.$/)])
  })

  it('auto: when nothing answers, one clear error', async () => {
    process.env.DOCKER_HOST = DEAD_ENGINE
    apple(true)
    await expect(selectRuntimes('auto', warn)).rejects.toThrow(/^No container runtime answered\. Docker engine unreachable: .*; Apple container services unreachable: XPC/)
  })

  it('auto: when no runtime is there at all (no Docker engine configured, no CLI on PATH), one clear error', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'empty-path-'))
    symlinkSync(process.execPath, join(empty, 'node'))
    process.env.PATH = empty
    // Nothing points at an engine, and where the default socket would be there is none.
    const nowhere = parseDockerHost('unix:///nonexistent/moat-test/docker.sock', {configured: false, source: 'default'})
    try {
      await expect(selectRuntimes('auto', warn, [new DockerApi(nowhere), new AppleCli()])).rejects.toThrow(
        'No container runtime found: no Docker engine configured (no DOCKER_HOST, no docker context) and no socket at unix:///nonexistent/moat-test/docker.sock; the Apple container CLI is not on PATH.',
      )
      // The docker CLI fallback (ssh:// and the like) without its CLI is absent as well.
      await expect(selectRuntimes('auto', warn, [new DockerCli(), new AppleCli()])).rejects.toThrow(
        'No container runtime found: the docker CLI is not on PATH; the Apple container CLI is not on PATH.',
      )
      expect(warnings).toEqual([])
    } finally {
      rmSync(empty, {force: true, recursive: true})
    }
  })

  it('auto: the Docker engine answers through its API with no docker CLI on PATH', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'empty-path-'))
    process.env.PATH = empty
    try {
      expect(names(await selectRuntimes('auto', warn))).toEqual(['docker'])
      expect(warnings).toEqual([])
    } finally {
      rmSync(empty, {force: true, recursive: true})
    }
  })

  it('--runtime docker|apple: only that one, and an error naming the flag when it does not answer', async () => {
    apple()
    expect(names(await selectRuntimes('docker', warn))).toEqual(['docker'])
    expect(names(await selectRuntimes('apple', warn))).toEqual(['apple'])
    process.env.DOCKER_HOST = DEAD_ENGINE
    const error = await selectRuntimes('docker', warn).catch((error_: unknown) => error_)
    expect(error).toBeInstanceOf(RuntimeUnreachableError)
    expect((error as Error).message).toMatch(/^--runtime docker: Docker engine unreachable: Cannot connect to the Docker daemon/)
    fake!.restore()
    fake = undefined
    await expect(selectRuntimes('apple', warn)).rejects.toThrow('--runtime apple: the Apple container CLI is not on PATH')
    expect(warnings).toEqual([])
  })
})
