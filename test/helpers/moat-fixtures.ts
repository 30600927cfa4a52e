// Resources shaped exactly as moat creates them (moat-resources.md §0, §2, §3.1, §4.1), so the cleaner is tested
// against what it will really meet. Docker resources go to the private test engine only.
import {randomBytes} from 'node:crypto'
import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterEach, beforeEach} from 'vitest'

import {docker, dockerOk, TEST_IMAGE} from './engine.js'
import {fixtureChanged} from './fixture-clock.js'

/** What Go's time.Time marshals to when unset (`omitempty` has no effect on it). */
export const ZERO_TIME = '0001-01-01T00:00:00Z'

/** moat's metadata.json (internal/storage/storage.go Metadata; Go field order in FIELD_ORDER). Times are RFC 3339. */
export interface Metadata {
  agent: string
  buildkit_container_id: string
  container_id: string
  created_at: string
  /** §11: the engine endpoint the run used (podman support). */
  docker_host: string
  error: string
  grants: string[]
  image: string
  interactive: boolean
  name: string
  network_id: string
  ports: Record<string, number>
  provider_meta: Record<string, string>
  runtime: '' | 'apple' | 'docker'
  service_containers: Record<string, string>
  started_at: string
  state: '' | 'created' | 'failed' | 'running' | 'starting' | 'stopped' | 'stopping'
  stopped_at: string
  workspace: string
  workspace_mode: '' | 'bind' | 'volume'
  workspace_volume: string
  worktree_branch: string
  worktree_path: string
  worktree_repo_id: string
}

// Fields without `omitempty` in storage.go: always written, even when empty.
const ALWAYS_WRITTEN = new Set<keyof Metadata>(['created_at', 'name', 'started_at', 'stopped_at', 'workspace'])

const FIELD_ORDER: Array<keyof Metadata> = [
  'name',
  'workspace',
  'grants',
  'agent',
  'image',
  'ports',
  'container_id',
  'state',
  'interactive',
  'created_at',
  'docker_host',
  'started_at',
  'stopped_at',
  'error',
  'provider_meta',
  'worktree_branch',
  'worktree_path',
  'worktree_repo_id',
  'service_containers',
  'runtime',
  'buildkit_container_id',
  'network_id',
  'workspace_mode',
  'workspace_volume',
]

/** `run_` + 12 lowercase hex, like moat's id.Generate("run"). */
export function newRunId(): string {
  return `run_${randomBytes(6).toString('hex')}`
}

/** A time as Go's RFC 3339 marshalling of a local time.Time prints it: local offset, trailing zeros trimmed. */
export function goTime(date: Date): string {
  const offsetMinutes = -date.getTimezoneOffset()
  const local = new Date(date.getTime() + offsetMinutes * 60_000).toISOString()
  const seconds = local.slice(0, 19)
  const fraction = local.slice(20, 23).replace(/0+$/, '')
  if (offsetMinutes === 0) return `${seconds}${fraction ? `.${fraction}` : ''}Z`
  const sign = offsetMinutes > 0 ? '+' : '-'
  const abs = Math.abs(offsetMinutes)
  const zone = `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`
  return `${seconds}${fraction ? `.${fraction}` : ''}${zone}`
}

function isEmpty(value: unknown): boolean {
  if (value === undefined || value === null || value === '' || value === false) return true
  if (Array.isArray(value)) return value.length === 0
  return typeof value === 'object' && Object.keys(value).length === 0
}

function sortedKeys<T>(map: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(map).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
}

/** metadata.json text byte for byte as Go's json.MarshalIndent(m, "", "  ") writes it (no trailing newline). */
export function metadataJson(metadata: Partial<Metadata>): string {
  const out: Record<string, unknown> = {}
  for (const key of FIELD_ORDER) {
    let value: unknown = metadata[key]
    if (ALWAYS_WRITTEN.has(key)) value ??= key.endsWith('_at') ? ZERO_TIME : ''
    else if (isEmpty(value)) continue
    // Go writes map keys sorted.
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      value = sortedKeys(value as Record<string, unknown>)
    }

    out[key] = value
  }

  // Go's encoder escapes HTML-sensitive characters and the JS line separators.
  return JSON.stringify(out, null, 2).replaceAll(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`,
  )
}

export interface MoatHome {
  cleanup(): Promise<void>
  /** Use as MOAT_HOME. */
  home: string
  runsDir: string
}

/** A fresh MOAT_HOME with an empty runs/. The `mth-` prefix matches none of moat's temp-dir patterns. */
export async function makeMoatHome(): Promise<MoatHome> {
  const home = await mkdtemp(path.join(tmpdir(), 'mth-'))
  const runsDir = path.join(home, 'runs')
  await mkdir(runsDir, {mode: 0o700})
  return {
    cleanup: () => rm(home, {force: true, recursive: true}),
    home,
    runsDir,
  }
}

/**
 * A fresh MOAT_HOME (makeMoatHome) for each test, removed after it: a beforeEach and an afterEach where this is called.
 * Read `home` and `runsDir` inside tests and hooks.
 */
export function useMoatHome(): Readonly<Pick<MoatHome, 'home' | 'runsDir'>> {
  let current: MoatHome | undefined
  beforeEach(async () => {
    current = await makeMoatHome()
  })
  afterEach(async () => {
    await current?.cleanup()
    current = undefined
  })
  const now = (): MoatHome => {
    if (!current) throw new Error('useMoatHome: MOAT_HOME is only made for a test, read it inside one')
    return current
  }

  return {
    get home() {
      return now().home
    },
    get runsDir() {
      return now().runsDir
    },
  }
}

/**
 * runs/<runId>/ (0700) with metadata.json (0600) merged over typical values, or without metadata.json when
 * metadata is null (a run that crashed before moat saved it). Returns the run dir.
 */
export async function makeRunDir(
  moatHome: string,
  runId: string,
  metadata: null | Partial<Metadata> = {},
): Promise<string> {
  const dir = path.join(moatHome, 'runs', runId)
  await mkdir(dir, {mode: 0o700, recursive: true})
  if (metadata !== null) {
    const now = goTime(new Date())
    /* eslint-disable camelcase -- moat's JSON field names */
    const full: Partial<Metadata> = {
      agent: 'claude-code',
      created_at: now,
      grants: ['github'],
      image: 'moat/run:0123456789abcdef',
      name: 'fixture-agent',
      runtime: 'docker',
      started_at: now,
      state: 'running',
      workspace: '/src/fixture-app',
      ...metadata,
    }
    /* eslint-enable camelcase */
    await writeFile(path.join(dir, 'metadata.json'), metadataJson(full), {mode: 0o600})
  }

  // A run dir's mtime is an age too (a run that crashed while starting, the state target).
  fixtureChanged()
  return dir
}

/** moat's per-run network: `moat-<runId>`, bridge, label moat.managed=true. Returns the full network ID. */
export function createRunNetwork(runId: string): Promise<string> {
  return dockerOk(['network', 'create', '--driver', 'bridge', '--label', 'moat.managed=true', `moat-${runId}`])
}

export interface ContainerOptions {
  /** Bind mounts as `src:dst`. */
  mounts?: string[]
  /** Network name or ID to attach to. */
  network?: string
  /** Started (default) or only created. */
  running?: boolean
}

async function createContainer(name: string, flags: string[], opts: ContainerOptions): Promise<string> {
  const args = opts.running === false ? ['create'] : ['run', '--detach']
  args.push('--name', name, ...flags)
  if (opts.network) args.push('--network', opts.network)
  for (const mount of opts.mounts ?? []) args.push('--volume', mount)
  args.push(TEST_IMAGE, 'sleep', '3600')
  return dockerOk(args)
}

/** moat's main run container: named exactly `<runId>`, no labels. Returns the full container ID. */
export function createRunContainer(runId: string, opts: ContainerOptions = {}): Promise<string> {
  return createContainer(runId, [], opts)
}

export interface SidecarOptions extends ContainerOptions {
  role: 'buildkit-sidecar' | 'service'
  /** Service name for role 'service', e.g. postgres. */
  service?: string
}

/**
 * A BuildKit sidecar (`moat-buildkit-<runId>`) or service container (`moat-<service>-<runId>`) with moat's
 * moat.run-id and moat.role labels. Returns the full container ID.
 */
export function createSidecar(runId: string, opts: SidecarOptions): Promise<string> {
  const alias = opts.role === 'buildkit-sidecar' ? 'buildkit' : opts.service
  if (!alias) throw new Error('createSidecar: role service needs a service name')
  const flags = ['--label', `moat.run-id=${runId}`, '--label', `moat.role=${opts.role}`, '--hostname', alias]
  // moat reaches sidecars by their alias on the run network.
  if (opts.network) flags.push('--network-alias', alias)
  return createContainer(`moat-${alias}-${runId}`, flags, opts)
}

/**
 * moat's workspace volume (§5.1): `moat-ws-<runId>`, label moat=workspace, filled by a short-lived container with
 * `files` (path -> content; directories are made as needed). Returns the volume name.
 */
export async function createWorkspaceVolume(runId: string, files?: Record<string, string>): Promise<string> {
  const name = `moat-ws-${runId}`
  await dockerOk(['volume', 'create', '--label', 'moat=workspace', name])
  const script = Object.entries(files ?? {'work.txt': "the agent's work\n"})
    .map(([file, content]) => `mkdir -p "$(dirname '/w/${file}')" && printf '%s' '${content.replaceAll("'", String.raw`'\''`)}' > '/w/${file}'`)
    .join(' && ')
  if (script) await dockerOk(['run', '--rm', '--volume', `${name}:/w`, TEST_IMAGE, 'sh', '-c', script])
  return name
}

/** afterEach cleanup: force-removes every container whose name contains runId or that uses its workspace volume, the run network and the volume. */
export async function removeAllForRun(runId: string): Promise<void> {
  const byName = await dockerOk(['ps', '--all', '--quiet', '--no-trunc', '--filter', `name=${runId}`])
  const byVolume = await dockerOk(['ps', '--all', '--quiet', '--no-trunc', '--filter', `volume=moat-ws-${runId}`])
  const ids = [...new Set([...byName.split('\n'), ...byVolume.split('\n')].filter(Boolean))]
  if (ids.length > 0) await dockerOk(['rm', '--force', ...ids])
  const volume = await docker(['volume', 'rm', '--force', `moat-ws-${runId}`])
  if (volume.exitCode !== 0) throw new Error(`docker volume rm moat-ws-${runId}: ${volume.stderr.trim()}`)
  const net = await docker(['network', 'rm', `moat-${runId}`])
  if (net.exitCode !== 0 && !/not found|no such network/i.test(net.stderr)) {
    throw new Error(`docker network rm moat-${runId}: ${net.stderr.trim()}`)
  }
}

export interface TrackedRunIds {
  /** The run IDs handed out in the current test. */
  readonly ids: readonly string[]
  /** A new run ID whose containers and network are removed from the engine after the test. */
  next(): string
}

/** Run IDs for engine fixtures, each cleaned up with removeAllForRun after its test (an afterEach where this is called). */
export function trackRunIds(): TrackedRunIds {
  const ids: string[] = []
  // eslint-disable-next-line mocha/no-sibling-hooks -- it goes to the caller's suite, like useMoatHome's
  afterEach(async () => {
    for (const runId of ids.splice(0)) await removeAllForRun(runId)
  })
  return {
    ids,
    next() {
      const runId = newRunId()
      ids.push(runId)
      return runId
    },
  }
}
