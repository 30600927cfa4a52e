#!/usr/bin/env node
// `npm run bench`: runs benchmark sections one after another and prints one summary table.
//
//   node bench/run.js                 every section
//   node bench/run.js --only temp     only these sections (comma-separated or repeated)
//   node bench/run.js --quick         small fixtures and few repetitions: checks the bench itself, not the targets
//
// Run `npm run build` first: the sections measure dist/. Fixtures go to os.tmpdir() ($TMPDIR, else /tmp).
// The watch section (issue 24) starts its own two engines (pools 10.218.0.0/17 and 10.218.128.0/19, see watch.js) and
// takes its long rows' lengths from MOAT_BENCH_CHURN_S, MOAT_BENCH_IDLE_S and MOAT_BENCH_SOAK_LEAKS.
// The networks, containers and clean sections start a private Docker engine with test/engine/engine.sh (root; it installs
// docker.io when missing) in /tmp/mbe-*, and stop it when they end, also on failure or Ctrl-C.
//
// A section is a module in this directory exporting `title` and `async run({interrupted, log, quick})` that
// returns {rows, checks, notes}:
//   rows    [{name, value, reference, ratio, target, pass}]: formatted strings; pass true/false, or null (no target)
//   checks  [{name, ok, detail}]: correctness; any failure makes the exit code 1
//   notes   [string]: printed under the table
// It cleans up after itself, also when it throws; `interrupted()` turns true after Ctrl-C.
// A missed target does not change the exit code (this is a report, not a test); a failed check or a crash does.
import {cpus} from 'node:os'

// To add a section, add a line here.
const SECTIONS = {
  clean: () => import('./clean.js'),
  containers: () => import('./containers.js'),
  networks: () => import('./networks.js'),
  temp: () => import('./temp.js'),
  watch: () => import('./watch.js'),
}

const USAGE = `Usage: node bench/run.js [--only <${Object.keys(SECTIONS).join('|')}>[,...]] [--quick]`

/** {names, quick}, or {error} for a usage error. */
function parseArgs(argv) {
  const only = []
  let quick = false
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--quick') quick = true
    else if (arg === '--only' && i + 1 < argv.length) only.push(...argv[++i].split(','))
    else if (arg.startsWith('--only=')) only.push(...arg.slice('--only='.length).split(','))
    else if (arg === '-h' || arg === '--help') return {error: ''}
    else return {error: arg === '--only' ? '--only needs a section name' : `unknown argument ${JSON.stringify(arg)}`}
  }

  const names = [...new Set(only.filter(Boolean))]
  const unknown = names.find((name) => !SECTIONS[name])
  if (unknown) return {error: `no section ${JSON.stringify(unknown)}`}
  return {names: names.length > 0 ? names : Object.keys(SECTIONS), quick}
}

function table(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)))
  const line = (cells) =>
    cells
      .map((c, i) => String(c).padEnd(widths[i]))
      .join('  ')
      .trimEnd()
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(r))].join('\n')
}

function verdict(pass) {
  if (pass === null || pass === undefined) return '-'
  return pass ? 'PASS' : 'FAIL'
}

function log(message) {
  process.stderr.write(`${message}\n`)
}

function secondsSince(started) {
  return Number(process.hrtime.bigint() - started) / 1e9
}

async function runSections(names, quick, isInterrupted) {
  const results = []
  for (const name of names) {
    const section = await SECTIONS[name]()
    log(`== ${name}: ${section.title}${quick ? ' (--quick)' : ''}`)
    const started = process.hrtime.bigint()
    try {
      const result = await section.run({interrupted: isInterrupted, log: (m) => log(`[${name}] ${m}`), quick})
      results.push({name, seconds: secondsSince(started), ...result})
    } catch (error) {
      log(isInterrupted() ? `[${name}] interrupted` : `[${name}] FAILED TO RUN: ${error?.stack ?? error}`)
      const check = {detail: String(error?.message ?? error), name: 'section ran to the end', ok: false}
      results.push({checks: [check], name, notes: [], rows: [], seconds: secondsSince(started)})
    }

    if (isInterrupted()) break
  }

  return results
}

function summary(results, quick, interrupted) {
  const rows = results.flatMap((r) =>
    r.rows.map((row) => [r.name, row.name, row.value, row.reference, row.ratio, row.target, verdict(row.pass)]),
  )
  const checks = results.flatMap((r) =>
    r.checks.map((c) => `  ${c.ok ? 'ok  ' : 'FAIL'}  [${r.name}] ${c.name}${c.detail ? ` (${c.detail})` : ''}`),
  )
  const notes = results.flatMap((r) => [
    ...r.notes.map((n) => `  - [${r.name}] ${n}`),
    `  - [${r.name}] section took ${r.seconds.toFixed(1)} s`,
  ])
  const failed = results.flatMap((r) => r.checks).filter((c) => !c.ok).length
  const missed = results.flatMap((r) => r.rows).filter((row) => row.pass === false).length
  const machine = `node ${process.version}, ${cpus().length} CPUs${quick ? ', --quick: fixtures too small for the targets to mean anything' : ''}`
  return {
    failed,
    text: [
      '',
      `Benchmark summary (${machine})`,
      '',
      table(['section', 'measurement', 'moat', 'reference', 'ratio', 'target', 'result'], rows),
      '',
      'Correctness checks:',
      ...checks,
      ...(notes.length > 0 ? ['', 'Notes:', ...notes] : []),
      '',
      `${missed} target(s) missed, ${failed} correctness check(s) failed${interrupted ? ', interrupted' : ''}.`,
      '',
    ].join('\n'),
  }
}

const args = parseArgs(process.argv.slice(2))
if (args.error === undefined) {
  // Sections clean up in `finally`: Ctrl-C only raises a flag they check between steps (a child gets it too).
  let interrupted = false
  process.on('SIGINT', () => {
    interrupted = true
  })
  process.on('SIGTERM', () => {
    interrupted = true
  })
  const results = await runSections(args.names, args.quick, () => interrupted)
  const {failed, text} = summary(results, args.quick, interrupted)
  process.stdout.write(text)
  process.exitCode = interrupted ? 130 : failed > 0 ? 1 : 0
} else {
  process.stderr.write(`${args.error ? `bench: ${args.error}\n` : ''}${USAGE}\n`)
  process.exitCode = args.error ? 2 : 0
}
