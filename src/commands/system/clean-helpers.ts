import {BaseCommand} from '../../base-command.js'
import {buildTarget} from '../../lib/targets/index.js'

export default class CleanHelpers extends BaseCommand<typeof CleanHelpers> {
  static override description = `Lists the volume export helpers moat creates for a snapshot of a volume-mode run, named moat-export_<12 hex> (Docker only). Nothing else is ever a candidate; the unnamed, unlabelled chown helper moat also uses is left alone, since nothing but its image and command tells it from a container of yours.

One is removed when it is not running and it exited (or, never started, was created) longer than --min-age ago by the engine's clock; a running one may be an export under way and is kept. Each one is checked again right before the removal (same ID, name and labels, still not running, not run again) and removed by ID without force.

Exit codes: 0 done or nothing to do (also dry run and "Canceled."), 1 unexpected error or no engine of the runtime answered (nothing is removed), 2 usage error, or no terminal to confirm on (or --json) without --force/--dry-run, 3 partial: some removals failed, or some are unknown (sent, never confirmed or denied: the next pass finds out), or an engine that is there did not answer (its objects are neither judged nor removed; the others are); 130 Ctrl-C at the [y/N] prompt (nothing removed); 128+signal when stopped by SIGHUP (129), SIGINT (130), SIGQUIT (131) or SIGTERM (143): nothing new is removed, the removals under way finish and are reported (a second signal exits at once).`
  static override examples = [
    {command: '<%= config.bin %> <%= command.id %> --dry-run', description: 'See what would be removed.'},
    {command: '<%= config.bin %> <%= command.id %> --force --json', description: 'Unattended, as JSON.'},
  ]
  static override summary = 'Remove volume export helpers that crashed moat snapshots left behind.'

  async run(): Promise<Record<string, unknown>> {
    return this.clean([await buildTarget('helpers', this.targetOptions())])
  }
}
