import {BaseCommand} from '../../base-command.js'
import {targetSelectionFlags} from '../../lib/cli/flags.js'
import {buildTargets, chooseKinds, listKinds, TARGETS} from '../../lib/targets/index.js'

const byDefault = TARGETS.filter((spec) => spec.byDefault)

export default class Clean extends BaseCommand<typeof Clean> {
  static override description = `Runs every clean target in one plan with one confirmation, in dependency order: ${listKinds(byDefault.map((spec) => spec.title), ', then ')}, so a network freed by removing its dead run's containers goes in the same pass. Each target applies exactly the rules of its own command (see ${listKinds(byDefault.map((spec) => spec.command))}).

Every Docker engine moat may have used is asked, each once (see the README's Runtimes section). One that is there but does not answer is named in the notes and its objects are neither judged nor removed; the others are cleaned. When no runtime answers at all, every engine target is skipped and named in the notes; temp dirs are still cleaned (those a container of an unanswering engine may mount are kept).

Exit codes: 0 done or nothing to do (also dry run and "Canceled."), 1 unexpected error, 2 usage error, or no terminal to confirm on (or --json) without --force/--dry-run, 3 partial: some removals failed in any target, or the pass was refused by --max-delete, or some are unknown (sent, never confirmed or denied: the next pass finds out), or an engine that is there did not answer while others did; 130 Ctrl-C at the [y/N] prompt (nothing removed); 128+signal when stopped by SIGHUP (129), SIGINT (130), SIGQUIT (131) or SIGTERM (143): nothing new is removed, the removals under way finish and are reported (a second signal exits at once).`
  static override examples = [
    {command: '<%= config.bin %> <%= command.id %> --dry-run', description: 'See everything that would be removed.'},
    {command: '<%= config.bin %> <%= command.id %> --force --json', description: 'Unattended (cron), one JSON document.'},
    {command: '<%= config.bin %> <%= command.id %> --only networks,temp', description: 'Only some targets.'},
    {command: '<%= config.bin %> <%= command.id %> --skip temp --max-delete 50', description: 'Engine targets only, at most 50 removals.'},
  ]
  static override flags = targetSelectionFlags
  static override multiTarget = true
  static override summary = 'Remove everything crashed moat runs left behind, in one pass.'

  async run(): Promise<Record<string, unknown>> {
    const {include, only, skip, 'tmp-dir': tmpDirs} = this.flags
    return this.clean(await buildTargets(chooseKinds(only, skip, include), {...this.targetOptions(), tmpDirs, warn: (message) => this.note(message)}))
  }
}
