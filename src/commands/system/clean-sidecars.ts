import {BaseCommand} from '../../base-command.js'
import {buildTarget} from '../../lib/targets/index.js'

export default class CleanSidecars extends BaseCommand<typeof CleanSidecars> {
  static override description = `Lists the BuildKit sidecars and service containers moat starts beside a run: on Docker the containers labelled moat.run-id=<run-id> and moat.role=buildkit-sidecar or service (moat-buildkit-<run-id>, moat-<service>-<run-id>), on Apple container those named moat-<service>-<run-id>. Anything without a valid run ID, a Docker container merely named like one, and Apple's own buildkit builder are never touched.

One is removed when its run has ended (no $MOAT_HOME/runs/<run-id>/ directory and the moat daemon does not list the run), or when the run's metadata.json says stopped or failed and the run's own container is not running; and when it exited (or, never started, was created) longer than --min-age ago by the engine's clock. A running one is stopped first, with a short timeout (a BuildKit sidecar runs privileged). Each one is checked again right before the stop and right before the removal (same ID, name and labels, still running or still stopped, its run still ended) and removed by ID without force.

Every Docker engine moat may have used is checked, each once (see the README's Runtimes section): DOCKER_HOST, the sockets moat looks at, the docker CLI's context and every run dir's docker_host; with --runtime auto (the default) also Apple container when its CLI is present. One that is there but does not answer is skipped with a note naming it and where its address came from; none of its containers is judged, and the others are cleaned.

Exit codes: 0 done or nothing to do (also dry run and "Canceled."), 1 unexpected error or no engine of the runtime answered (nothing is removed), 2 usage error, or no terminal to confirm on (or --json) without --force/--dry-run, 3 partial: some removals failed, or some are unknown (sent, never confirmed or denied: the next pass finds out), or an engine that is there did not answer (its objects are neither judged nor removed; the others are); 130 Ctrl-C at the [y/N] prompt (nothing removed); 128+signal when stopped by SIGHUP (129), SIGINT (130), SIGQUIT (131) or SIGTERM (143): nothing new is removed, the removals under way finish and are reported (a second signal exits at once).`
  static override examples = [
    {command: '<%= config.bin %> <%= command.id %> --dry-run', description: 'See what would be stopped and removed.'},
    {command: '<%= config.bin %> <%= command.id %>', description: 'Remove after a [y/N] confirmation.'},
    {command: '<%= config.bin %> <%= command.id %> --force --json', description: 'Unattended (cron, systemd timer), as JSON.'},
    {command: '<%= config.bin %> <%= command.id %> --dry-run --runtime docker --min-age 24h', description: 'Only Docker, only containers idle for a day.'},
  ]
  static override summary = 'Remove BuildKit sidecars and service containers of ended moat runs.'

  async run(): Promise<Record<string, unknown>> {
    return this.clean([await buildTarget('sidecars', this.targetOptions())])
  }
}
