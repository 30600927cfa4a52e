// Containers section of `npm run bench`: `moat system clean-containers --force` against
// `docker container prune --force --filter label=bench=moat` on a private Docker engine, each on a fresh, identical
// set of 100 exited orphan run containers (named run_<12 hex>, labelled bench=moat so prune's filter picks exactly
// them; moat ignores labels on run containers), in the same run, alternating which goes first. Then how many docker
// processes moat starts at 10 and at 200 candidates for clean-containers --force and --dry-run, clean-sidecars
// --dry-run and clean --dry-run --skip temp, counted by a shim first on its PATH. Every run is checked.
import {join} from 'node:path'

import {breakdown, deadRunsHome, engineSection, IMAGE, parseJson, REPO, runId, sameNames, settle, SETTLE_MS, SETUP_PARALLEL, verifyFloor} from './engine.js'
import {countRow, floorRow, requestRow, sizeList} from './networks.js'
import {alternate, describe, fmtMs, fmtSamples, median} from './temp.js'

export const title = 'moat system clean-containers vs docker container prune (private engine)'

const BUILT = join(REPO, 'dist', 'commands', 'system', 'clean-containers.js')
/** Issue 13: at most 0.7x `docker container prune` at 100 exited containers, 1.0x at 10. */
const TARGET_RATIO = {10: 1, 100: 0.7}
const SIZES = {
  full: {containers: 100, counts: [10, 100, 500], reps: 5, timed: [10, 100]},
  quick: {containers: 10, counts: [3, 6, 12], reps: 1, timed: [10]},
}
const LABEL = 'bench=moat'
const MIN_AGE = ['--min-age', '0s', '--json']
const FORCE_ARGS = ['system', 'clean-containers', '--force', ...MIN_AGE]
const PRUNE_ARGS = ['container', 'prune', '--force', '--filter', `label=${LABEL}`]
/** The commands whose docker processes are counted at each size, in the order they run (the removal last). */
const COUNTED = [
  {args: ['system', 'clean-containers', '--dry-run', ...MIN_AGE], name: 'clean-containers --dry-run'},
  {args: ['system', 'clean-sidecars', '--dry-run', ...MIN_AGE], name: 'clean-sidecars --dry-run'},
  {args: ['system', 'clean', '--dry-run', '--skip', 'temp', ...MIN_AGE], name: 'clean --dry-run --skip temp'},
  {args: FORCE_ARGS, name: 'clean-containers --force'},
]

export async function run({interrupted, log, quick}) {
  const size = quick ? SIZES.quick : SIZES.full
  return engineSection({built: BUILT, interrupted, log, name: 'containers'}, async ({base, check, engine, floor, moat, notes, prune, rows, tick}) => {

    // Decoys both tools must keep through every run: a running run container with the label (moat keeps it without
    // --include-running, prune because it runs), an exited unlabelled container that is not a run container, and a
    // BuildKit sidecar without the label (not clean-containers' kind, not prune's filter).
    const running = runId()
    const sidecarDecoy = `moat-buildkit-${runId()}`
    await engine.ok(['run', '--detach', '--name', running, '--label', LABEL, IMAGE, 'sleep', '3600'])
    await engine.createContainers([{name: 'bench-unrelated'}], {start: true})
    await engine.createContainers([{labels: sidecarLabels(sidecarDecoy.slice('moat-buildkit-'.length)), name: sidecarDecoy}])
    const baseline = await engine.containerNames()
    const kept = new Set([running])
    const afterRun = async (what, problem, expected = baseline) =>
      problem ?? sameNames(`containers on the engine after ${what}, against before the set was made`, expected, await engine.containerNames())

    // 1. Timing: fresh identical sets of exited orphans, alternating which tool goes first.
    const setupMs = []
    const freshSet = async (n) => {
      const started = process.hrtime.bigint()
      const specs = Array.from({length: n}, () => ({labels: [LABEL], name: runId()}))
      const ids = await engine.createContainers(specs, {start: true})
      setupMs.push(Number(process.hrtime.bigint() - started) / 1e6)
      return {ids, names: specs.map((spec) => spec.name)}
    }

    const samples = new Map()
    for (const n of size.timed) {
      const ms = {floor: [], moat: [], prune: []}
      samples.set(n, ms)
      await alternate(size.reps, [
        async () => {
          const set = await freshSet(n)
          await settle()
          await tick()
          const r = moat.timed(FORCE_ARGS, deadRunsHome(base))
          ms.moat.push(r.ms)
          check(`moat clean-containers --force removes exactly the exited orphans, keeps the decoys`, await afterRun('moat', verifyMoatForce(r, set.names, kept)))
        },
        async () => {
          const set = await freshSet(n)
          await settle()
          await tick()
          const r = prune(PRUNE_ARGS)
          ms.prune.push(r.ms)
          check('docker container prune removes exactly the same set', await afterRun('prune', verifyPrune(r, set.ids)))
        },
        async () => {
          const set = await freshSet(n)
          await settle()
          await tick()
          const r = floor('containers')
          ms.floor.push(r.ms)
          check('bench/floor.js removes exactly the same set', await afterRun('floor.js', verifyFloor(r, set.names)))
        },
      ], tick)
      log(`clean-containers --force at ${n}: moat ${fmtSamples(ms.moat)} ms; docker container prune ${fmtSamples(ms.prune)} ms`)
      const ratio = median(ms.moat) / median(ms.prune)
      const target = TARGET_RATIO[n] ?? 1
      rows.push({
        name: `clean-containers --force, ${n} exited, median of ${size.reps}`,
        pass: ratio <= target,
        ratio: `${ratio.toFixed(2)}x`,
        reference: `${fmtMs(median(ms.prune))} (docker container prune)`,
        target: `<= ${target.toFixed(1)}x`,
        value: fmtMs(median(ms.moat)),
      }, floorRow(`${n} exited`, ms.floor, ms.prune, 'docker container prune'))
    }

    // 2. One more moat run on a fresh set, under the shim: its docker processes and where its time goes.
    const set = await freshSet(size.containers)
    await settle()
    await tick()
    const profiledRun = moat.profiled(FORCE_ARGS, deadRunsHome(base))
    check('moat clean-containers --force under the docker shim removes exactly the orphans', await afterRun('moat (profiled)', verifyMoatForce(profiledRun, set.names, kept)))
    const profile = breakdown(profiledRun)
    log(`profiled moat run, ${size.containers} exited: ${profile.text}`)
    rows.push(
      {
        name: `docker processes, clean-containers --force, ${size.containers} exited`,
        pass: null,
        ratio: '-',
        reference: '1 (prune)',
        target: '-',
        value: String(profiledRun.calls.length),
      },
      {
        name: `Engine API requests, clean-containers --force, ${size.containers} exited`,
        pass: null,
        ratio: '-',
        reference: '-',
        target: '-',
        value: String(profiledRun.requests.length),
      },
    )

    // 3. Docker processes at a small and a large number of candidates, for each counted command. Per size: n dead
    // runs, each with a run container and a BuildKit sidecar (created, never started: quick to make, and the same
    // docker calls as exited ones) attached to the run's network moat-run_<id>.
    const counts = new Map(COUNTED.map((c) => [c.name, []]))
    const requestCounts = new Map(COUNTED.map((c) => [c.name, []]))
    const profiles = []
    for (const n of size.counts) {
      const fixture = await countFixture(engine, n)
      const home = deadRunsHome(base)
      for (const command of COUNTED) {
        await tick()
        const r = moat.profiled(command.args, home)
        counts.get(command.name).push(r.calls.length)
        requestCounts.get(command.name).push(r.requests.length)
        profiles.push(`${command.name} at ${n}: ${breakdown(r).text}`)
        const unfinished = r.calls.filter((c) => c.endMs === undefined).length
        check('every docker process moat started ended', unfinished > 0 ? `${command.name}: ${unfinished} never logged their end` : undefined)
        const problem = verifyCounted(command.name, r, n)
        const after = command.args.includes('--force') ? await afterRun(`${command.name} at ${n}`, problem, fixture.afterForce) : problem
        check(`${command.name} at ${sizeList(size.counts)} candidates plans or removes exactly the fixture`, after)
      }

      // What the removal left (sidecars, networks) goes before the next size; the last size goes with the engine.
      if (n !== size.counts.at(-1)) await engine.remove({containers: fixture.sidecars, networks: fixture.networks})
    }

    for (const command of COUNTED) {
      const c = counts.get(command.name)
      log(`docker processes for ${command.name} at ${size.counts.join('/')} candidates: ${c.join('/')}`)
      rows.push(countRow(command.name, size.counts, c))
      const requests = requestCounts.get(command.name)
      log(`Engine API requests for ${command.name} at ${size.counts.join('/')} candidates: ${requests.join('/')}`)
      rows.push(requestRow(command.name, size.counts, requests))
    }

    notes.push(
      `private engine ${engine.host} (engine.sh); per run a fresh set of exited containers run_<12 hex> (random valid run IDs, busybox true, labelled ${LABEL}), MOAT_HOME with an empty runs/, --min-age 0s (exited ones age by FinishedAt); decoys kept through every run: a running labelled run container, an exited unlabelled bench-unrelated, an unlabelled BuildKit sidecar. A set of ${size.containers} made and run ${SETUP_PARALLEL} docker processes at a time in ${fmtMs(median(setupMs))} (median)`,
      ...[...samples].map(([n, ms]) => `samples at ${n} (ms): moat ${fmtSamples(ms.moat)} vs docker container prune ${fmtSamples(ms.prune)} vs floor.js ${fmtSamples(ms.floor)}; order rotated (moat, prune, floor.js, then reversed), each run ${SETTLE_MS} ms after its set was made; per-repetition ratios to prune: moat ${ms.moat.map((m, i) => (m / ms.prune[i]).toFixed(2)).join('/')}, floor.js ${ms.floor.map((m, i) => (m / ms.prune[i]).toFixed(2)).join('/')}`),
      `floor: bench/floor.js makes the same Engine API calls as moat (info, the list, an inspect of every container, a re-verify inspect of each candidate, its DELETE; 8 in flight) from bare node:http, without oclif, the run registry, the lock or any check: what a Node CLI that re-verifies right before each removal cannot go below on this engine`,
      `where moat's time goes (one untimed run under the shim, ${size.containers} exited): ${profile.text}`,
      `process-count fixture per size n: n dead runs, each a created run container run_<id> and a BuildKit sidecar moat-buildkit-run_<id> (labels moat.run-id, moat.role=buildkit-sidecar) on a labelled network moat-run_<id>; so clean --dry-run --skip temp plans 3n items`,
      ...profiles.map((p) => `profiled ${p}`),
    )
  })

  /** n dead runs with a run container and a sidecar each on the run's network; what must be left after --force. */
  async function countFixture(engine, n) {
    const ids = Array.from({length: n}, () => runId())
    const networks = ids.map((id) => `moat-${id}`)
    const sidecars = ids.map((id) => `moat-buildkit-${id}`)
    const started = process.hrtime.bigint()
    await engine.createNetworks(networks)
    await engine.createContainers([
      ...ids.map((id) => ({name: id, network: `moat-${id}`})),
      ...ids.map((id) => ({labels: sidecarLabels(id), name: `moat-buildkit-${id}`, network: `moat-${id}`})),
    ])
    log(`process-count fixture of ${n} runs (${3 * n} objects) made in ${fmtMs(Number(process.hrtime.bigint() - started) / 1e6)}`)
    const afterForce = new Set([...(await engine.containerNames())].filter((name) => !ids.includes(name)))
    return {afterForce, networks, sidecars}
  }
}

function sidecarLabels(id) {
  return [`moat.run-id=${id}`, 'moat.role=buildkit-sidecar']
}

/** moat's --json after --force: exactly the set removed, only the expected decoys kept, nothing failed. */
function verifyMoatForce(r, names, kept) {
  const {doc, error} = parseJson(r)
  if (error) return `moat: ${error}`
  if (r.status !== 0) return `moat: ${describe(r)}`
  const removed = new Set(doc.items.filter((item) => item.decision === 'removed').map((item) => item.name))
  const problem = sameNames("moat's removed containers", new Set(names), removed)
  if (problem) return problem
  const others = doc.items.filter((item) => item.decision !== 'removed')
  const wrong = others.filter((item) => item.decision !== 'kept' || !kept.has(item.name))
  if (wrong.length > 0) return `moat: ${wrong.map((item) => `${item.name} ${item.decision} (${item.reason})`).slice(0, 3).join('; ')}`
  if (others.length !== kept.size) return `moat kept ${others.length} containers, expected ${kept.size}`
}

/** prune's output names exactly the set's IDs ("Deleted Containers:" then one ID a line). */
function verifyPrune(r, ids) {
  if (r.status !== 0) return `prune: ${describe(r)}`
  const lines = r.stdout.split('\n').map((line) => line.trim())
  const start = lines.indexOf('Deleted Containers:') + 1
  const deleted = new Set(lines.slice(start).filter((line) => /^[0-9a-f]{64}$/.test(line)))
  return sameNames('containers prune says it deleted', new Set(ids), deleted)
}

/**
 * The counted commands' plans on the process-count fixture of n runs (plus the decoys): n run containers (the running
 * decoy kept), n + 1 sidecars (the decoy sidecar's run is dead too), n networks; --force removes the n.
 */
function verifyCounted(name, r, n) {
  const {doc, error} = parseJson(r)
  if (error) return `${name}: ${error}`
  if (r.status !== 0) return `${name}: ${describe(r)}`
  const totals = doc.targets ? Object.fromEntries(doc.targets.map((t) => [t.target, t.totals])) : {[doc.target]: doc.totals}
  const expected = {
    'clean --dry-run --skip temp': {containers: {orphans: n}, networks: {orphans: n}, sidecars: {orphans: n + 1}},
    'clean-containers --dry-run': {containers: {orphans: n}},
    'clean-containers --force': {containers: {failed: 0, removed: n}},
    'clean-sidecars --dry-run': {sidecars: {orphans: n + 1}},
  }[name]
  const wrong = Object.entries(expected).flatMap(([target, want]) =>
    Object.entries(want)
      .filter(([key, value]) => totals[target]?.[key] !== value)
      .map(([key, value]) => `${target} ${key} ${totals[target]?.[key]}, expected ${value}`),
  )
  // `clean` also runs targets this fixture has nothing for (helpers, state): they must plan nothing.
  const extra = Object.keys(totals).filter((target) => !expected[target] && totals[target]?.orphans !== 0)
  if (extra.length > 0) wrong.push(`unexpected orphans in target(s) ${extra.join(', ')}`)
  return wrong.length > 0 ? `${name}: ${wrong.join('; ')}` : undefined
}
