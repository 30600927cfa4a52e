import * as Args from '@oclif/core/args'
import {Command} from '@oclif/core/command'
import * as Flags from '@oclif/core/flags'

import {type Shell, SHELLS} from '../../lib/cli/completion.js'

export default class Autocomplete extends Command {
  static override args = {
    shell: Args.string({description: 'bash, zsh or fish (default: the shell $SHELL names, else bash).', options: [...SHELLS], required: false}),
  }
  static override description = `Prints how to set up completion for bash, zsh or fish: command names (with the system topic or without it), each command's flags with their help, and flag values: --runtime and --log-format options, target names for --only, --skip and --include (comma-separated), the --filter keys, directories and files.

The scripts are made from the installed commands and cached under the cache directory (~/.cache/moat-system, or $XDG_CACHE_HOME/moat-system); the line you add to your shell's start-up file loads the cached one. After an upgrade, --refresh-cache rewrites them. Completion is set up for moat-system alone: moat's own completion of \`moat\` stays as it is.`
  static override examples = [
    {command: '<%= config.bin %> <%= command.id %>', description: 'How to set it up for your shell.'},
    {command: '<%= config.bin %> <%= command.id %> fish', description: 'For fish.'},
    {command: '<%= config.bin %> <%= command.id %> --refresh-cache', description: 'After an upgrade: the scripts again, for the new commands and flags.'},
  ]
  static override flags = {
    'refresh-cache': Flags.boolean({char: 'r', default: false, description: 'Rewrite the cached scripts and print nothing.'}),
  }
  static override summary = 'Set up shell completion for bash, zsh or fish.'

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Autocomplete)
    const {completionModel, writeCompletionCache} = await import('../../lib/cli/completion.js')
    const paths = writeCompletionCache(this.config.cacheDir, this.config.bin, completionModel(this.config.commands, this.config.bin))
    if (flags['refresh-cache']) return
    const shell = (args.shell ?? (SHELLS.includes(this.config.shell as Shell) ? this.config.shell : 'bash')) as Shell
    const script = `${this.config.bin} autocomplete script ${shell}`
    const file = {bash: '~/.bashrc', fish: '~/.config/fish/config.fish', zsh: '~/.zshrc'}[shell]
    const add = shell === 'fish' ? `${script} >> ${file}; source ${file}` : `printf "$(${script})" >> ${file}; source ${file}`
    this.log(
      [
        `Completion for ${shell}: add the line that loads it to ${file}, once:`,
        '',
        `  ${add}`,
        '',
        `Then ${this.config.bin} <TAB> completes commands, ${this.config.bin} clean --<TAB> flags, and --runtime, --only, --skip, --include`,
        `and --filter their values. The script is ${paths[shell]}; after an upgrade, ${this.config.bin} autocomplete --refresh-cache.`,
      ].join('\n'),
    )
  }
}
