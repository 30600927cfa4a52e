import * as Flags from '@oclif/core/flags'

import type {Totals} from '../../lib/pipeline/pipeline.js'
import type {Runtime} from '../../lib/runtime/types.js'

import {BaseCommand} from '../../base-command.js'
import {durationFlag, targetSelectionFlags} from '../../lib/cli/flags.js'
import {buildTargets, chooseKinds, listKinds, TARGETS} from '../../lib/targets/index.js'

export default class Reap extends BaseCommand<typeof Reap> {
  static override description = `The periodic sweeper: runs the \`clean\` pass (every target unless --only or --skip say otherwise: ${listKinds(TARGETS.filter((spec) => spec.byDefault).map((spec) => spec.kind), ' and ')}; --force semantics, the same safety rules) at start and then every --interval (with ±10% jitter) until SIGTERM, SIGINT, SIGHUP or SIGQUIT; --once runs a single pass, the form for cron.

A first SIGTERM, SIGINT, SIGHUP or SIGQUIT sends no new removal, lets those under way finish (10 s at most), logs the pass and exits 0; a second one exits at once (1). Each pass takes the moat-home lock (see --lock-timeout): a pass that finds another clean running logs it and does nothing. A pass that would remove more than --max-delete items (default 100) removes nothing and is logged as refused.

An engine that fails mid-pass ends only that pass: every removal it confirmed is reported removed, one it was sent but never answered is asked about again (gone: removed; still there: failed; no answer: unknown, resolved by the next pass), the rest failed, the error is logged as a pass event, and the next pass comes after the interval, doubled for each pass in a row that failed, up to 1h (or the interval if longer). Only usage errors and an unusable log file stop the reaper.

The audit trail: one line per decision and one per pass (time, pass, target, id, name, decision, reason, evidence, outcome, bytes), and before each engine or daemon removal request its intent (synced), appended to --log-file (its missing parent directories are created 0700) or written to stderr as each happens; JSON lines unless stderr is a terminal or --log-format text. Each decision's line is written as its answer arrives; when a line cannot be written (a full disk), nothing more is deleted, the pass says why and the reaper stops (exit 3). Every pass also keeps the journal in moat-system's state directory ($XDG_STATE_HOME/moat-system, else ~/.local/state/moat-system) and first resolves what an interrupted pass (a SIGKILL, a power cut) left open there, logged as resumed lines.

Monitoring: --metrics-file writes Prometheus metrics (moat_system_*, the node_exporter textfile-collector format) after every pass, replaced atomically (a temp file in the same directory, then a rename): per target and runtime what the pass found, removed, kept, failed, skipped and could not confirm (unknown) and the bytes freed, what it resolved of an interrupted pass, the pass duration, the last pass and last successful pass times, the passes so far (kept across --once runs by the file itself), whether each Docker engine answered (moat_system_engine_up) and each Docker engine's address-pool usage (none for podman: its pools are unknown). A metrics file that cannot be written is a usage error at start (exit 2) and a note in the audit trail later.

Exit codes: 0 stopped by a signal, or --once done or nothing to do or another clean running; 1 unexpected error, a second signal, or (--once) a pass that could not finish; 2 usage error (also a --log-file that is a directory or not writable); 3 the audit log could not be written, or (--once) some removals failed or are unknown (sent to an engine that died, never confirmed or denied), an engine that is there did not answer while others did, or the pass was refused by --max-delete.`
  static override examples = [
    {command: '<%= config.bin %> <%= command.id %> --once --log-file ~/.moat/reap.log', description: 'One pass, for cron.'},
    {command: '<%= config.bin %> <%= command.id %> --interval 15m', description: 'Sweep every 15 minutes until stopped.'},
    {command: '<%= config.bin %> <%= command.id %> --once --dry-run --log-format text', description: 'What a pass would do.'},
    {
      command: '<%= config.bin %> <%= command.id %> --once --metrics-file /var/lib/node_exporter/textfile/moat-system.prom',
      description: 'One pass, with metrics for node_exporter --collector.textfile.directory.',
    },
  ]
  static override flags = {
    ...targetSelectionFlags,
    interval: durationFlag({
      default: '10m',
      description: 'Time between passes (30s, 10m, 1h, 1d).',
      examples: '30s, 10m or 1h',
      min: {example: '--interval 10m', ms: 1000},
    }),
    'log-file': Flags.string({description: 'Append the audit trail to this file instead of stderr.'}),
    'log-format': Flags.option({
      default: 'auto' as const,
      description: 'auto: text when the log goes to a terminal, else JSON lines.',
      options: ['auto', 'json', 'text'] as const,
    })(),
    'metrics-file': Flags.string({
      description: 'After every pass, write Prometheus metrics to this file (node_exporter textfile collector: name it *.prom), replaced atomically.',
    }),
    once: Flags.boolean({default: false, description: 'Run a single pass and exit (cron).'}),
  }
  static override summary = 'Sweep for leaks every --interval until stopped, logging every decision.'
  static override unattended = true

  async run(): Promise<Record<string, unknown>> {
    const [{AuditLog}, {describeHolder, runPass}, {runReaper}, {exitCodeOf}, {busyJson, reportJson}, {passOptions}, {defaultRuntimes}, {stopOnSignals}] = await Promise.all([
      import('../../lib/output/audit-log.js'),
      import('../../lib/pipeline/pass.js'),
      import('../../lib/pipeline/reaper.js'),
      import('../../lib/pipeline/pipeline.js'),
      import('../../lib/output/render.js'),
      import('../../lib/cli/session.js'),
      import('../../lib/runtime/select.js'),
      import('../../lib/cli/signals.js'),
    ])
    const {flags} = this
    // Bad --only/--skip values are a usage error now, before the log is opened or any pass runs.
    const kinds = chooseKinds(flags.only, flags.skip, flags.include)
    // A metrics file that cannot be written is a usage error now, as a bad --log-file is.
    const {MetricsFile, writePassMetrics} = await import('../../lib/output/metrics.js')
    const metrics = flags['metrics-file'] ? new MetricsFile(flags['metrics-file']) : undefined
    /** The runtimes the current pass could ask, and whether every target it was to run was built. */
    let current = {available: [] as Runtime[], complete: true}
    const toTerminal = !flags['log-file'] && process.stderr.isTTY
    const format = flags['log-format'] === 'auto' ? (toTerminal ? 'text' : 'json') : flags['log-format']
    const log = new AuditLog(format, flags['log-file'], flags['dry-run'])
    // The handling every removing command shares (signals.ts); the reaper's documented exits: 0 once stopped, 1 when
    // a second signal (or the bound on the requests in flight) cannot wait.
    const stop = stopOnSignals({
      exitNow: () => 1,
      onFirst: (signal) => log.note(0, `${signal}: finishing the deletion under way, then stopping`),
    })
    try {
      const summary = await runReaper({
        intervalMs: flags.interval.ms,
        log,
        once: flags.once,
        async onPass(pass, result) {
          if (!metrics) return
          for (const problem of await writePassMetrics(metrics, current, result)) log.note(pass, problem)
        },
        runPass: async (pass) => {
          // Notes of the runtime selection go to the log at once and into the pass's warnings, as in `clean --json`.
          const notes: string[] = []
          const warn = (message: string) => {
            notes.push(message)
            log.note(pass, message)
          }

          const available = defaultRuntimes(this.moatHome)
          // A runtime that did not answer drops the targets that need one: not a successful pass for the metrics. On a
          // host with no container runtime at all they do not apply, and a pass that ran the others is complete.
          let complete = true
          const dropped = (why: 'absent' | 'unreachable') => {
            complete = why === 'absent'
          }

          const targets = await buildTargets(kinds, {...this.targetOptions(), available, dropped, tmpDirs: flags['tmp-dir'], warn})
          current = {available, complete}
          const outcome = await runPass(targets, {
            ...passOptions(this.session()),
            confirm: async () => true,
            maxDelete: flags['max-delete'] ?? 100,
            onDecision: (target, item, intent) => log.decision(pass, target, item, intent),
            // No deletion without its audit line: a log that cannot be written stops the pass like a signal.
            signal: AbortSignal.any([stop.signal, log.failed]),
            trail: {intents: (intents) => log.intents(pass, intents), resumed: (resolved) => log.resumed(pass, resolved)},
          })
          if (!outcome.busy) outcome.report.warnings = [...new Set([...notes, ...outcome.report.warnings])]
          return outcome
        },
        signal: stop.signal,
      })
      const {last, logProblem} = summary
      if (logProblem) {
        // Also under --json, whose stdout stays the report.
        process.stderr.write(`Error: ${logProblem}\n`)
        process.exitCode = 3
        if (last && !last.busy) last.report.warnings.push(logProblem)
        if (last && !last.busy && flags.once) return reportJson(last.report, flags['min-age'].text, false)
      }

      const passes = `${summary.passes} pass${summary.passes === 1 ? '' : 'es'}`
      this.log(
        flags['dry-run']
          ? `Reaper stopped after ${passes} (dry run: nothing removed): ${summary.totals.orphans} would be removed, ${summary.totals.kept} kept.`
          : `Reaper stopped after ${passes}: ${doneCounts(summary.totals)}.`,
      )
      if (flags.once && last && !last.busy) {
        process.exitCode = exitCodeOf(last.report)
        return reportJson(last.report, flags['min-age'].text, false)
      }

      if (flags.once && last?.busy) {
        // `reap --once` prints the `clean` document: when busy, the same empty shape `clean --json` gives.
        const targets = TARGETS.filter((spec) => kinds.includes(spec.kind))
        const message = `Another clean is running for ${this.moatHome} (${describeHolder(last.holder, last.lockDir)}); nothing done.`
        return busyJson({dryRun: flags['dry-run'], holder: last.holder, message, minAge: flags['min-age'].text, targets, warnings: []}, false)
      }

      return {busy: Boolean(last?.busy), passes: summary.passes, stopped: stop.signal.aborted, totals: summary.totals}
    } finally {
      stop.dispose()
      log.close()
    }
  }
}

/** What the passes did; `unknown` only when there is one. */
function doneCounts(totals: Totals): string {
  const counts = `${totals.removed} removed, ${totals.skipped} skipped, ${totals.failed} failed`
  return totals.unknown ? `${counts}, ${totals.unknown} unknown` : counts
}
