// An unknown command (`moat-system system clena`): oclif runs this hook instead of a command, so BaseCommand.catch
// never sees it. Our own hook rather than @oclif/plugin-not-found's: that one warns, then fails with a boxed error and
// exit 127, never in JSON, suggests nothing without a terminal and, on one, offers to run its guess (a deleting
// command, with the user's flags). This one gives the project's usage error: one line, exit 2, the JSON error under
// --json.
import {type Hook, toConfiguredId} from '@oclif/core'

import {closest, DOCKER_COMMANDS} from '../lib/cli/suggest.js'
import {EXIT} from '../lib/exit-codes.js'

const hook: Hook.CommandNotFound = async function ({argv = [], config, id}) {
  // Topics too: `moat-system sytem` finds `system`.
  const ids = [
    ...config.commands.filter((command) => !command.hidden).flatMap((command) => [command.id, ...command.aliases]),
    ...config.topics.filter((topic) => !topic.hidden).map((topic) => topic.name),
  ]
  // `moat-system clena` finds `system clean`: a command is also compared without its topic, and suggested without
  // it when it was typed without it (bin/run.js runs `moat-system clean` as `moat-system system clean`).
  // What docker users type first (`prune`, `system df`): the command that does it here, however far the words are.
  const docker = DOCKER_COMMANDS[id]
  const match = docker ?? closest(id, ids, (candidate) => candidate.split(':').at(-1)!)
  const given = toConfiguredId(id, config)
  const typedTopic = docker ? id.startsWith('system:') : id.includes(':')
  const suggested = match?.startsWith('system:') && !typedTopic ? match.slice('system:'.length) : match
  const suggestion = suggested && `${config.bin} ${toConfiguredId(suggested, config)}`
  const message = `"${given}" is not a ${config.bin} command. ${suggestion ? `Did you mean "${suggestion}"? ` : ''}See ${config.bin} --help for the list.`
  const flags = argv.slice(0, argv.includes('--') ? argv.indexOf('--') : undefined)
  if (flags.includes('--json') || config.scopedEnvVar('CONTENT_TYPE') === 'json') {
    // The shape of BaseCommand.toErrorJson.
    const error = {code: 'USAGE', exitCode: EXIT.usage, message, name: 'CommandNotFoundError', ...(suggestion ? {suggestions: [suggestion]} : {})}
    process.stdout.write(JSON.stringify({error}, null, 2) + '\n')
  } else {
    process.stderr.write(`Error: ${message}\n`)
  }

  // Exits 2 without oclif printing anything more.
  this.exit(EXIT.usage)
}

export default hook
