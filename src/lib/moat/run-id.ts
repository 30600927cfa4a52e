/** moat's run IDs: `run_` + 12 lowercase hex (moat-resources.md §2.1). Validate before deriving any name (§10.2). */
export const RUN_ID = /^run_[0-9a-f]{12}$/

/** The run a `moat-<run-id>` name belongs to (a per-run network, §4.1), or undefined for any other name. */
export function runOfNetworkName(name: string): string | undefined {
  const runId = name.startsWith('moat-') ? name.slice(5) : ''
  return RUN_ID.test(runId) ? runId : undefined
}

/**
 * Whether a container belongs to this run: the run container is named `<run-id>`, its BuildKit sidecar and
 * services `moat-<role>-<run-id>`, and Docker sidecars also carry the label moat.run-id (§0, §3.1).
 */
export function belongsToRun(container: {labels: Record<string, string>; name: string}, runId: string): boolean {
  if (container.labels['moat.run-id'] === runId) return true
  return container.name === runId || (container.name.startsWith('moat-') && container.name.endsWith(`-${runId}`))
}
