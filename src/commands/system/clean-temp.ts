import {Flags} from '@oclif/core'

import {BaseCommand} from '../../base-command.js'
import {buildTarget} from '../../lib/targets/index.js'

export default class CleanTemp extends BaseCommand<typeof CleanTemp> {
  static override description = `Scans $TMPDIR and /tmp (or each --tmp-dir) for every temp-dir pattern moat creates (moat-aws-*, moat-claude-*, moat-codex-staging-*, moat-gemini-staging-*, moat-copilot-staging-*, moat-pi-staging-*, moat-npm-*, moat-build-*, moat-marketplace-*, moat-vol-snap-*, moat-doctor-*, moat-doctor-proxy-*, legacy agentops-aws-* and moat-claude-staging-*).

A directory is removed only when it is a real directory (not a symlink, file or mount point) owned by you, everything in it is older than --min-age, no live process has it as working directory or holds a file open inside it, and no running Docker container bind-mounts it. Each one is checked again right before deletion, moved into a private quarantine directory, and deleted there without following symlinks.

Exit codes: 0 done or nothing to do (also dry run and "Canceled."), 1 unexpected error, 2 usage error or no terminal to confirm on without --force/--dry-run, 3 some deletions failed (the next run finishes them).`
  static override examples = [
    {command: '<%= config.bin %> <%= command.id %> --dry-run', description: 'See what would be removed.'},
    {command: '<%= config.bin %> <%= command.id %>', description: 'Remove after a [y/N] confirmation.'},
    {command: '<%= config.bin %> <%= command.id %> --force --json --min-age 24h', description: 'Unattended, as JSON.'},
    {command: '<%= config.bin %> <%= command.id %> --dry-run --tmp-dir /var/tmp', description: 'Scan another directory.'},
  ]
  static override flags = {
    'tmp-dir': Flags.string({
      description: 'Directory to scan instead of $TMPDIR and /tmp; repeat for several.',
      multiple: true,
    }),
  }
  static override summary = 'Remove temp directories that crashed moat runs left behind.'

  async run(): Promise<Record<string, unknown>> {
    return this.clean([await buildTarget('temp', {...this.targetOptions(), tmpDirs: this.flags['tmp-dir']})])
  }
}
