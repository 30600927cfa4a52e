// Networks section of `npm run bench`: `moat system clean-networks --force` against
// `docker network prune --force --filter label=moat.managed=true` on a private Docker engine, each on a fresh,
// identical set of 100 orphan per-run networks (labelled bridge networks named moat-run_<12 hex>, with no run dir in
// MOAT_HOME), in the same run, alternating which goes first; plus how many docker processes moat starts at 10 and at
// 200 candidates, counted by a shim first on its PATH. Every run is checked: exactly the set gone, nothing else.
import {join} from 'node:path'

import {breakdown, deadRunsHome, engineSection, IMAGE, parseJson, REPO, runId, sameNames, settle, SETTLE_MS, SETUP_PARALLEL} from './engine.js'
import {alternate, describe, fmtMs, fmtSamples, median} from './temp.js'

export const title = 'moat system clean-networks vs docker network prune (private engine)'

const BUILT = join(REPO, 'dist', 'commands', 'system', 'clean-networks.js')
/** Issue 13: at most 1.0x `docker network prune` at 100 networks. */
const TARGET_RATIO = 1
const SIZES = {
  full: {counts: [10, 100, 500], networks: 100, reps: 3},
  quick: {counts: [3, 6, 12], networks: 10, reps: 1},
}
const LABEL = 'moat.managed=true'
const MOAT_ARGS = ['system', 'clean-networks', '--force', '--min-age', '0s', '--json']
const PRUNE_ARGS = ['network', 'prune', '--force', '--filter', `label=${LABEL}`]

export async function run({interrupted, log, quick}) {
  const size = quick ? SIZES.quick : SIZES.full
  return engineSection({built: BUILT, interrupted, log, name: 'networks'}, async ({base, check, engine, moat, notes, prune, rows, tick}) => {

    // Decoys both tools must keep through every run: a moat-named network without the label (neither moat's
    // candidate nor prune's filter), an unrelated network, and a labelled one of a dead run that a running
    // container uses (moat keeps it for that container, prune because it is in use).
    const inUse = `moat-${runId()}`
    await engine.createNetworks([`moat-${runId()}`, 'bench-unrelated'], [])
    await engine.createNetworks([inUse])
    await engine.ok(['run', '--detach', '--name', 'bench-sleeper', '--network', inUse, IMAGE, 'sleep', '3600'])
    const baseline = await engine.networkNames()
    const kept = new Set([inUse])

    const setupMs = []
    /** A fresh set of n orphan networks, as moat makes them. */
    const freshSet = async (n) => {
      const names = Array.from({length: n}, () => `moat-${runId()}`)
      const started = process.hrtime.bigint()
      await engine.createNetworks(names)
      if (n === size.networks) setupMs.push(Number(process.hrtime.bigint() - started) / 1e6)
      return names
    }

    const afterRun = async (what, problem) => problem ?? sameNames(`networks on the engine after ${what}, against before the set was made`, baseline, await engine.networkNames())

    // 1. Timing: fresh identical sets, alternating which tool goes first.
    const ms = {moat: [], prune: []}
    await alternate(size.reps, [
      async () => {
        const set = await freshSet(size.networks)
        await settle()
        await tick()
        const r = moat.timed(MOAT_ARGS, deadRunsHome(base))
        ms.moat.push(r.ms)
        check(`moat clean-networks --force removes exactly the ${size.networks} orphans, keeps the decoys`, await afterRun('moat', verifyMoat(r, set, kept)))
      },
      async () => {
        const set = await freshSet(size.networks)
        await settle()
        await tick()
        const r = prune(PRUNE_ARGS)
        ms.prune.push(r.ms)
        check(`docker network prune removes exactly the same set`, await afterRun('prune', verifyPrune(r, set)))
      },
    ], tick)
    log(`clean-networks --force: moat ${fmtSamples(ms.moat)} ms; docker network prune ${fmtSamples(ms.prune)} ms`)
    const ratio = median(ms.moat) / median(ms.prune)
    rows.push({
      name: `clean-networks --force, ${size.networks} networks, median of ${size.reps}`,
      pass: ratio <= TARGET_RATIO,
      ratio: `${ratio.toFixed(2)}x`,
      reference: `${fmtMs(median(ms.prune))} (docker network prune)`,
      target: `<= ${TARGET_RATIO}x`,
      value: fmtMs(median(ms.moat)),
    })

    // 2. One more moat run on a fresh set, under the shim: its docker processes and where its time goes.
    const profiled = async (n) => {
      const set = await freshSet(n)
      await settle()
      await tick()
      const r = moat.profiled(MOAT_ARGS, deadRunsHome(base))
      check(`moat clean-networks --force under the docker shim removes exactly the orphans`, await afterRun('moat (profiled)', verifyMoat(r, set, kept)))
      const unfinished = r.calls.filter((c) => c.endMs === undefined).length
      check('every docker process moat started ended', unfinished > 0 ? `${unfinished} never logged their end` : undefined)
      return r
    }

    const atSize = await profiled(size.networks)
    const profile = breakdown(atSize)
    log(`profiled moat run, ${size.networks} networks: ${profile.text}`)
    rows.push(
      {
        name: `docker processes, clean-networks --force, ${size.networks} networks`,
        pass: null,
        ratio: '-',
        reference: '1 (prune)',
        target: '-',
        value: String(atSize.calls.length),
      },
      {
        name: `Engine API requests, clean-networks --force, ${size.networks} networks`,
        pass: null,
        ratio: '-',
        reference: '-',
        target: '-',
        value: String(atSize.requests.length),
      },
    )

    // 3. Docker processes at a small and a large number of candidates: the same, whatever the number.
    const counts = []
    const requests = []
    const profiles = []
    for (const n of size.counts) {
      const r = await profiled(n)
      counts.push(r.calls.length)
      requests.push(r.requests.length)
      profiles.push(breakdown(r))
    }

    log(`docker processes for clean-networks --force at ${size.counts.join('/')} candidates: ${counts.join('/')}`)
    log(`Engine API requests for clean-networks --force at ${size.counts.join('/')} candidates: ${requests.join('/')}`)
    rows.push(countRow('clean-networks --force', size.counts, counts), requestRow('clean-networks --force', size.counts, requests))

    notes.push(
      `private engine ${engine.host} (engine.sh); per run a fresh set of labelled bridge networks moat-run_<12 hex> (random valid run IDs), MOAT_HOME with an empty runs/; decoys kept through every run: an unlabelled moat-run_ network, bench-unrelated, and a labelled moat-run_ network a running container uses. a set of ${size.networks} made with ${SETUP_PARALLEL} docker processes at a time in ${fmtMs(median(setupMs))} (median)`,
      `samples (ms): moat ${fmtSamples(ms.moat)} vs docker network prune ${fmtSamples(ms.prune)}; order alternated (moat first in odd-numbered repetitions), each run ${SETTLE_MS} ms after its set was made; per-repetition ratios ${ms.moat.map((m, i) => (m / ms.prune[i]).toFixed(2)).join('/')}`,
      `where moat's time goes (one untimed run under the shim, ${size.networks} networks): ${profile.text}`,
      ...size.counts.map((n, i) => `profiled at ${n} candidates: ${profiles[i].text}`),
    )
  })
}

/**
 * The floor row: bench/floor.js (the same Engine API calls as moat from bare node:http) against the reference, in
 * the same run. No target: it says how far below the reference any Node CLI with moat's re-verification can go.
 */
export function floorRow(what, floorMs, referenceMs, referenceName) {
  const ratio = median(floorMs) / median(referenceMs)
  return {
    name: `floor: bench/floor.js, same engine calls, ${what}`,
    pass: null,
    ratio: `${ratio.toFixed(2)}x`,
    reference: `${fmtMs(median(referenceMs))} (${referenceName})`,
    target: '-',
    value: fmtMs(median(floorMs)),
  }
}

/** `10, 100 and 500`. */
export function sizeList(sizes) {
  return sizes.length < 2 ? sizes.join('') : `${sizes.slice(0, -1).join(', ')} and ${sizes.at(-1)}`
}

/** The verdict row for "the same number of docker processes at every number of candidates". */
export function countRow(command, sizes, counts) {
  return {
    name: `docker processes, ${command}, ${sizes.join(' vs ')} candidates`,
    pass: counts.every((c) => c === counts[0]),
    ratio: '-',
    reference: `${counts[0]} at ${sizes[0]}`,
    target: `same at ${sizeList(sizes)}`,
    value: `${counts.at(-1)} at ${sizes.at(-1)}`,
  }
}

/**
 * Engine API requests at each size, as a fixed part plus a part per candidate: the API has no bulk inspect or
 * removal, so each candidate costs its requests (as it does inside `docker inspect a b c` and `docker rm a b c`).
 * Issue 13: that cost per candidate must not grow with the number of candidates, so it is the same between every
 * two consecutive sizes.
 */
export function requestRow(command, sizes, counts) {
  const slopes = sizes.slice(1).map((n, i) => (counts[i + 1] - counts[i]) / (n - sizes[i]))
  const perCandidate = slopes.at(-1)
  const fixed = counts[0] - perCandidate * sizes[0]
  const constant = slopes.every((slope) => slope === slopes[0])
  return {
    name: `Engine API requests, ${command}, ${sizes.join(' vs ')} candidates`,
    pass: constant,
    ratio: '-',
    reference: sizes.slice(0, -1).map((n, i) => `${counts[i]} at ${n}`).join(', '),
    target: 'same per candidate',
    value: constant
      ? `${counts.at(-1)} at ${sizes.at(-1)} (${fixed.toFixed(1)} + ${perCandidate.toFixed(2)} per candidate)`
      : `${counts.at(-1)} at ${sizes.at(-1)} (per candidate ${slopes.map((slope) => slope.toFixed(2)).join(', then ')})`,
  }
}

/** moat's --json: exactly the set removed, only the expected decoys kept, nothing failed. */
function verifyMoat(r, set, kept) {
  const {doc, error} = parseJson(r)
  if (error) return `moat: ${error}`
  if (r.status !== 0) return `moat: ${describe(r)}`
  const removed = new Set(doc.items.filter((item) => item.decision === 'removed').map((item) => item.name))
  const problem = sameNames("moat's removed networks", new Set(set), removed)
  if (problem) return problem
  const others = doc.items.filter((item) => item.decision !== 'removed')
  const wrong = others.filter((item) => item.decision !== 'kept' || !kept.has(item.name))
  if (wrong.length > 0) return `moat: ${wrong.map((item) => `${item.name} ${item.decision} (${item.reason})`).slice(0, 3).join('; ')}`
  if (others.length !== kept.size) return `moat kept ${others.length} networks, expected ${kept.size}`
}

/** prune's output names exactly the set ("Deleted Networks:" then one name a line). */
function verifyPrune(r, set) {
  if (r.status !== 0) return `prune: ${describe(r)}`
  const lines = r.stdout.split('\n').map((line) => line.trim())
  const deleted = new Set(lines.slice(lines.indexOf('Deleted Networks:') + 1).filter(Boolean))
  return sameNames('networks prune says it deleted', new Set(set), deleted)
}
