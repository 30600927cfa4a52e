import * as Args from '@oclif/core/args'
import {Command} from '@oclif/core/command'

import {SHELLS} from '../../lib/cli/completion.js'

export default class AutocompleteScript extends Command {
  static override args = {
    shell: Args.string({description: 'bash, zsh or fish.', options: [...SHELLS], required: true}),
  }
  static override description = 'Prints the line for the shell\'s start-up file that loads the cached completion script, and writes that script.'
  static override hidden = true

  async run(): Promise<void> {
    const {args} = await this.parse(AutocompleteScript)
    const {completionModel, setupLine, writeCompletionCache} = await import('../../lib/cli/completion.js')
    const shell = args.shell as (typeof SHELLS)[number]
    // Written here too, so the one line the README gives works without running `autocomplete` first.
    const paths = writeCompletionCache(this.config.cacheDir, this.config.bin, completionModel(this.config.commands, this.config.bin))
    this.log(`\n${setupLine(shell, this.config.bin, paths[shell])}`)
  }
}
