// moat's runs/<id>/metadata.json (moat-resources.md §2.2), read leniently: unknown fields are ignored, a field of
// an unexpected type is treated as absent, and Go's zero time means "never".
import {parseTimestamp} from '../runtime/batch.js'

export interface RunMetadata {
  buildkitContainerId?: string
  containerId?: string
  createdAtMs?: number
  networkId?: string
  /** `docker` or `apple`; absent for legacy runs, which used the default runtime. */
  runtime?: string
  /** service name → container ID */
  serviceContainers: Record<string, string>
  startedAtMs?: number
  /** created, starting, running, stopping, stopped, failed (§2.2) */
  state?: string
  stoppedAtMs?: number
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
    network_id,
    runtime,
    service_containers,
    started_at,
    state,
    stopped_at,
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
    networkId: text(network_id),
    runtime: text(runtime),
    serviceContainers: services as Record<string, string>,
    startedAtMs: parseTimestamp(started_at),
    state: text(state),
    stoppedAtMs: parseTimestamp(stopped_at),
    workspaceVolume: text(workspace_volume),
  }
  /* eslint-enable camelcase */
}
