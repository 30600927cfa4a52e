import {BaseCommand} from '../../base-command.js'
import {buildTarget} from '../../lib/targets/index.js'

export default class CleanNetworks extends BaseCommand<typeof CleanNetworks> {
  static override description = `Lists the per-run networks moat creates, named moat-<run-id>: on Docker only those labelled moat.managed=true, on Apple container by name. Any other network (moat-shared, unlabelled or Docker's own) is never touched.

A network is removed only when its run has ended (no $MOAT_HOME/runs/<run-id>/ directory and the moat daemon does not list the run), it was created longer than --min-age ago by the engine's clock, and no running container is attached to it. Stopped containers of the same dead run are detached from it first; a network with any other container attached is kept. Each network is checked again right before removal (same ID and labels, run dir still absent, no new container attached) and removed by ID without force, so the engine itself refuses one that is in use.

With --runtime auto (the default) every runtime whose CLI is present and answers is checked; one that does not answer is skipped with a warning and none of its networks is judged.

Exit codes: 0 done or nothing to do (also dry run and "Canceled."), 1 unexpected error or the container runtime unreachable (nothing is removed), 2 usage error, or no terminal to confirm on (or --json) without --force/--dry-run, 3 some removals failed, or some are unknown (sent, never confirmed or denied: the next pass finds out); 130 Ctrl-C at the [y/N] prompt (nothing removed); 128+signal when stopped by SIGHUP (129), SIGINT (130), SIGQUIT (131) or SIGTERM (143): nothing new is removed, the removals under way finish and are reported (a second signal exits at once).`
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
