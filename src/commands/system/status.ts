import * as Flags from '@oclif/core/flags'

import {BaseCommand} from '../../base-command.js'
import {targetSelectionFlags} from '../../lib/cli/flags.js'
import {EXIT} from '../../lib/exit-codes.js'
import {stateDir} from '../../lib/output/state-dir.js'
import {listKinds, TARGET_KINDS} from '../../lib/targets/index.js'

export default class Status extends BaseCommand<typeof Status> {
  // Only the shared flags that mean something to a read-only look (it never removes, prompts or takes the lock):
  // oclif rejects --force, --dry-run, --lock-timeout and --max-delete here as unknown flags. The cast keeps
  // BaseCommand's flag types; status reads none of the flags it leaves out.
  static override baseFlags = {
    filter: BaseCommand.baseFlags.filter,
    'min-age': BaseCommand.baseFlags['min-age'],
    'moat-home': BaseCommand.baseFlags['moat-home'],
    quiet: BaseCommand.baseFlags.quiet,
    runtime: BaseCommand.baseFlags.runtime,
  } as unknown as typeof BaseCommand.baseFlags
  static override description = `A read-only overview, like \`docker system df\`: for every target (${listKinds(TARGET_KINDS, ' and ')}, volumes included) and runtime, how many moat objects exist, how many are orphans right now (what the clean commands would remove with the same --min-age), and their size where known. Then each Docker engine's address-pool pressure: how many of the subnets it can give bridge networks are taken, and how many by moat's orphaned networks (the leak users feel first: once the pools are used up, no new network, and so no moat run with services, can be made). The pools are the daemon's default-address-pools, or Docker's built-in ones (31 subnets) when it has none; Apple container has no pool.

Then whether a reaper (\`reap\` without --once) runs for this moat home and what it watches, from the state file it keeps.

It runs the same scan and classification as a dry run of every clean: it removes nothing, takes no lock and never asks, so it needs no terminal.

It names every Docker engine it consulted (each once): its ID and kind (docker or podman), each address and where it came from (DOCKER_HOST, the default socket, a docker context, a run's docker_host ...), which addresses are one engine, and any that did not answer. A podman engine's address pools are not Docker's: their pressure is shown as unknown.

Exit codes: 0 nothing to clean, 1 unexpected error or no runtime that is there answers (nothing can be said, so never "nothing to clean"), 2 usage error, 3 partial: an engine that is there did not answer (the rest is shown; never 0 or 4, since nothing can be said about it), 4 something to clean (a CI step or a monitoring check can gate on it). --exit-zero exits 0 when there is something to clean too, as \`docker system df\` does, for a script that only wants the numbers; errors (1, 2, 3) keep their codes.`
  static override examples = [
    {command: '<%= config.bin %> <%= command.id %>', description: 'What is there, what is orphaned, and the address pools.'},
    {command: '<%= config.bin %> <%= command.id %> --json', description: 'The same as a JSON document.'},
    {command: '<%= config.bin %> <%= command.id %> --runtime docker --min-age 24h', description: 'Only Docker, only what has been orphaned for over a day.'},
    {command: '<%= config.bin %> <%= command.id %> --json --exit-zero', description: 'The numbers for a script, exit 0 whatever is orphaned.'},
  ]
  static override flags = {
    'exit-zero': Flags.boolean({
      default: false,
      description: 'Exit 0 when there is something to clean too (default: 4); errors keep their codes.',
    }),
    'tmp-dir': targetSelectionFlags['tmp-dir'],
  }
  static override summary = 'Show what moat left behind per target and runtime, and the engine\'s address-pool pressure.'
  static override unattended = true

  async run(): Promise<Record<string, unknown>> {
    const [{collectStatus}, {describeStatus}, {describeRunFilter}] = await Promise.all([
      import('../../lib/status/status.js'),
      import('../../lib/output/status.js'),
      import('../../lib/pipeline/filter.js'),
    ])
    const {flags} = this
    const status = await collectStatus({
      filter: this.filters.runs,
      journalDir: stateDir(),
      minAgeMs: flags['min-age'].ms,
      moatHome: this.moatHome,
      runtime: flags.runtime,
      tmpDirs: flags['tmp-dir'],
      warn: (message) => this.note(message),
    })
    const lines = describeStatus(status, {exitZero: flags['exit-zero']})
    // --quiet: the last line is the summary (`To clean: ...` or `Nothing to clean.`).
    for (const line of flags.quiet ? lines.slice(-1) : lines) this.log(line)
    // An engine that did not answer: nothing can be said about it, so neither "nothing" nor "something" to clean.
    process.exitCode = status.partial ? EXIT.partial : status.somethingToClean && !flags['exit-zero'] ? EXIT.toClean : EXIT.ok
    const filter = this.filters.runs && describeRunFilter(this.filters.runs)
    return {filter, minAge: flags['min-age'].text, moatHome: this.moatHome, ...status}
  }
}
