// Temp-dir section of `npm run bench`: `moat system clean-temp` against find+du (scan) and find+rm (delete) on a
// /tmp-like directory of 100,000 unrelated entries and 1,000 old moat dirs, plus start-up against `node -e 0`, and the
// peak memory of a scan among 1,000,000 unrelated entries.
// Whole process against whole process; every moat result is also checked for correctness.
import {spawnSync} from 'node:child_process'
import {
  existsSync,
  linkSync,
  lutimesSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

export const title = 'moat system clean-temp vs find+du / find+rm'

const REPO = dirname(dirname(fileURLToPath(import.meta.url)))
const RUN_JS = join(REPO, 'bin', 'run.js')
const TEMP_DIRS_JS = join(REPO, 'dist', 'lib', 'targets', 'temp-dirs.js')

/**
 * Issue 13: scan at most 1.2x find+du, delete at most 1.1x find+rm, peak memory under 100 MB; a scan among 1,000,000
 * unrelated entries stays under 150 MB. Issue 22: start-up at most 1.6x `node -e 0` of the same Node, on every Node
 * version measured, from the second run on (the first run on a Node makes its code cache).
 */
const TARGETS = {deleteRatio: 1.1, largePeakMb: 150, peakMb: 100, scanRatio: 1.2, startupRatio: 1.6}
const SIZES = {
  full: {deleteReps: 3, filesPerDir: 20, largeUnrelated: 1_000_000, moatDirs: 1000, scanReps: 5, startupReps: 10, unrelated: 100_000},
  quick: {deleteReps: 1, filesPerDir: 20, largeUnrelated: 50_000, moatDirs: 100, scanReps: 2, startupReps: 3, unrelated: 10_000},
}
/** ext4 allows 65,000 links to one inode: the large fixture's names are hard links, a new source file per this many. */
const LINKS_PER_SOURCE = 60_000
/** Everything in the fixture is this old, except the young look-alikes below. */
const AGE_SECONDS = 3 * 3600
const KEEP_TARGET = 'keep-target'

export class Interrupted extends Error {}

// ---------------------------------------------------------------------------------------------------------------
// Fixture

/** Distinct pseudo-random decimal numbers, like the `*` Go's os.MkdirTemp substitutes (a bijection mod 2^32). */
function goRandom(i) {
  return String((2_654_435_761 * (i + 1) + 12_345) % 4_294_967_296)
}

/** A moat-dir name for each pattern, round robin: the glob's wildcard (`*` or `<digits>`) replaced by digits. */
function moatNames(patterns, count) {
  const names = []
  for (let i = 0; i < count; i++) {
    const pattern = patterns[i % patterns.length]
    const name = pattern.glob.replace(/(\*|<[^>]*>)$/, '') + goRandom(i)
    if (!pattern.test.test(name)) throw new Error(`bench bug: ${name} does not match ${pattern.test}`)
    names.push(name)
  }

  return names
}

/** The `find -name` form of each pattern: `moat-vol-snap-<digits>` becomes `moat-vol-snap-*`. */
export function findGlobs(patterns) {
  return patterns.map((pattern) => pattern.glob.replaceAll(/<[^>]*>/g, '*'))
}

/**
 * Names a tmp dir holds besides moat's dirs. Look-alikes come in kinds, each of which neither tool may remove:
 *  - oldDirs: old directories whose names match neither a moat regex nor a find glob (notmoat-aws-1, moat-awsx);
 *  - youngGlobDirs: directories a find glob matches but moat's regex does not (moat-build-cache). They are young,
 *    because the `find -name` reference would otherwise delete them and the two tools would not do the same work;
 *  - oldGlobFiles: old regular files a find glob matches but moat's regex does not;
 *  - regexFiles / regexSymlinks: names moat's regex matches that are not directories: moat lists them as kept.
 */
function lookAlikes() {
  return {
    oldDirs: ['notmoat-aws-1', 'moat-awsx', 'moat-awsx-7', 'moat-aws', 'moat_aws_12', 'MOAT-AWS-12', 'agentops-awsx-3', 'xmoat-build-4', '.moat-aws-5', 'moat-vol-snap12', 'moat-system-quarantine-99999', 'moat-claude', 'moat-doctorproxy-1'],
    oldGlobFiles: ['moat-aws-', 'moat-npm-latest', 'moat-build-1-old', 'moat-claude-staging-', 'moat-doctor-proxy-x1', 'moat-vol-snap-abc'],
    regexFiles: ['moat-aws-4242424242', 'moat-npm-77', 'moat-doctor-1'],
    regexSymlinks: {'moat-build-31337': KEEP_TARGET, 'moat-claude-9': 'does-not-exist'},
    youngGlobDirs: ['moat-build-cache', 'moat-aws-12a', 'moat-codex-staging-x', 'agentops-aws-', 'moat-marketplace-cache'],
  }
}

const FILLER = ['tmp', 'go-build', 'pip-', 'npm-', 'v8-compile-cache-', 'tsx-', 'vscode-ipc-', 'jest_', 'sess_', 'ssh-']

/** The whole plan of one fixture: which unrelated names are files and dirs, and the moat dir names. */
export function planFixture(patterns, size) {
  const alike = lookAlikes()
  const files = [...alike.oldGlobFiles, ...alike.regexFiles]
  const dirs = [...alike.oldDirs]
  const special = 1 + alike.youngGlobDirs.length + Object.keys(alike.regexSymlinks).length
  for (let i = 0; files.length + dirs.length < size.unrelated - special; i++) {
    // 2% start with `moat-` or `agentops-` (they pass matchPattern's cheap prefix test and cost a regex each).
    if (i % 50 === 0) files.push(`moat-cache-${i}`)
    else if (i % 50 === 25) dirs.push(i % 100 === 25 ? `agentops-run-${i}` : `moat-logs-${i}`)
    else if (i % 12 === 0) dirs.push(`systemd-private-${goRandom(i)}-${i}`)
    else files.push(`${FILLER[i % FILLER.length]}${goRandom(i + 7)}.${i}`)
  }

  const unrelated = new Set([KEEP_TARGET, ...alike.youngGlobDirs, ...dirs, ...files, ...Object.keys(alike.regexSymlinks)])
  const moat = moatNames(patterns, size.moatDirs)
  if (unrelated.size !== size.unrelated) throw new Error(`bench bug: ${unrelated.size} unrelated names`)
  for (const name of moat) if (unrelated.has(name)) throw new Error(`bench bug: ${name} is both`)
  return {alike, dirs, files, filesPerDir: size.filesPerDir, moat, unrelated}
}

const PAYLOADS = Array.from({length: 20}, (_, j) => `${'{"k":"v"}\n'.repeat(1 + ((j * 7) % 30))}`)

function oldTime() {
  return Date.now() / 1000 - AGE_SECONDS
}

/** Creates the moat dirs of the plan in root: files and a `sub` directory, every mtime 3 h old (deepest first). */
export function buildMoatDirs(root, plan) {
  const t = oldTime()
  const inSub = Math.floor(plan.filesPerDir / 3)
  for (const name of plan.moat) {
    const dir = join(root, name)
    if (existsSync(dir)) rmSync(dir, {force: true, recursive: true})
    const sub = join(dir, 'sub')
    mkdirSync(sub, {recursive: true})
    for (let j = 0; j < inSub; j++) writeFileSync(join(sub, `part-${j}.json`), PAYLOADS[j])
    for (let j = inSub; j < plan.filesPerDir; j++) writeFileSync(join(dir, `file-${j}`), PAYLOADS[j % PAYLOADS.length])
    for (let j = 0; j < inSub; j++) utimesSync(join(sub, `part-${j}.json`), t, t)
    utimesSync(sub, t, t)
    for (let j = inSub; j < plan.filesPerDir; j++) utimesSync(join(dir, `file-${j}`), t, t)
    utimesSync(dir, t, t)
  }

  // Quarantines are moat-system-quarantine-<uid>-<random> (mkdtemp); an interrupted run may have left one.
  const prefix = `moat-system-quarantine-${process.getuid?.() ?? -1}`
  for (const name of readdirSync(root).filter((entry) => entry === prefix || entry.startsWith(prefix + '-'))) {
    rmSync(join(root, name), {force: true, recursive: true})
  }
}

/** The whole fixture in an empty root: unrelated entries first, then the moat dirs. */
export function buildFixture(root, plan) {
  const t = oldTime()
  mkdirSync(root)
  for (const [i, name] of plan.files.entries()) {
    const path = join(root, name)
    writeFileSync(path, i % 4 === 0 ? PAYLOADS[i % PAYLOADS.length] : '') // mostly empty: quicker to build
    utimesSync(path, t, t)
  }

  for (const [i, name] of plan.dirs.entries()) {
    const path = join(root, name)
    mkdirSync(path)
    if (i % 3 === 0) {
      writeFileSync(join(path, 'data'), 'x')
      utimesSync(join(path, 'data'), t, t)
    }

    utimesSync(path, t, t)
  }

  const target = join(root, KEEP_TARGET)
  mkdirSync(target)
  for (const file of ['a', 'b', 'c']) {
    writeFileSync(join(target, file), file)
    utimesSync(join(target, file), t, t)
  }

  utimesSync(target, t, t)
  for (const [name, to] of Object.entries(plan.alike.regexSymlinks)) {
    symlinkSync(to, join(root, name))
    lutimesSync(join(root, name), t, t)
  }

  for (const name of plan.alike.youngGlobDirs) {
    mkdirSync(join(root, name))
    writeFileSync(join(root, name, 'in-use'), 'y') // left at the current time: young
  }

  buildMoatDirs(root, plan)
}

/**
 * The large fixture: `count` unrelated names (hard links to a few empty files kept outside it: a name costs a
 * directory entry and no inode, so a million are made in seconds) and the plan's moat dirs.
 */
function buildLargeFixture(root, sources, plan, count) {
  mkdirSync(root)
  mkdirSync(sources)
  let source
  for (let i = 0; i < count; i++) {
    if (i % LINKS_PER_SOURCE === 0) writeFileSync((source = join(sources, `source-${i / LINKS_PER_SOURCE}`)), '')
    linkSync(source, join(root, `unrelated-${i}`))
  }

  buildMoatDirs(root, plan)
}

/** undefined when root holds exactly the unrelated entries, intact; else what is wrong. */
function unrelatedIntact(root, plan) {
  const names = readdirSync(root)
  const extra = names.filter((name) => !plan.unrelated.has(name))
  const missing = plan.unrelated.size - (names.length - extra.length)
  const problems = []
  if (extra.length > 0) problems.push(`${extra.length} unexpected entries left, e.g. ${extra.slice(0, 3).join(', ')}`)
  if (missing > 0) problems.push(`${missing} unrelated entries gone`)
  if (readdirSync(join(root, KEEP_TARGET)).length !== 3) problems.push(`${KEEP_TARGET} (a symlink target) lost files`)
  for (const name of plan.alike.youngGlobDirs) {
    if (!existsSync(join(root, name, 'in-use'))) problems.push(`${name}/in-use is gone`)
  }

  return problems.length > 0 ? problems.join('; ') : undefined
}

// ---------------------------------------------------------------------------------------------------------------
// Running and measuring whole processes

/** GNU time, installed with apt-get when missing and running as root (as the test harness does for docker). */
function gnuTime(log) {
  const works = () => existsSync('/usr/bin/time') && spawnSync('/usr/bin/time', ['-f', '%M', '-o', '/dev/null', 'true']).status === 0
  if (works()) return '/usr/bin/time'
  if (process.getuid?.() !== 0 || spawnSync('sh', ['-c', 'command -v apt-get'], {stdio: 'ignore'}).status !== 0) return
  log('GNU time missing: apt-get install -y time')
  const env = {...process.env, DEBIAN_FRONTEND: 'noninteractive'}
  if (spawnSync('apt-get', ['install', '-y', '-q', 'time'], {env, stdio: 'ignore'}).status !== 0) {
    spawnSync('apt-get', ['update', '-q'], {env, stdio: 'ignore'})
    spawnSync('apt-get', ['install', '-y', '-q', 'time'], {env, stdio: 'ignore'})
  }

  if (works()) return '/usr/bin/time'
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

export function makeRunner({env, interrupted, memFile, time}) {
  /** One whole process, wall time around spawnSync; with `memory`, wrapped in GNU time for its peak RSS. */
  return (command, args, {memory = false} = {}) => {
    const wrap = memory && time
    const [file, argv] = wrap ? [time, ['-f', '%M', '-o', memFile, command, ...args]] : [command, args]
    const started = process.hrtime.bigint()
    const r = spawnSync(file, argv, {cwd: REPO, encoding: 'utf8', env, maxBuffer: 512 * 1024 * 1024})
    const ms = Number(process.hrtime.bigint() - started) / 1e6
    if (r.error) throw r.error
    if (r.signal === 'SIGINT' || r.signal === 'SIGTERM' || interrupted()) throw new Interrupted('interrupted')
    // GNU time writes "Command exited with non-zero status N" before the figure when the command fails.
    const peakKb = wrap ? Number(readFileSync(memFile, 'utf8').trim().split('\n').at(-1)) : undefined
    return {ms, peakKb, signal: r.signal, status: r.status, stderr: r.stderr, stdout: r.stdout}
  }
}

export function describe(r) {
  const stderr = r.stderr.trim() ? `, stderr: ${r.stderr.trim().split('\n').slice(-2).join(' | ').slice(0, 300)}` : ''
  return `exit ${r.status ?? r.signal}${stderr}`
}

export const fmtMs = (ms) => `${ms >= 1000 ? ms.toFixed(0) : ms.toFixed(1)} ms`
const fmtMb = (kb) => (kb === undefined ? 'n/a' : `${(kb / 1024).toFixed(1)} MB`)
export const fmtSamples = (values) => values.map((ms) => ms.toFixed(0)).join('/')
const since = (started) => Number(process.hrtime.bigint() - started) / 1e6
const maxOf = (values) => (values.length > 0 ? Math.max(...values) : undefined)

/** Runs two measurements per repetition, in alternating order so neither always finds the cache the other left. */
export async function alternate(reps, steps, tick) {
  for (let i = 0; i < reps; i++) {
    const order = i % 2 ? [...steps].reverse() : steps
    for (const [j, step] of order.entries()) await step(i, j) // the engine sections' steps are async
    await tick()
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Verifying what each tool did

function verifier(plan, dir, size) {
  const expected = new Set(plan.moat.map((name) => join(dir, name)))
  const regexDecoys = new Set([...Object.keys(plan.alike.regexSymlinks), ...plan.alike.regexFiles])
  const nameOf = (item) => item.name.slice(dir.length + 1)
  return {
    /** After a deletion: the unrelated entries, intact, and nothing else. */
    deleted(r, what) {
      if (r.status !== 0) return `${what}: ${describe(r)}`
      if (what === 'moat' && !/\b0 failed\b/.test(r.stdout)) return `moat: output does not say 0 failed: ${r.stdout.trim().split('\n').at(-1)}`
      const problem = unrelatedIntact(dir, plan)
      if (problem) return `${what}: ${problem}`
    },
    /** moat --dry-run --json: exactly the moat dirs as orphans, and only the regex look-alikes kept. */
    dryRun(r, engineSkipped) {
      if (r.status !== 0) return describe(r)
      let doc
      try {
        doc = JSON.parse(r.stdout)
      } catch (error) {
        return `stdout is not JSON (${error.message})`
      }

      const orphans = doc.items.filter((item) => item.decision === 'orphan').map((item) => item.id)
      const wrong = orphans.filter((id) => !expected.has(id))
      if (orphans.length !== size.moatDirs || wrong.length > 0) {
        return `${orphans.length} orphans, ${wrong.length} of them not moat dirs (e.g. ${wrong.slice(0, 3).join(', ')})`
      }

      const others = doc.items.filter((item) => item.decision !== 'orphan')
      if (others.length !== regexDecoys.size || others.some((item) => item.decision !== 'kept' || !regexDecoys.has(nameOf(item)))) {
        return `non-orphans ${others.map((item) => `${nameOf(item)}=${item.decision}`).join(', ')}; expected exactly ${[...regexDecoys].join(', ')} kept`
      }

      if (engineSkipped && !doc.warnings.some((w) => w.startsWith('No container runtime on this host'))) {
        return `moat did not skip the Docker engine: warnings ${JSON.stringify(doc.warnings)}`
      }
    },
    /** find+du: exactly the moat dirs. */
    du(r) {
      if (r.status !== 0) return describe(r)
      const listed = r.stdout.trim().split('\n').map((line) => line.slice(line.indexOf('\t') + 1))
      const wrong = listed.filter((path) => !expected.has(path))
      if (listed.length !== size.moatDirs || wrong.length > 0) {
        return `listed ${listed.length}, ${wrong.length} unexpected (${wrong.slice(0, 3).join(', ')})`
      }
    },
  }
}

// ---------------------------------------------------------------------------------------------------------------

export async function run({interrupted, log, quick}) {
  if (!existsSync(TEMP_DIRS_JS)) throw new Error(`${TEMP_DIRS_JS} is missing: run \`npm run build\` first`)
  const size = quick ? SIZES.quick : SIZES.full
  const {TEMP_PATTERNS} = await import(TEMP_DIRS_JS)
  const checks = []
  const notes = []
  const rows = []
  /** One line per check; repeated calls fold in, the first problem wins. */
  const check = (name, problem) => {
    const existing = checks.find((c) => c.name === name)
    if (!existing) checks.push({detail: problem, name, ok: !problem})
    else if (problem && existing.ok) Object.assign(existing, {detail: problem, ok: false})
  }

  const stale = staleBuild()
  if (stale) notes.push(`WARNING: ${stale} is newer than dist/: run \`npm run build\` (this measured the old build)`)
  const builtAt = statSync(TEMP_DIRS_JS).mtimeMs
  const loadBefore = machineLoad()
  const time = gnuTime(log)
  if (!time) notes.push('GNU time (/usr/bin/time) unavailable and not installable: peak memory not measured')

  const base = mkdtempSync(join(tmpdir(), 'bench-moat-system-'))
  try {
    const root = realpathSync(base)
    const fixture = join(root, 'tmp')
    const empty = join(root, 'empty')
    const dockerConfig = join(root, 'docker-config')
    mkdirSync(empty)
    mkdirSync(dockerConfig)

    // Our own work only: no engine to ask about bind mounts (an empty DOCKER_CONFIG: no docker context either).
    // The journal of removing passes (issue 21) and the code caches the runs make stay in the bench's own dir: never
    // ~/.local/state or ~/.cache.
    const env = {...process.env, CI: '1', DOCKER_CONFIG: dockerConfig, XDG_CACHE_HOME: join(root, 'cache'), XDG_STATE_HOME: join(root, 'state')}
    delete env.DOCKER_HOST
    delete env.DOCKER_CONTEXT
    const engineSkipped = !existsSync('/var/run/docker.sock')
    notes.push(
      engineSkipped
        ? "Docker engine unreachable on purpose (DOCKER_HOST/DOCKER_CONTEXT unset, empty DOCKER_CONFIG, no /var/run/docker.sock): the figures are moat's own work, without its bind-mount query"
        : 'WARNING: /var/run/docker.sock exists, so moat asks that engine for bind mounts: the figures include it',
    )

    const ctx = {
      check,
      engineSkipped,
      log,
      run: makeRunner({env, interrupted, memFile: join(root, 'peak-kb'), time}),
      size,
      async tick() {
        await new Promise((resolve) => {
          setImmediate(resolve)
        })
        if (interrupted()) throw new Interrupted('interrupted')
      },
    }

    // One fixture: both tools leave the unrelated entries alone (checked after every run), so a fresh copy for the
    // next deletion only needs its moat dirs rebuilt; building 100,000 entries twice is slow on a busy disk.
    const plan = planFixture(TEMP_PATTERNS, size)
    const started = process.hrtime.bigint()
    buildFixture(fixture, plan)
    spawnSync('sync')
    const buildMs = since(started)
    const total = size.unrelated + size.moatDirs
    log(`built ${total} entries (${size.unrelated} unrelated + ${size.moatDirs} moat dirs of ${size.filesPerDir} files) in ${fmtMs(buildMs)}`)
    const count = readdirSync(fixture).length
    check('fixture built as planned', count === total ? undefined : `${fixture} holds ${count} entries, not ${total}`)

    const findFilter = ['-maxdepth', '1', '-type', 'd', '(', ...findGlobs(TEMP_PATTERNS).flatMap((g, i) => [...(i ? ['-o'] : []), '-name', g]), ')', '-mmin', '+60']
    Object.assign(ctx, {findFilter, fixture, plan, verify: verifier(plan, fixture, size)})
    const startup = await measureStartup(ctx, empty, benchNodes(notes))
    const scan = await measureScan(ctx)
    const del = await measureDelete(ctx)
    const large = await measureLargeScan(ctx, root, plan)

    const ratioRow = (name, [moat, ref], refName, target) => {
      const ratio = median(moat) / median(ref)
      return {name, pass: ratio <= target, ratio: `${ratio.toFixed(2)}x`, reference: `${fmtMs(median(ref))} (${refName})`, target: `<= ${target}x`, value: fmtMs(median(moat))}
    }

    const peak = maxOf([scan.peak.moat, ...del.peak.moat].filter((kb) => kb !== undefined))
    const refPeak = maxOf([scan.peak.ref, ...del.peak.ref].filter((kb) => kb !== undefined))
    rows.push(
      ratioRow(`scan --dry-run --json, median of ${size.scanReps}`, [scan.ms.moat, scan.ms.ref], 'find+du', TARGETS.scanRatio),
      ratioRow(`delete --force, median of ${size.deleteReps}`, [del.ms.moat, del.ms.ref], 'find+rm', TARGETS.deleteRatio),
      {
        name: 'peak memory (max RSS, scan and delete)',
        pass: peak === undefined ? null : peak / 1024 < TARGETS.peakMb,
        ratio: '-',
        reference: `${fmtMb(refPeak)} (find)`,
        target: `< ${TARGETS.peakMb} MB`,
        value: fmtMb(peak),
      },
      ...startup.map((node) => ratioRow(`start-up on ${node.version}, empty dir, median of ${size.startupReps}`, [node.moat, node.node], 'node -e 0', TARGETS.startupRatio)),
      {
        name: `peak memory, scan among ${size.largeUnrelated.toLocaleString('en')} unrelated entries`,
        pass: large.peak.moat === undefined ? null : large.peak.moat / 1024 < TARGETS.largePeakMb,
        ratio: '-',
        reference: `${fmtMb(large.peak.ref)} (find)`,
        target: `< ${TARGETS.largePeakMb} MB`,
        value: fmtMb(large.peak.moat),
      },
    )
    notes.push(
      `fixture in ${tmpdir()}: ${size.unrelated.toLocaleString('en')} unrelated entries (${plan.files.length + Object.keys(plan.alike.regexSymlinks).length} files/symlinks, ${plan.dirs.length + 1 + plan.alike.youngGlobDirs.length} dirs, look-alikes such as moat-build-cache and notmoat-aws-1) + ${size.moatDirs} moat dirs over ${TEMP_PATTERNS.length} patterns x ${size.filesPerDir} files, mtimes ${AGE_SECONDS / 3600} h old; built in ${fmtMs(buildMs)}, moat dirs rebuilt before each deletion in ${fmtMs(del.rebuildMs)} on average`,
      `look-alike dirs that a find glob matches but moat's regex does not (${plan.alike.youngGlobDirs.join(', ')}) are young, so find's -mmin +60 keeps them too and both tools have the same set to remove`,
      `peak memory (max RSS under ${time ?? 'nothing'}): moat scan ${fmtMb(scan.peak.moat)} (its untimed warm-up run), delete ${fmtMb(maxOf(del.peak.moat))}; find+du ${fmtMb(scan.peak.ref)}, find+rm ${fmtMb(maxOf(del.peak.ref))}. Deletions run under GNU time on both sides (~1 ms each)`,
      `samples (ms): scan moat ${fmtSamples(scan.ms.moat)} vs ${fmtSamples(scan.ms.ref)}; delete moat ${fmtSamples(del.ms.moat)} vs ${fmtSamples(del.ms.ref)}; ${startup.map((node) => `start-up on ${node.version} moat ${fmtSamples(node.moat)} vs ${fmtSamples(node.node)} (first run ${fmtMs(node.first)})`).join('; ')}`,
      `large scan: ${size.largeUnrelated.toLocaleString('en')} unrelated names (hard links to empty files) + the same ${size.moatDirs} moat dirs, built in ${fmtMs(large.buildMs)}; moat --dry-run --json ${fmtMs(large.ms.moat)} (${fmtMb(large.peak.moat)}) vs find+du ${fmtMs(large.ms.ref)} (${fmtMb(large.peak.ref)}), one run each under GNU time`,
      `references: find <dir> ${findFilter.join(' ')} -print0 | xargs -0 du -sb (through sh -c); find <dir> ... -exec rm -rf {} +`,
      `machine load: before ${loadBefore}; after ${machineLoad()} (other work on this machine inflates and scatters the figures)`,
    )
    if (!existsSync(TEMP_DIRS_JS) || statSync(TEMP_DIRS_JS).mtimeMs !== builtAt) {
      notes.push('WARNING: dist/ was rebuilt while the bench ran (another `npm run build`?): figures may mix two builds, and runs during the rebuild fail')
    }
  } finally {
    const started = process.hrtime.bigint()
    rmSync(base, {force: true, maxRetries: 3, recursive: true})
    log(`removed ${base} in ${fmtMs(since(started))}`)
    check('bench fixture removed', existsSync(base) ? `${base} is still there` : undefined)
  }

  return {checks, notes, rows}
}

/**
 * The Node binaries whose start-up is measured: the one running the bench, and those listed in $MOAT_BENCH_NODES
 * (comma-separated paths; `npm i --prefix /tmp/n22 node@22` puts one at /tmp/n22/node_modules/node/bin/node).
 */
export function benchNodes(notes) {
  const listed = (process.env.MOAT_BENCH_NODES ?? '').split(',').map((path) => path.trim()).filter(Boolean)
  const nodes = []
  for (const path of [process.execPath, ...listed]) {
    const r = spawnSync(path, ['--version'], {encoding: 'utf8'})
    if (r.status !== 0) {
      notes.push(`MOAT_BENCH_NODES: ${path} does not run (${r.error?.code ?? `exit ${r.status}`}); left out`)
      continue
    }

    const version = r.stdout.trim()
    if (!nodes.some((node) => node.version === version)) nodes.push({path, version})
  }

  if (listed.length === 0) {
    notes.push('start-up of other Node versions: MOAT_BENCH_NODES=<node>[,<node>...], e.g. after `npm i --prefix /tmp/n22 node@22`, MOAT_BENCH_NODES=/tmp/n22/node_modules/node/bin/node')
  }

  return nodes
}

/**
 * `moat system clean-temp --dry-run` on an empty directory against `node -e 0`, for each Node: a first run (it
 * compiles the bundle and writes the code cache to the bench's own XDG_CACHE_HOME), then pairs in alternating order.
 */
async function measureStartup({check, log, run, size, tick}, empty, nodes) {
  const moatArgs = [RUN_JS, 'system', 'clean-temp', '--dry-run', '--tmp-dir', empty]
  const results = []
  for (const {path, version} of nodes) {
    const ms = {first: run(path, moatArgs).ms, moat: [], node: []}
    run(path, ['-e', '0'])
    await alternate(size.startupReps, [
      () => ms.node.push(run(path, ['-e', '0']).ms),
      () => {
        const r = run(path, moatArgs)
        ms.moat.push(r.ms)
        check('start-up: empty dir, nothing found', r.status === 0 && r.stdout.includes('No moat temporary directories found.') ? undefined : describe(r))
      },
    ], tick)
    log(`start-up on ${version}: first run ${fmtMs(ms.first)}; then moat ${fmtSamples(ms.moat)} ms; node -e 0 ${fmtSamples(ms.node)} ms`)
    results.push({version, ...ms})
  }

  return results
}

/** `moat --dry-run --json` against find+du; an untimed warm-up of each under GNU time gives the peak memory. */
async function measureScan({check, engineSkipped, findFilter, fixture, log, run, size, tick, verify}) {
  const moat = (memory) => {
    const r = run(process.execPath, [RUN_JS, 'system', 'clean-temp', '--dry-run', '--json', '--tmp-dir', fixture, '--min-age', '1h'], {memory})
    check('scan: moat --dry-run --json plans exactly the moat dirs', verify.dryRun(r, engineSkipped))
    return r
  }

  const ref = (memory) => {
    const r = run('sh', ['-c', 'find "$@" -print0 | xargs -0 du -sb', 'sh', fixture, ...findFilter], {memory})
    check('scan: find+du lists exactly the moat dirs', verify.du(r))
    return r
  }

  const peak = {moat: moat(true).peakKb, ref: ref(true).peakKb}
  const ms = {moat: [], ref: []}
  await alternate(size.scanReps, [() => ms.moat.push(moat(false).ms), () => ms.ref.push(ref(false).ms)], tick)
  log(`scan: moat ${fmtSamples(ms.moat)} ms; find+du ${fmtSamples(ms.ref)} ms`)
  return {ms, peak}
}

/** One moat dry run and one find+du among size.largeUnrelated unrelated names, under GNU time: peak memory (and time). */
async function measureLargeScan({check, engineSkipped, findFilter, log, run, size, tick}, base, plan) {
  const root = join(base, 'large')
  const started = process.hrtime.bigint()
  buildLargeFixture(root, join(base, 'large-sources'), plan, size.largeUnrelated)
  spawnSync('sync')
  const buildMs = since(started)
  log(`large scan: built ${size.largeUnrelated} unrelated names + ${size.moatDirs} moat dirs in ${fmtMs(buildMs)}`)
  await tick()
  // No look-alikes here: exactly the moat dirs are planned, and nothing is kept.
  const verify = verifier({...plan, alike: {...plan.alike, regexFiles: [], regexSymlinks: {}}}, root, size)
  const moat = run(process.execPath, [RUN_JS, 'system', 'clean-temp', '--dry-run', '--json', '--tmp-dir', root, '--min-age', '1h'], {memory: true})
  check(`large scan: moat --dry-run --json plans exactly the moat dirs among ${size.largeUnrelated} names`, verify.dryRun(moat, engineSkipped))
  await tick()
  const ref = run('sh', ['-c', 'find "$@" -print0 | xargs -0 du -sb', 'sh', root, ...findFilter], {memory: true})
  check('large scan: find+du lists exactly the moat dirs', verify.du(ref))
  log(`large scan: moat ${fmtMs(moat.ms)} ${fmtMb(moat.peakKb)}; find+du ${fmtMs(ref.ms)} ${fmtMb(ref.peakKb)}`)
  return {buildMs, ms: {moat: moat.ms, ref: ref.ms}, peak: {moat: moat.peakKb, ref: ref.peakKb}}
}

/** `moat --force` against find+rm, each on freshly rebuilt (and synced) moat dirs, both under GNU time. */
async function measureDelete({check, findFilter, fixture, log, plan, run, size, tick, verify}) {
  const ms = {moat: [], ref: []}
  const peak = {moat: [], ref: []}
  let rebuilds = 0
  let rebuildMs = 0
  const step = ({args, checkName, command, key, what}) => (rep, position) => {
    if (rep > 0 || position > 0) {
      const started = process.hrtime.bigint()
      buildMoatDirs(fixture, plan)
      spawnSync('sync')
      rebuildMs += since(started)
      rebuilds++
    }

    const r = run(command, args, {memory: true})
    ms[key].push(r.ms)
    if (r.peakKb !== undefined) peak[key].push(r.peakKb)
    check(checkName, verify.deleted(r, what))
  }

  await alternate(size.deleteReps, [
    step({
      args: [RUN_JS, 'system', 'clean-temp', '--force', '--tmp-dir', fixture, '--min-age', '1h'],
      checkName: 'delete: moat --force removes exactly the moat dirs',
      command: process.execPath,
      key: 'moat',
      what: 'moat',
    }),
    step({
      args: [fixture, ...findFilter, '-exec', 'rm', '-rf', '{}', '+'],
      checkName: 'delete: find+rm removes the same set',
      command: 'find',
      key: 'ref',
      what: 'find+rm',
    }),
  ], tick)
  log(`delete: moat ${fmtSamples(ms.moat)} ms; find+rm ${fmtSamples(ms.ref)} ms (moat dirs rebuilt ${rebuilds} times)`)
  return {ms, peak, rebuildMs: rebuildMs / Math.max(rebuilds, 1)}
}

/** Load average and CPU pressure (share of the last 10 s some task waited for a CPU), for the notes. */
export function machineLoad() {
  const parts = []
  try {
    parts.push(`loadavg ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`)
  } catch {}

  try {
    const some = /some avg10=([\d.]+)/.exec(readFileSync('/proc/pressure/cpu', 'utf8'))
    if (some) parts.push(`cpu pressure ${some[1]}%`)
  } catch {}

  return parts.join(', ') || 'unknown'
}

/** A source file newer than its build: the bench would measure old code. */
export function staleBuild() {
  const pending = [join(REPO, 'src')]
  while (pending.length > 0) {
    const dir = pending.pop()
    for (const entry of readdirSync(dir, {withFileTypes: true})) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) pending.push(path)
      else if (entry.name.endsWith('.ts')) {
        const built = join(REPO, 'dist', path.slice(join(REPO, 'src').length)).replace(/\.ts$/, '.js')
        if (!existsSync(built) || statSync(built).mtimeMs < statSync(path).mtimeMs) return path.slice(REPO.length + 1)
      }
    }
  }
}
