import * as Flags from '@oclif/core/flags'
import {join, resolve} from 'node:path'

import {BaseCommand} from '../../base-command.js'
import {usageError} from '../../lib/cli/flags.js'
import {buildTarget} from '../../lib/targets/index.js'

export default class CleanVolumes extends BaseCommand<typeof CleanVolumes> {
  static override description = `Lists moat's workspace volumes (Docker only): named moat-ws-<run-id> AND labelled moat=workspace. The unlabelled persistent agent volumes moat_<agent>_<vol>, and anything without both the name and the label, are never touched. moat does not use volumes on Apple container; the command says so.

A workspace volume is the only copy of its agent's work. One is removed only when its run has ended (no $MOAT_HOME/runs/<run-id>/ directory and the moat daemon does not list the run), it was created longer than --min-age ago by the engine's clock, and no container uses it, running or stopped. A volume whose run dir still exists is always kept; for a stopped volume-mode run the reason says whether it has an extraction snapshot (moat destroy's rule).

Before the removal each volume is backed up to --backup-dir (default $MOAT_HOME/backups/volumes) as <volume>-<UTC time>.tar.gz (0600), through the engine the volume lives on: a helper container, created there and never started, gets the volume's directory bind-mounted read-only (so a volume that is gone is an error, never a new empty one), and its tar is streamed out. The archive is counted as the engine sends it, synced, read back and counted again (entries and bytes), and compared with the volume's own files where they are readable on this host. Volumes are done one at a time: each is checked again and removed before the next backup starts, by name and without force (the engine itself refuses one a container uses), and only when the engine's event log shows no container mounting it since its backup began; any mount, or any doubt, keeps it with the backup on disk. A failed or partial backup keeps the volume (exit 3) and leaves no partial file. Volumes of other drivers, local ones with mount options, and podman's (whose event log records no mounts) are kept. The helper's image (moat-system/volume-backup:1, one empty directory, no program) is imported by this command when missing: nothing is pulled. --no-backup removes without a backup, only when given.

clean and reap never touch volumes unless asked with --include volumes.

Exit codes: 0 done or nothing to do (also dry run and "Canceled."), 1 unexpected error or no engine of the runtime answered (nothing is removed), 2 usage error, or no terminal to confirm on (or --json) without --force/--dry-run, 3 partial: some backups or removals failed, or some are unknown (sent, never confirmed or denied: the next pass finds out), or an engine that is there did not answer (its volumes are neither judged nor removed; the others are); 130 Ctrl-C at the [y/N] prompt (nothing removed); 128+signal when stopped by SIGHUP (129), SIGINT (130), SIGQUIT (131) or SIGTERM (143): nothing new is removed, the removals under way finish and are reported (a second signal exits at once).`
  static override examples = [
    {command: '<%= config.bin %> <%= command.id %> --dry-run', description: 'See which volumes would be backed up and removed.'},
    {command: '<%= config.bin %> <%= command.id %>', description: 'Back up, then remove after a [y/N] confirmation.'},
    {command: '<%= config.bin %> <%= command.id %> --force --backup-dir /srv/backups --min-age 168h', description: 'Unattended, week-old volumes, backups elsewhere.'},
    {command: '<%= config.bin %> <%= command.id %> --force --no-backup', description: 'Remove without a backup (the work in them is lost).'},
  ]
  static override flags = {
    backup: Flags.boolean({
      allowNo: true,
      default: true,
      description: 'Back up each volume before removing it; --no-backup removes without one.',
    }),
    'backup-dir': Flags.string({
      description: 'Directory for the backups [default: $MOAT_HOME/backups/volumes].',
    }),
  }
  static override summary = 'Back up, then remove workspace volumes of ended moat runs.'

  async run(): Promise<Record<string, unknown>> {
    const {flags} = this
    if (flags['backup-dir'] === '') throw usageError('--backup-dir: empty; give a directory, e.g. --backup-dir ~/moat-backups')
    if (!flags.backup && flags['backup-dir'] !== undefined) {
      throw usageError('--backup-dir and --no-backup contradict each other; give one, e.g. --backup-dir ~/moat-backups')
    }

    const backupDir = flags['backup-dir'] ? resolve(flags['backup-dir']) : join(this.moatHome, 'backups', 'volumes')
    return this.clean([await buildTarget('volumes', {...this.targetOptions(), backupDir: flags.backup ? backupDir : false})])
  }
}
