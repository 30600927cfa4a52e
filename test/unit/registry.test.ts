// The target registry: the list every flag, message and command reads, and the order in which targets are built and
// runtimes chosen. In memory: building a target constructs it, and no constructor asks an engine.
import {describe, expect, it} from 'vitest'

import type {AnyTarget} from '../../src/lib/pipeline/pipeline.js'
import type {BatchOutcome, Runtime} from '../../src/lib/runtime/types.js'

import {targetSelectionFlags} from '../../src/lib/cli/flags.js'
import {InputError} from '../../src/lib/exit-codes.js'
import {RuntimeAbsentError, RuntimeUnreachableError} from '../../src/lib/runtime/errors.js'
import {
  buildFromSpecs,
  buildTarget,
  buildTargets,
  chooseKinds,
  DEFAULT_KINDS,
  TARGET_KINDS,
  TARGETS,
  type TargetSpec,
} from '../../src/lib/targets/index.js'

const BUILD = {moatHome: '/nonexistent/moat-home', runtime: 'auto'} as const

/** A runtime that only records being pinged; anything else it is asked fails the test. `'absent'`: none on this host. */
function recordingRuntime(name: 'apple' | 'docker', events: string[], answers: 'absent' | boolean = true): Runtime {
  const unused = (): never => {
    throw new Error(`${name}: only ping() may be called while targets are built`)
  }

  return {
    addressSpace: async () => unused(),
    disconnect: async (): Promise<BatchOutcome> => unused(),
    engine: () => unused(),
    inspect: async () => unused(),
    list: async () => unused(),
    name,
    now: () => Date.now(),
    async ping() {
      events.push(`ping ${name}`)
      if (answers === 'absent') throw new RuntimeAbsentError(name, `no ${name} here: test`)
      if (!answers) throw new RuntimeUnreachableError(name, `${name} engine unreachable: test`)
    },
    remove: async (): Promise<BatchOutcome> => unused(),
    stop: async (): Promise<BatchOutcome> => unused(),
  }
}

/** A spec whose target is an empty in-memory one; `reject` makes its build throw like a validating constructor. */
function memorySpec(kind: string, needsRuntime: boolean, events: string[], reject?: string): TargetSpec {
  return {
    async build(options) {
      events.push(`build ${kind}${options.runtimes ? ` with ${options.runtimes.length} runtimes` : ''}`)
      if (reject) throw new InputError(reject)
      const target: AnyTarget = {
        classify: async () => [],
        kind,
        noun: ['thing', 'things'],
        async remove() {},
        scan: async () => [],
      }
      return target
    },
    byDefault: true,
    command: `clean-${kind}`,
    kind,
    needsRuntime,
    noun: ['thing', 'things'],
    title: kind,
  }
}

describe('the target registry', () => {
  it('lists every target once, in clean order, and each builds the target it describes', async () => {
    // DESIGN.md "clean": containers and sidecars go before networks (a network is freed once its dead run's
    // containers are gone, in the same pass), temp dirs after the engine targets. New targets slot in between.
    const known = ['containers', 'sidecars', 'networks', 'temp']
    expect(TARGET_KINDS.filter((kind) => known.includes(kind))).toEqual(known)
    expect(new Set(TARGET_KINDS).size).toBe(TARGETS.length)
    for (const spec of TARGETS) {
      const target = await buildTarget(spec.kind, BUILD)
      expect({kind: target.kind, noun: target.noun}).toEqual({kind: spec.kind, noun: spec.noun})
    }
  })

  it('--only/--skip help and their error name exactly the registry kinds', () => {
    const notByDefault = TARGETS.filter((spec) => !spec.byDefault).map((spec) => spec.kind)
    expect(targetSelectionFlags.only.description).toBe(
      `Only these targets (comma-separated): ${TARGET_KINDS.join(', ')}. Not run unless named: ${notByDefault.join(', ')}.`,
    )
    expect(targetSelectionFlags.include.description).toBe(`Also run these targets that do not run by default (comma-separated): ${notByDefault.join(', ')}.`)
    expect(() => chooseKinds(['everything'])).toThrow(
      new InputError(`--only: "everything" is not a target; use ${TARGET_KINDS.join(', ')} (e.g. --only networks,temp)`),
    )
    expect(() => chooseKinds(undefined, undefined, ['all'])).toThrow(/^--include: "all" is not a target; .* \(e\.g\. --include volumes\)$/)
    expect(() => chooseKinds(undefined, ['temp,nope'])).toThrow(/^--skip: "nope" is not a target; use containers, sidecars/)
  })
})

describe('chooseKinds', () => {
  it('defaults to the targets run by default, in clean order', () => {
    expect(chooseKinds()).toEqual(DEFAULT_KINDS)
    expect(DEFAULT_KINDS).toEqual(TARGETS.filter((spec) => spec.byDefault).map((spec) => spec.kind))
  })

  it('takes comma-separated and repeated values, keeps clean order, and skips what --skip names', () => {
    expect(chooseKinds(['temp,containers', ' networks '])).toEqual(['containers', 'networks', 'temp'])
    expect(chooseKinds(undefined, ['temp', 'sidecars'])).toEqual(['containers', 'helpers', 'networks', 'state'])
    // Volumes only when asked for: by --include (added to the default set) or by --only.
    expect(chooseKinds()).not.toContain('volumes')
    expect(chooseKinds(undefined, ['temp'], ['volumes'])).toEqual(['containers', 'sidecars', 'helpers', 'networks', 'volumes', 'state'])
    expect(chooseKinds(['volumes'])).toEqual(['volumes'])
    expect(chooseKinds(['networks,temp'], ['temp'])).toEqual(['networks'])
    // --skip of a target only --include or --only would add is no error while something is left.
    expect(chooseKinds(undefined, ['volumes'])).toEqual(DEFAULT_KINDS)
  })

  it('a selection that leaves nothing to run is a usage error naming it, with an example', () => {
    expect(() => chooseKinds(['temp'], ['temp'])).toThrow(
      new InputError('--only temp --skip temp leaves no target to run; skip fewer (e.g. --only networks,temp --skip temp)'),
    )
    expect(() => chooseKinds(['temp,networks'], ['networks', 'temp,state'])).toThrow(
      new InputError('--only networks,temp --skip networks,state,temp leaves no target to run; skip fewer (e.g. --only networks,temp --skip temp)'),
    )
    expect(() => chooseKinds(undefined, [DEFAULT_KINDS.join(',')])).toThrow(
      new InputError(`--skip ${DEFAULT_KINDS.join(',')} leaves no target to run; skip fewer (e.g. --skip temp)`),
    )
  })

  it.each([[['']], [[',']], [[' , ,']], [['', '']]])('a flag value naming no target (%j) is a usage error, not an empty pass', (value) => {
    expect(() => chooseKinds(value)).toThrow(
      new InputError(`--only: names no target; use ${TARGET_KINDS.join(', ')} (e.g. --only networks,temp)`),
    )
    expect(() => chooseKinds(undefined, value)).toThrow(/^--skip: names no target; use containers, .* \(e\.g\. --skip networks,temp\)$/)
    expect(() => chooseKinds(undefined, undefined, value)).toThrow(/^--include: names no target; .* \(e\.g\. --include volumes\)$/)
  })
})

/** What an engine target and a host one build to with these runtimes, and why the engine one was dropped. */
async function droppedWhy(...runtimes: Runtime[]): Promise<{kinds: string[]; said: string[]}> {
  const said: string[] = []
  const specs = [memorySpec('a', true, []), memorySpec('dirs', false, [])]
  const targets = await buildFromSpecs(specs, {...BUILD, available: runtimes, dropped: (reason) => said.push(reason), warn() {}})
  return {kinds: targets.map((target) => target.kind), said}
}

describe('buildTargets', () => {
  it('builds every target before any runtime is pinged: a constructor that rejects its input asks no engine', async () => {
    const events: string[] = []
    const specs = [memorySpec('engine-thing', true, events), memorySpec('dirs', false, events, '--tmp-dir: bad')]
    await expect(
      buildFromSpecs(specs, {...BUILD, available: [recordingRuntime('docker', events)], warn() {}}),
    ).rejects.toThrow(new InputError('--tmp-dir: bad'))
    expect(events).toEqual(['build engine-thing with 0 runtimes', 'build dirs'])
  })

  it('then pings each runtime once and hands the ones that answer to every engine target', async () => {
    const events: string[] = []
    const notes: string[] = []
    const docker = recordingRuntime('docker', events)
    const apple = recordingRuntime('apple', events, false)
    const built: Array<readonly Runtime[] | undefined> = []
    const spy = (spec: TargetSpec): TargetSpec => ({
      ...spec,
      async build(options) {
        built.push(options.runtimes)
        return spec.build(options)
      },
    })
    const specs = [spy(memorySpec('a', true, events)), spy(memorySpec('b', true, events)), spy(memorySpec('dirs', false, events))]
    const targets = await buildFromSpecs(specs, {...BUILD, available: [docker, apple], warn: (message) => notes.push(message)})
    expect(targets.map((target) => target.kind)).toEqual(['a', 'b', 'dirs'])
    expect(events.filter((event) => event.startsWith('ping')).sort()).toEqual(['ping apple', 'ping docker'])
    // The same list for both engine targets, filled with the runtime that answered before any of them scans.
    expect(built[0]).toBe(built[1])
    expect(built[0]).toEqual([docker])
    expect(built[2]).toBeUndefined()
    expect(notes).toEqual(['apple engine unreachable: test; skipped: none of its resources is judged.'])
  })

  it('no runtime answers: the engine targets are dropped with one note naming them, the others still run', async () => {
    const events: string[] = []
    const notes: string[] = []
    const specs = [memorySpec('a', true, events), memorySpec('dirs', false, events), memorySpec('b', true, events)]
    const targets = await buildFromSpecs(specs, {
      ...BUILD,
      available: [recordingRuntime('docker', events, false)],
      warn: (message) => notes.push(message),
    })
    expect(targets.map((target) => target.kind)).toEqual(['dirs'])
    expect(notes).toHaveLength(1)
    expect(notes[0]).toMatch(/^No container runtime answered\. .* Skipped: a, b\.$/)
  })

  it('says why engine targets were dropped: no runtime on this host at all, or one that is there and silent', async () => {
    expect(await droppedWhy(recordingRuntime('docker', [], 'absent'), recordingRuntime('apple', [], 'absent'))).toEqual({kinds: ['dirs'], said: ['absent']})
    expect(await droppedWhy(recordingRuntime('docker', [], false), recordingRuntime('apple', [], 'absent'))).toEqual({kinds: ['dirs'], said: ['unreachable']})
    expect(await droppedWhy(recordingRuntime('docker', []), recordingRuntime('apple', [], 'absent'))).toEqual({kinds: ['a', 'dirs'], said: []})
  })

  it('no engine target chosen: no runtime is asked at all', async () => {
    const events: string[] = []
    const targets = await buildTargets(['temp'], {...BUILD, available: [recordingRuntime('docker', events)], warn() {}})
    expect(targets.map((target) => target.kind)).toEqual(['temp'])
    expect(events).toEqual([])
  })
})
