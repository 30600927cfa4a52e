// moat's runs/<id>/metadata.json (moat-resources.md §2.2), read leniently: unknown fields are ignored, a field of
// an unexpected type is treated as absent, and Go's zero time means "never".
import {parseTimestamp} from '../runtime/batch.js'

export interface RunMetadata {
  buildkitContainerId?: string
  containerId?: string
  createdAtMs?: number
  /** §11 (podman support): the engine endpoint the run used, when not the default one. */
  dockerHost?: string
  networkId?: string
  /** `docker` or `apple`; absent for legacy runs, which used the default runtime. */
  runtime?: string
  /** service name → container ID */
  serviceContainers: Record<string, string>
  startedAtMs?: number
  /** created, starting, running, stopping, stopped, failed (§2.2) */
  state?: string
  stoppedAtMs?: number
  /** `bind` or `volume` (§5.1: a volume-mode run keeps its work only in its workspace volume). */
  workspaceMode?: string
  workspaceVolume?: string
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined
}

/** Throws when the text is not a JSON object (a half-written or foreign file). */
export function parseMetadata(json: string): RunMetadata {
  const raw = JSON.parse(json) as unknown
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new Error('not a JSON object')
  /* eslint-disable camelcase -- moat's field names */
  const {
    buildkit_container_id,
    container_id,
    created_at,
    docker_host,
    network_id,
    runtime,
    service_containers,
    started_at,
    state,
    stopped_at,
    workspace_mode,
    workspace_volume,
  } = raw as Record<string, unknown>
  const services =
    service_containers && typeof service_containers === 'object' && !Array.isArray(service_containers)
      ? Object.fromEntries(Object.entries(service_containers).filter(([, id]) => typeof id === 'string'))
      : {}
  return {
    buildkitContainerId: text(buildkit_container_id),
    containerId: text(container_id),
    createdAtMs: parseTimestamp(created_at),
    dockerHost: text(docker_host),
    networkId: text(network_id),
    runtime: text(runtime),
    serviceContainers: services as Record<string, string>,
    startedAtMs: parseTimestamp(started_at),
    state: text(state),
    stoppedAtMs: parseTimestamp(stopped_at),
    workspaceMode: text(workspace_mode),
    workspaceVolume: text(workspace_volume),
  }
  /* eslint-enable camelcase */
}

/** §5.1: snapshot types that are not an extraction of the agent's work. */
const NOT_EXTRACTION: ReadonlySet<string> = new Set(['pre-run', 'safety'])

/**
 * Whether runs/<id>/snapshots/snapshots.json lists an extraction snapshot (any type but pre-run and safety), the
 * rule `moat destroy` applies before it removes a volume-mode run (§5.1). False when the file is absent or unreadable.
 */
export function hasExtractionSnapshot(snapshotsJson: string | undefined): boolean {
  if (!snapshotsJson) return false
  let value: unknown
  try {
    value = JSON.parse(snapshotsJson)
  } catch {
    return false
  }

  const list = Array.isArray(value) ? value : (value as {snapshots?: unknown})?.snapshots
  if (!Array.isArray(list)) return false
  return list.some((entry) => {
    const type = (entry as {type?: unknown})?.type
    return typeof type === 'string' && !NOT_EXTRACTION.has(type)
  })
}
