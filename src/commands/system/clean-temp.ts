import * as Flags from '@oclif/core/flags'

import {BaseCommand} from '../../base-command.js'
import {buildTarget} from '../../lib/targets/index.js'

export default class CleanTemp extends BaseCommand<typeof CleanTemp> {
  static override description = `Scans $TMPDIR and /tmp (or each --tmp-dir) for every temp-dir pattern moat creates (moat-aws-*, moat-claude-*, moat-codex-staging-*, moat-gemini-staging-*, moat-copilot-staging-*, moat-pi-staging-*, moat-npm-*, moat-build-*, moat-marketplace-*, moat-vol-snap-*, moat-doctor-*, moat-doctor-proxy-*, moat-codex-login-*, moat-kiro-staging-*, moat-init-gate<digits>, legacy agentops-aws-*, moat-claude-staging-* and moat-gh-config-*; never the bare claude-* or codex-*).

A directory is removed only when it is a real directory (not a symlink, file or mount point, holding no mount point) owned by you, whose whole tree is older than --min-age and can be emptied by you, that no live process uses (working directory, root, executable, mapped file or open file; for moat-codex-login-* also a CODEX_HOME pointing at it) and no running container mounts, on any engine of the set (every Docker engine moat may have used: DOCKER_HOST, the sockets moat looks at, the docker context, the run dirs' docker_host) or Apple container. An engine that is there but cannot be asked keeps every candidate, naming it; so does --runtime docker or apple that finds none here. Only --runtime auto on a host with no runtime at all decides on age and process use alone. Each one is re-verified in place, moved into a private quarantine, checked again there on fresh facts (mounts, processes, containers) and put back if anything uses it, then deleted without following symlinks or entering mount points. See the README's safety section for what is checked when.

Exit codes: 0 done or nothing to do (also dry run and "Canceled."), 1 unexpected error, 2 usage error, or no terminal to confirm on (or --json) without --force/--dry-run, 3 some deletions failed (each says why and whether the next run can finish it), or some are unknown (sent, never confirmed or denied: the next pass finds out); 130 Ctrl-C at the [y/N] prompt (nothing removed); 128+signal when stopped by SIGHUP (129), SIGINT (130), SIGQUIT (131) or SIGTERM (143): nothing new is removed, the removals under way finish and are reported (a second signal exits at once).`
  static override examples = [
    {command: '<%= config.bin %> <%= command.id %> --dry-run', description: 'See what would be removed.'},
    {command: '<%= config.bin %> <%= command.id %>', description: 'Remove after a [y/N] confirmation.'},
    {command: '<%= config.bin %> <%= command.id %> --force --json --min-age 24h', description: 'Unattended, as JSON.'},
    {command: '<%= config.bin %> <%= command.id %> --dry-run --tmp-dir /var/tmp', description: 'Scan another directory.'},
    {
      command: "<%= config.bin %> <%= command.id %> --dry-run --tmp-dir '/var/folders/*/*/T'",
      description: 'Every directory a quoted glob matches (macOS per-user temp dirs); dirs of other users in them are still kept.',
    },
  ]
  static override flags = {
    'tmp-dir': Flags.string({
      description: "Directory to scan instead of $TMPDIR and /tmp; repeat for several. A quoted glob ('/var/folders/*/*/T') scans every directory it matches.",
      multiple: true,
    }),
  }
  static override summary = 'Remove temp directories that crashed moat runs left behind.'

  async run(): Promise<Record<string, unknown>> {
    return this.clean([await buildTarget('temp', {...this.targetOptions(), tmpDirs: this.flags['tmp-dir']})])
  }
}
