import * as Flags from '@oclif/core/flags'

import {BaseCommand} from '../../base-command.js'
import {durationFlag, usageError} from '../../lib/cli/flags.js'
import {buildTarget} from '../../lib/targets/index.js'

export default class CleanState extends BaseCommand<typeof CleanState> {
  static override description = `Cleans moat's own leftovers in $MOAT_HOME, each listed with its decision and reason:

- sockets/<run-id>/ of ended runs (moat removes the SSH agent socket but never its directory): only when the run has ended (no run dir, not listed by the moat daemon), no unix socket inside it is listening (Linux /proc/net/unix), it holds no subdirectory, and nothing in it changed for --min-age; deleted through the same quarantine and checks as temp dirs.
- proxy/.runs-*.json.tmp and proxy/routes-*.json.tmp older than --min-age that no process holds open: what a daemon that crashed during an atomic write leaves.
- Daemon registrations that never got a container, older than --min-age, whose run dir is gone or unchanged for --min-age: they keep the daemon from ever going idle. They are removed only through the daemon's own API (DELETE /v1/runs/<token>, the token read from runs.json, which is never printed or logged), never by editing runs.json; one whose run used serial devices frees their claims.
- With --include-run-dirs: run dirs without metadata.json (a crash inside moat run's create; they keep their networks and volumes "alive" forever) unchanged for --run-dir-grace (default 24h), whose run has no container, network or volume on any runtime and that the daemon does not list. They are moved into $MOAT_HOME/reaped/<run-id>-<UTC time>/ so their logs survive (reported as moved: a move frees no space), or deleted with --purge-run-dirs. reaped/ must be a real directory of yours: a symlink there keeps them all. When a runtime cannot be asked, every such dir is kept.
- Leaked moat _daemon processes that daemon.lock does not name: reported, never stopped.

Exit codes: 0 done or nothing to do (also dry run and "Canceled."), 1 unexpected error, 2 usage error, or no terminal to confirm on (or --json) without --force/--dry-run, 3 some removals failed, or some are unknown (sent, never confirmed or denied: the next pass finds out); 130 Ctrl-C at the [y/N] prompt (nothing removed); 128+signal when stopped by SIGHUP (129), SIGINT (130), SIGQUIT (131) or SIGTERM (143): nothing new is removed, the removals under way finish and are reported (a second signal exits at once).`
  static override examples = [
    {command: '<%= config.bin %> <%= command.id %> --dry-run', description: 'See what would be cleaned.'},
    {command: '<%= config.bin %> <%= command.id %> --force --json', description: 'Unattended, as JSON.'},
    {command: '<%= config.bin %> <%= command.id %> --include-run-dirs --dry-run', description: 'Also look at run dirs moat crashed while creating.'},
  ]
  static override flags = {
    'include-run-dirs': Flags.boolean({
      default: false,
      description: 'Also move run dirs without metadata.json, unchanged for --run-dir-grace, into $MOAT_HOME/reaped/.',
    }),
    'purge-run-dirs': Flags.boolean({
      default: false,
      description: 'Delete those run dirs instead of moving them (their logs are lost).',
    }),
    'run-dir-grace': durationFlag({
      default: '24h',
      description: 'How long a run dir without metadata.json must be unchanged before it counts as crashed (24h, 3d, 1w).',
      examples: '24h, 3d or 1w',
    }),
  }
  static override summary = "Clean moat's own leftovers: socket dirs, daemon temp files and registrations, crashed run dirs."

  async run(): Promise<Record<string, unknown>> {
    const {flags} = this
    if (flags['purge-run-dirs'] && !flags['include-run-dirs']) {
      throw usageError('--purge-run-dirs only goes with --include-run-dirs, e.g. --include-run-dirs --purge-run-dirs')
    }

    const runDirs = flags['include-run-dirs'] ? {graceMs: flags['run-dir-grace'].ms, purge: flags['purge-run-dirs']} : undefined
    return this.clean([await buildTarget('state', {...this.targetOptions(), runDirs})])
  }
}
