import * as Flags from '@oclif/core/flags'

import {BaseCommand} from '../../base-command.js'
import {buildTarget} from '../../lib/targets/index.js'

export default class CleanContainers extends BaseCommand<typeof CleanContainers> {
  static override description = `Lists moat's run containers, named run_<12 hex> (they carry no labels), on Docker and Apple container. Anything else, such as run_XYZ, is never touched.

A run container is removed when its run has ended: no $MOAT_HOME/runs/<run-id>/ directory, or one without metadata.json in which nothing changed for longer than --min-age (moat crashed between creating the container and saving the run), and the moat daemon does not list the run. It must also have exited (or, never started, been created) longer than --min-age ago by the engine's clock. A running one is kept unless --include-running is given; then it is stopped with a short timeout and removed. Each one is checked again right before the stop and right before the removal (same ID and name, still stopped or still running, its run still ended) and removed by ID without force, so one that started meanwhile is skipped and reported.

Every Docker engine moat may have used is checked, each once (see the README's Runtimes section): DOCKER_HOST, the sockets moat looks at, the docker CLI's context and every run dir's docker_host; with --runtime auto (the default) also Apple container when its CLI is present. One that is there but does not answer is skipped with a note naming it and where its address came from; none of its containers is judged, and the others are cleaned.

Exit codes: 0 done or nothing to do (also dry run and "Canceled."), 1 unexpected error or no engine of the runtime answered (nothing is removed), 2 usage error, or no terminal to confirm on (or --json) without --force/--dry-run, 3 partial: some removals failed, or some are unknown (sent, never confirmed or denied: the next pass finds out), or an engine that is there did not answer (its objects are neither judged nor removed; the others are); 130 Ctrl-C at the [y/N] prompt (nothing removed); 128+signal when stopped by SIGHUP (129), SIGINT (130), SIGQUIT (131) or SIGTERM (143): nothing new is removed, the removals under way finish and are reported (a second signal exits at once).`
  static override examples = [
    {command: '<%= config.bin %> <%= command.id %> --dry-run', description: 'See what would be removed.'},
    {command: '<%= config.bin %> <%= command.id %>', description: 'Remove after a [y/N] confirmation.'},
    {command: '<%= config.bin %> <%= command.id %> --force --json', description: 'Unattended (cron, systemd timer), as JSON.'},
    {command: '<%= config.bin %> <%= command.id %> --include-running --dry-run', description: 'Also stop and remove the still-running containers of ended runs.'},
  ]
  static override flags = {
    'include-running': Flags.boolean({
      default: false,
      description: 'Also stop and remove run containers that are still running although their run has ended.',
    }),
  }
  static override summary = 'Remove run containers that crashed moat runs left behind.'

  async run(): Promise<Record<string, unknown>> {
    return this.clean([await buildTarget('containers', {...this.targetOptions(), includeRunning: this.flags['include-running']})])
  }
}
