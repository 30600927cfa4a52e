import {BaseCommand} from '../../base-command.js'
import {buildTarget} from '../../lib/targets/index.js'

export default class CleanNetworks extends BaseCommand<typeof CleanNetworks> {
  static override description = `Lists the per-run networks moat creates, named moat-<run-id>: on Docker only those labelled moat.managed=true, on Apple container by name. Any other network (moat-shared, unlabelled or Docker's own) is never touched.

A network is removed only when its run has ended (no $MOAT_HOME/runs/<run-id>/ directory and the moat daemon does not list the run), it was created longer than --min-age ago by the engine's clock, and no running container is attached to it. Stopped containers of the same dead run are detached from it first; a network with any other container attached is kept. Each network is checked again right before removal (same ID and labels, run dir still absent, no new container attached) and removed by ID without force, so the engine itself refuses one that is in use.

Every Docker engine moat may have used is checked, each once (see the README's Runtimes section): DOCKER_HOST, the sockets moat looks at, the docker CLI's context and every run dir's docker_host; with --runtime auto (the default) also Apple container when its CLI is present. One that is there but does not answer is skipped with a note naming it and where its address came from; none of its networks is judged, and the others are cleaned.

Exit codes: 0 done or nothing to do (also dry run and "Canceled."), 1 unexpected error or no engine of the runtime answered (nothing is removed), 2 usage error, or no terminal to confirm on (or --json) without --force/--dry-run, 3 partial: some removals failed, or some are unknown (sent, never confirmed or denied: the next pass finds out), or an engine that is there did not answer (its objects are neither judged nor removed; the others are); 130 Ctrl-C at the [y/N] prompt (nothing removed); 128+signal when stopped by SIGHUP (129), SIGINT (130), SIGQUIT (131) or SIGTERM (143): nothing new is removed, the removals under way finish and are reported (a second signal exits at once).`
  static override examples = [
    {command: '<%= config.bin %> <%= command.id %> --dry-run', description: 'See what would be removed.'},
    {command: '<%= config.bin %> <%= command.id %>', description: 'Remove after a [y/N] confirmation.'},
    {command: '<%= config.bin %> <%= command.id %> --force --json', description: 'Unattended (cron, systemd timer), as JSON.'},
    {command: '<%= config.bin %> <%= command.id %> --dry-run --runtime docker --min-age 24h', description: 'Only Docker, only networks older than a day.'},
  ]
  static override summary = 'Remove per-run networks that crashed moat runs left behind.'

  async run(): Promise<Record<string, unknown>> {
    return this.clean([await buildTarget('networks', this.targetOptions())])
  }
}
