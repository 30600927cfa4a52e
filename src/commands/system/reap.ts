import * as Flags from '@oclif/core/flags'

import type {Item, Report, Totals} from '../../lib/pipeline/pipeline.js'
import type {Runtime} from '../../lib/runtime/types.js'

import {BaseCommand} from '../../base-command.js'
import {durationFlag, targetSelectionFlags} from '../../lib/cli/flags.js'
import {isTerminal, writeOut} from '../../lib/cli/stdio.js'
import {formatDuration} from '../../lib/duration.js'
import {inScope, kindScope, kindsIn, type TriggerKind, triggerOf, TriggerQueue} from '../../lib/pipeline/triggers.js'
import {buildTargets, chooseKinds, listKinds, type TargetKind, TARGETS} from '../../lib/targets/index.js'

export default class Reap extends BaseCommand<typeof Reap> {
  static override description = `The reaper: runs the \`clean\` pass (every target unless --only or --skip say otherwise: ${listKinds(TARGETS.filter((spec) => spec.byDefault).map((spec) => spec.kind), ' and ')}; --force semantics, the same safety rules) at start and then every --interval (with ±10% jitter) until SIGTERM, SIGINT, SIGHUP or SIGQUIT; --once runs a single pass, the form for cron.

Watching (the default without --once; --no-watch turns it off): between the full passes, a run dir removed from $MOAT_HOME/runs (inotify, FSEvents) or a moat container that died or was removed (each Docker engine's event stream) wakes a pass over that run's objects after --settle; a network created with the engine's address pools at least --pool-threshold percent full wakes a networks pass at once; a young item wakes its target's pass when it comes of age. Triggers that come together are one pass; each removal's record names its trigger. A dropped event stream reconnects with a growing wait and replays what it missed (since= the last event), and the engine targets are looked at again. A watch that cannot be set up (no runs dir, no inotify watch left, an engine without an event stream) is said once in the audit trail and left to the interval. \`status\` shows whether a reaper runs and what it watches (its state file in the state directory).

A first SIGTERM, SIGINT, SIGHUP or SIGQUIT sends no new removal, lets those under way finish (10 s at most), logs the pass and exits 0; a second one exits at once (1). Each pass takes the moat-home lock (see --lock-timeout): a pass that finds another clean running logs it and does nothing. A pass that would remove more than --max-delete items (default 100) removes nothing and is logged as refused.

An engine that fails mid-pass ends only that pass: every removal it confirmed is reported removed, one it was sent but never answered is asked about again (gone: removed; still there: failed; no answer: unknown, resolved by the next pass), the rest failed, the error is logged as a pass event, and the next pass comes after the interval, doubled for each pass in a row that failed, up to 1h (or the interval if longer). Only usage errors and an unusable log file stop the reaper.

The audit trail: one line per decision and one per pass (time, pass, target, id, name, decision, reason, evidence, outcome, bytes), and before each engine or daemon removal request its intent (synced), appended to --log-file (its missing parent directories are created 0700) or written to stderr as each happens; JSON lines unless stderr is a terminal or --log-format text. Each decision's line is written as its answer arrives; when a line cannot be written (a full disk), nothing more is deleted, the pass says why and the reaper stops (exit 3). Every pass also keeps the journal in moat-system's state directory ($XDG_STATE_HOME/moat-system, else ~/.local/state/moat-system) and first resolves what an interrupted pass (a SIGKILL, a power cut) left open there, logged as resumed lines.

Monitoring: --metrics-file writes Prometheus metrics (moat_system_*, the node_exporter textfile-collector format) after every pass, replaced atomically (a temp file in the same directory, then a rename): per target and runtime what the pass found, removed, kept, failed, skipped and could not confirm (unknown) and the bytes freed, what it resolved of an interrupted pass, the pass duration, the last pass and last successful pass times, the passes so far (kept across --once runs by the file itself), whether each Docker engine answered (moat_system_engine_up) and each Docker engine's address-pool usage (none for podman: its pools are unknown). A metrics file that cannot be written is a usage error at start (exit 2) and a note in the audit trail later.

Exit codes: 0 stopped by a signal, or --once done or nothing to do or another clean running; 1 unexpected error, a second signal, or (--once) a pass that could not finish; 2 usage error (also a --log-file that is a directory or not writable); 3 the audit log could not be written, or (--once) some removals failed or are unknown (sent to an engine that died, never confirmed or denied), an engine that is there did not answer while others did, or the pass was refused by --max-delete.`
  static override examples = [
    {command: '<%= config.bin %> <%= command.id %> --once --log-file ~/.moat/reap.log', description: 'One pass, for cron.'},
    {command: '<%= config.bin %> <%= command.id %> --min-age 1m --log-file ~/.moat/reap.log', description: 'Watch and remove leaks within seconds of their run ending (a minute old at least), with a full pass every 10 minutes.'},
    {command: '<%= config.bin %> <%= command.id %> --no-watch --interval 15m', description: 'Only sweep, every 15 minutes, until stopped.'},
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
    'pool-threshold': Flags.integer({
      default: 50,
      description: "Watching: when a network is created and its engine's address pools are at least this full (percent), look at the networks at once.",
      max: 100,
      min: 0,
    }),
    settle: durationFlag({
      default: '2s',
      description: "Watching: how long a run's pass waits after its run dir went or its container stopped, so moat's own teardown finishes first.",
      examples: '2s, 500ms or 10s',
    }),
    watch: Flags.boolean({
      allowNo: true,
      default: true,
      description: "Between the passes every --interval, react to leaks as they happen: a run dir removed from $MOAT_HOME/runs, a moat container that stopped or went, a network created with the address pools nearly full, a young item that came of age (each a pass over what it concerns). --no-watch: the interval only.",
    }),
  }
  static override summary = 'Watch for leaks and remove them as they happen, with a full sweep every --interval, logging every decision.'
  static override unattended = true

  async run(): Promise<Record<string, unknown>> {
    const [{AuditLog}, {describeHolder, runPass}, {runReaper}, {exitCodeOf}, {busyJson, reportJson}, {passOptions}, {defaultRuntimes}, {stopOnSignals}, {stateDir}] =
      await Promise.all([
        import('../../lib/output/audit-log.js'),
        import('../../lib/pipeline/pass.js'),
        import('../../lib/pipeline/reaper.js'),
        import('../../lib/pipeline/pipeline.js'),
        import('../../lib/output/render.js'),
        import('../../lib/cli/session.js'),
        import('../../lib/runtime/select.js'),
        import('../../lib/cli/signals.js'),
        import('../../lib/output/state-dir.js'),
      ])
    const {flags} = this
    // Bad --only/--skip values are a usage error now, before the log is opened or any pass runs.
    const kinds = chooseKinds(flags.only, flags.skip, flags.include)
    // A metrics file that cannot be written is a usage error now, as a bad --log-file is.
    const {MetricsFile, writePassMetrics} = await import('../../lib/output/metrics.js')
    const metrics = flags['metrics-file'] ? new MetricsFile(flags['metrics-file']) : undefined
    /** The runtimes the current pass could ask, and whether every target it was to run was built. */
    let current = {available: [] as Runtime[], complete: true}
    /** The current pass's removals: how long after its trigger each was confirmed (the metrics' histogram). */
    let removals: RemovalTiming[] = []
    const toTerminal = !flags['log-file'] && isTerminal(2)
    const format = flags['log-format'] === 'auto' ? (toTerminal ? 'text' : 'json') : flags['log-format']
    const log = new AuditLog(format, flags['log-file'], flags['dry-run'])
    let passNow = 0
    const queue = new TriggerQueue({
      coalesceMs: Math.min(flags.settle.ms / 2, MAX_COALESCE_MS),
      onAdd(trigger, dueInMs) {
        // The start and the interval are in each pass's line; what a watch heard is logged as it arrives.
        if (trigger.kind !== 'start' && trigger.kind !== 'interval') log.trigger(trigger, dueInMs)
      },
    })
    // A reaper that runs on (not --once) says in its state file that it runs and what it watches: `status` reads it.
    const {ReaperStateFile} = await import('../../lib/output/reaper-state.js')
    const stateFile = flags.once ? undefined : new ReaperStateFile(stateDir(), this.moatHome, flags.interval.ms)
    const watching = flags.watch && !flags.once
    const {Watcher} = await import('../../lib/pipeline/watch.js')
    const watcher = watching
      ? new Watcher({
          kinds,
          moatHome: this.moatHome,
          note: (message) => log.note(passNow, message),
          onChange(state) {
            const problem = stateFile?.write(state)
            if (problem) log.note(passNow, problem)
          },
          poolThreshold: flags['pool-threshold'] / 100,
          queue,
          settleMs: flags.settle.ms,
        })
      : undefined
    if (stateFile) {
      const problem = stateFile.write(watcher?.state())
      if (problem) log.note(0, problem)
    }

    // Before the first pass: a run dir removed while it runs is not missed.
    watcher?.watchRuns()
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
          const problems = await writePassMetrics(metrics, current, {...result, full: result.wake.scope.full, removals, triggers: result.wake.triggers})
          for (const problem of problems) log.note(pass, problem)
        },
        queue,
        runPass: async (pass, wake) => {
          passNow = pass
          removals = []
          const started = Date.now()
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

          // A targeted pass (issue 24) builds only the targets its triggers concern and judges only their items.
          const passKinds = kindsIn(wake.scope, kinds) as TargetKind[]
          const targets = await buildTargets(passKinds, {...this.targetOptions(), available, dropped, tmpDirs: flags['tmp-dir'], warn})
          current = {available, complete}
          const triggerFor = (target: string, item: Item) => triggerOf(wake.triggers, target, item)
          const outcome = await runPass(targets, {
            ...passOptions(this.session()),
            confirm: async () => true,
            maxDelete: flags['max-delete'] ?? 100,
            onDecision(target, item, intent) {
              const trigger = triggerFor(target, item)
              if (item.decision === 'removed' && trigger) removals.push({kind: trigger.kind, seconds: Math.max(0, Date.now() - trigger.at) / 1000})
              // `--once`, the cron form, records its decisions as before there were triggers.
              log.decision(pass, target, item, intent, flags.once ? undefined : trigger)
            },
            // No deletion without its audit line: a log that cannot be written stops the pass like a signal.
            signal: AbortSignal.any([stop.signal, log.failed]),
            trail: {
              intents(intents) {
                // The events of the reaper's own removals wake nothing: marked before the request goes out.
                for (const intent of intents) watcher?.removedByUs(intent.id)
                log.intents(pass, intents)
              },
              resumed: (resolved) => log.resumed(pass, resolved),
            },
            within: wake.scope.full ? undefined : (target, item) => inScope(wake.scope, target, item),
          })
          if (!outcome.busy) outcome.report.warnings = [...new Set([...notes, ...outcome.report.warnings])]
          if (watcher && wake.scope.full) {
            // The engines a full pass consulted are those to watch; a watch that could not be set up is tried again.
            watcher.syncEngines(available, started)
            watcher.watchRuns()
          }

          if (watcher && !outcome.busy) scheduleComingOfAge(queue, outcome.report, started, flags['min-age'].ms)
          return outcome
        },
        signal: stop.signal,
      })
      const {last, logProblem} = summary
      if (logProblem) {
        // Also under --json, whose stdout stays the report.
        writeOut(2, `Error: ${logProblem}\n`)
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
      watcher?.close()
      stateFile?.remove()
      stop.dispose()
      log.close()
    }
  }
}

/**
 * A settling trigger due within this (or half of --settle, if less) of a pass that starts joins it: a burst is one
 * pass, and none of its triggers waits less than half its settle delay.
 */
const MAX_COALESCE_MS = 1000

/**
 * Issue 24: instead of waiting for the interval, the next pass over a target is set for the moment its first young
 * item (kept only for --min-age) comes of age; one pending per target, the earliest. An item found young again then
 * (touched meanwhile) sets the next one.
 */
function scheduleComingOfAge(queue: TriggerQueue, report: Report, started: number, minAgeMs: number): void {
  for (const section of report.targets) {
    let first: Item | undefined
    for (const item of section.items) {
      if (item.decision !== 'kept' || item.ageMs === undefined || !item.reason.startsWith('young:')) continue
      if (!first || item.ageMs > first.ageMs!) first = item
    }

    if (!first) continue
    // A second past the moment, so that the pass's own clock (read a little later) sees it old enough.
    const dueAt = started + minAgeMs - first.ageMs! + 1000
    const what = `${section.target}: ${first.name} is older than --min-age ${formatDuration(minAgeMs)}`
    queue.add({at: dueAt, kind: 'age', scope: kindScope([section.target]), what}, dueAt - Date.now(), {key: `age:${section.target}`})
  }
}

interface RemovalTiming {
  kind: TriggerKind
  seconds: number
}

/** What the passes did; `unknown` only when there is one. */
function doneCounts(totals: Totals): string {
  const counts = `${totals.removed} removed, ${totals.skipped} skipped, ${totals.failed} failed`
  return totals.unknown ? `${counts}, ${totals.unknown} unknown` : counts
}
