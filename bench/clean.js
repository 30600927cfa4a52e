// Clean section of `npm run bench`: `moat system clean --force --skip temp` against what a user would run instead,
// the three prunes one after another (`docker container prune` for run containers, then for sidecars, then
// `docker network prune --filter label=moat.managed=true`), on a private Docker engine, each on a fresh, identical
// set of dead runs (a run container run_<12 hex>, a BuildKit sidecar moat-buildkit-run_<12 hex> and the run's
// network moat-run_<12 hex> each; no run dir in MOAT_HOME), in the same run, alternating which goes first. Then one
// profiled moat run per size: its Engine API requests and where its time goes. Every run is checked.
import {join} from 'node:path'

import {breakdown, deadRunsHome, engineSection, IMAGE, parseJson, REPO, runId, sameNames, settle, SETTLE_MS, SETUP_PARALLEL, verifyFloor} from './engine.js'
import {floorRow, requestRow} from './networks.js'
import {alternate, describe, fmtMs, fmtSamples, median} from './temp.js'

export const title = 'moat system clean --skip temp vs the three docker prunes (private engine)'

const BUILT = join(REPO, 'dist', 'commands', 'system', 'clean.js')
/** Issue 13: at most 0.8x the three prunes at 100 dead runs. */
const TARGET_RATIO = 0.8
const SIZES = {
  full: {counts: [10, 100, 500], reps: 3, runs: 100},
  quick: {counts: [3, 6, 12], reps: 1, runs: 5},
}
/** Run containers carry no labels for moat (moat-resources.md §3.1): this one is only for prune's filter. */
const RUN_LABEL = 'bench=moat'
const SIDECAR_ROLE = 'moat.role=buildkit-sidecar'
const MOAT_ARGS = ['system', 'clean', '--force', '--skip', 'temp', '--min-age', '0s', '--json']
const PRUNES = [
  ['container', 'prune', '--force', '--filter', `label=${RUN_LABEL}`],
  ['container', 'prune', '--force', '--filter', `label=${SIDECAR_ROLE}`],
  ['network', 'prune', '--force', '--filter', 'label=moat.managed=true'],
]

export async function run({interrupted, log, quick}) {
  const size = quick ? SIZES.quick : SIZES.full
  return engineSection({built: BUILT, interrupted, log, name: 'clean'}, async ({base, check, engine, floor, moat, notes, prune, rows, tick}) => {
    // Decoys both must keep through every run: a running labelled run container (moat keeps it without
    // --include-running, prune because it runs), an exited unlabelled container that is none of moat's, and a
    // labelled network of a dead run that a running container uses (moat keeps it for that container, prune because
    // it is in use).
    const running = runId()
    const inUse = `moat-${runId()}`
    await engine.ok(['run', '--detach', '--name', running, '--label', RUN_LABEL, IMAGE, 'sleep', '3600'])
    await engine.createContainers([{name: 'bench-unrelated'}], {start: true})
    await engine.createNetworks([inUse])
    await engine.ok(['run', '--detach', '--name', 'bench-sleeper', '--network', inUse, IMAGE, 'sleep', '3600'])
    const baseline = {containers: await engine.containerNames(), networks: await engine.networkNames()}
    const afterRun = async (what, problem) =>
      problem ??
      sameNames(`containers on the engine after ${what}, against before the set was made`, baseline.containers, await engine.containerNames()) ??
      sameNames(`networks on the engine after ${what}, against before the set was made`, baseline.networks, await engine.networkNames())

    const setupMs = []
    /** n dead runs: a run container and a BuildKit sidecar (created, never started) on the run's labelled network. */
    const freshSet = async (n) => {
      const started = process.hrtime.bigint()
      const ids = Array.from({length: n}, () => runId())
      await engine.createNetworks(ids.map((id) => `moat-${id}`))
      await engine.createContainers([
        ...ids.map((id) => ({labels: [RUN_LABEL], name: id, network: `moat-${id}`})),
        ...ids.map((id) => ({labels: [`moat.run-id=${id}`, SIDECAR_ROLE], name: `moat-buildkit-${id}`, network: `moat-${id}`})),
      ])
      if (n === size.runs) setupMs.push(Number(process.hrtime.bigint() - started) / 1e6)
      return ids
    }

    // 1. Timing: fresh identical sets, alternating which goes first; the prunes' time is the three processes' sum.
    const ms = {floor: [], moat: [], prune: []}
    await alternate(size.reps, [
      async () => {
        const ids = await freshSet(size.runs)
        await settle()
        await tick()
        const r = moat.timed(MOAT_ARGS, deadRunsHome(base))
        ms.moat.push(r.ms)
        check('moat clean --force --skip temp removes exactly the dead runs’ objects, keeps the decoys', await afterRun('moat', verifyMoat(r, ids, running, inUse)))
      },
      async () => {
        const ids = await freshSet(size.runs)
        await settle()
        await tick()
        const results = PRUNES.map((args) => prune(args))
        ms.prune.push(results.reduce((sum, r) => sum + r.ms, 0))
        check('the three prunes remove exactly the same set', await afterRun('the prunes', verifyPrunes(results, ids)))
      },
      async () => {
        const ids = await freshSet(size.runs)
        await settle()
        await tick()
        const r = floor('clean')
        ms.floor.push(r.ms)
        const expected = ids.flatMap((id) => [id, `moat-buildkit-${id}`, `moat-${id}`])
        check('bench/floor.js removes exactly the same set', await afterRun('floor.js', verifyFloor(r, expected)))
      },
    ], tick)
    log(`clean --force --skip temp at ${size.runs} dead runs: moat ${fmtSamples(ms.moat)} ms; the three prunes ${fmtSamples(ms.prune)} ms`)
    const ratio = median(ms.moat) / median(ms.prune)
    rows.push({
      name: `clean --force --skip temp, ${size.runs} dead runs, median of ${size.reps}`,
      pass: ratio <= TARGET_RATIO,
      ratio: `${ratio.toFixed(2)}x`,
      reference: `${fmtMs(median(ms.prune))} (3 prunes)`,
      target: `<= ${TARGET_RATIO}x`,
      value: fmtMs(median(ms.moat)),
    }, floorRow(`${size.runs} dead runs`, ms.floor, ms.prune, '3 prunes'))

    // 2. One profiled moat run per size: its requests (a fixed part plus a part per candidate) and its time.
    const requests = []
    const profiles = []
    for (const n of size.counts) {
      const ids = await freshSet(n)
      await settle()
      await tick()
      const r = moat.profiled(MOAT_ARGS, deadRunsHome(base))
      check('moat clean --force --skip temp under the request log removes exactly the dead runs’ objects', await afterRun(`moat (profiled, ${n})`, verifyMoat(r, ids, running, inUse)))
      check('moat started no docker process', r.calls.length > 0 ? `${r.calls.length} at ${n} dead runs` : undefined)
      requests.push(r.requests.length)
      profiles.push(breakdown(r))
    }

    log(`Engine API requests for clean --force --skip temp at ${size.counts.join('/')} dead runs: ${requests.join('/')}`)
    rows.push(requestRow('clean --force --skip temp', size.counts, requests))
    notes.push(
      `private engine ${engine.host} (engine.sh); per run a fresh set of n dead runs, each a created run container run_<id> (labelled ${RUN_LABEL} only for prune's filter) and a BuildKit sidecar moat-buildkit-run_<id> (moat.run-id, ${SIDECAR_ROLE}) on a labelled network moat-run_<id>, MOAT_HOME with an empty runs/; decoys kept through every run: a running labelled run container, an exited unlabelled bench-unrelated, a labelled moat-run_ network a running container uses. A set of ${size.runs} runs (${3 * size.runs} objects) made with ${SETUP_PARALLEL} docker processes at a time in ${fmtMs(median(setupMs))} (median)`,
      `reference: ${PRUNES.map((args) => `docker ${args.join(' ')}`).join(', then ')}; its time is the sum of the three processes`,
      `samples (ms): moat ${fmtSamples(ms.moat)} vs the three prunes ${fmtSamples(ms.prune)} vs floor.js ${fmtSamples(ms.floor)}; order rotated (moat, prunes, floor.js, then reversed), each run ${SETTLE_MS} ms after its set was made; per-repetition ratios to the prunes: moat ${ms.moat.map((m, i) => (m / ms.prune[i]).toFixed(2)).join('/')}, floor.js ${ms.floor.map((m, i) => (m / ms.prune[i]).toFixed(2)).join('/')}`,
      'floor: bench/floor.js makes the same Engine API calls as moat (info, the container list, an inspect of every container, the network list and an inspect of each; then per container target a re-verify inspect of each and its DELETE; then a re-verify inspect of each network with a container list, and its DELETE; 8 in flight) from bare node:http, without oclif, the run registry, the lock or any check',
      ...size.counts.map((n, i) => `profiled at ${n} dead runs: ${profiles[i].text}`),
    )
  })
}

/** moat's --json: every dead run's container, sidecar and network removed; only the decoys kept; nothing failed. */
function verifyMoat(r, ids, running, inUse) {
  const {doc, error} = parseJson(r)
  if (error) return `moat: ${error}`
  if (r.status !== 0) return `moat: ${describe(r)}`
  const sections = Object.fromEntries(doc.targets.map((t) => [t.target, t.items]))
  const expected = {
    containers: {kept: [running], removed: ids},
    networks: {kept: [inUse], removed: ids.map((id) => `moat-${id}`)},
    sidecars: {kept: [], removed: ids.map((id) => `moat-buildkit-${id}`)},
  }
  for (const [target, want] of Object.entries(expected)) {
    const items = sections[target] ?? []
    const problem =
      sameNames(`moat's removed ${target}`, new Set(want.removed), namesDecided(items, 'removed')) ??
      sameNames(`moat's kept ${target}`, new Set(want.kept), namesDecided(items, 'kept'))
    if (problem) return problem
    const other = items.filter((item) => item.decision !== 'removed' && item.decision !== 'kept')
    if (other.length > 0) return `moat ${target}: ${other.slice(0, 3).map((item) => `${item.name} ${item.decision} (${item.reason})`).join('; ')}`
  }

  // `clean` also runs targets this fixture has nothing for (helpers, state): they must plan nothing.
  const extra = doc.targets.filter((t) => !expected[t.target] && t.totals.orphans !== 0).map((t) => t.target)
  if (extra.length > 0) return `moat: unexpected orphans in target(s) ${extra.join(', ')}`
}

function namesDecided(items, decision) {
  return new Set(items.filter((item) => item.decision === decision).map((item) => item.name))
}

/** Each prune exited 0 and said it deleted exactly its share of the set. */
function verifyPrunes(results, ids) {
  const failed = results.findIndex((r) => r.status !== 0)
  if (failed !== -1) return `docker ${PRUNES[failed].join(' ')}: ${describe(results[failed])}`
  const listed = (r, heading, pattern) => {
    const lines = r.stdout.split('\n').map((line) => line.trim())
    const start = lines.indexOf(heading)
    return new Set(start === -1 ? [] : lines.slice(start + 1).filter((line) => pattern.test(line)))
  }

  const counts = [
    ['run containers', listed(results[0], 'Deleted Containers:', /^[0-9a-f]{64}$/).size],
    ['sidecars', listed(results[1], 'Deleted Containers:', /^[0-9a-f]{64}$/).size],
  ]
  const wrong = counts.filter(([, count]) => count !== ids.length).map(([what, count]) => `${what}: prune deleted ${count}, expected ${ids.length}`)
  if (wrong.length > 0) return wrong.join('; ')
  return sameNames('network prune says it deleted', new Set(ids.map((id) => `moat-${id}`)), listed(results[2], 'Deleted Networks:', /^moat-run_[0-9a-f]{12}$/))
}
