// The published CLI's fast path (issue 13: start-up). scripts/bundle.js folds dist/ and @oclif/core into one script,
// dist/moat-<hash>.cjs, whose COMMANDS are moat-system's own commands; bin/run.js loads it (through dist/moat.cjs, with
// V8's code cache) for those commands only, so Node reads one file instead of some 300 and compiles next to nothing. Help, version, completion and mistyped commands keep oclif's normal path, where
// the plugins live: a bundled @oclif/core never meets the plugins' own copy in one process.
import type {Command} from '@oclif/core/command'
import type {Theme} from '@oclif/core/interfaces'

import {Config, Plugin} from '@oclif/core/config'
import {handle} from '@oclif/core/errors'
import {flush} from '@oclif/core/flush'
import {settings} from '@oclif/core/settings'
import {readFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'

import {streamExists} from './stdio.js'

/** oclif's loadTheme, for a run that never shows help: no theme. */
const noTheme = async (): Promise<Theme | undefined> => undefined

/** The command of this run, where oclif looks for it (the root plugin's `identifier` in `target`): see runBundled. */
export const COMMAND: Record<string, Command.Class> = {}

/**
 * Runs `[topic, name, ...argv]`, one of moat-system's `commands`, the way oclif's `execute` does once it has found the
 * command (the init hook, `runCommand` with its prerun and postrun hooks, the finally hook, then flush or oclif's
 * error handler), with the root plugin told to take its commands from the bundle itself (`target`, the script's path
 * from the root: already loaded, and in require's cache) and no plugins loaded: none of them has a hook that could
 * fire for a command that was found, and moat-system ships no way to install user plugins (no plugin-plugins), so
 * neither user nor dev plugins are looked for. The root plugin is given this one command (COMMAND) and builds its
 * manifest from it instead of reading oclif.manifest.json: with one command there is nothing to sort, and oclif sorts
 * commands with localeCompare, whose first call sets up ICU's collation (some 8 ms, a tenth of a run).
 */
export async function runBundled(
  commands: Record<string, () => Promise<{default: Command.Class}>>,
  args: string[],
  root: URL,
  target: string,
): Promise<void> {
  // The bundle is the compiled code: never look for TypeScript sources to run instead (oclif would, and warn, when
  // NODE_ENV is "test" or "development").
  settings.enableAutoTranspile = false
  try {
    const [topic, name, ...argv] = args
    const id = `${topic}:${name}`
    if (Object.hasOwn(commands, id)) COMMAND[id] = (await commands[id]!()).default
    const pjson = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'))
    pjson.oclif = {...pjson.oclif, commands: {identifier: 'COMMAND', strategy: 'explicit', target}, plugins: []}
    const rootPlugin = new Plugin({ignoreManifest: true, isRoot: true, pjson, root: fileURLToPath(root)})
    await rootPlugin.load()
    const config = new Config({
      devPlugins: false,
      jitPlugins: false,
      pjson,
      plugins: new Map([[rootPlugin.name, rootPlugin]]),
      root: rootPlugin.root,
      userPlugins: false,
    })
    // A user's theme (~/.config/moat/theme.json) colours only help, which never runs from the bundle; reading it
    // (through fs/promises) is some ms of every run.
    config.loadTheme = noTheme
    await config.load()
    await config.runHook('init', {argv, id})
    const command = config.findCommand(id, {must: true})
    let failure: Error | undefined
    try {
      // config.runCommand's steps, but the command gets this config: runCommand hands it to the command's static run,
      // whose Config.load builds and loads a second Config from it (the plugins, the platform, the shell, the user's
      // theme through fs/promises: a few ms of every run).
      const Loaded = await command.load()
      await config.runHook('prerun', {argv, Command: Loaded})
      const Runnable = Loaded as unknown as new (argv: string[], config: Config) => {_run(): Promise<unknown>}
      const result = await new Runnable(argv, config)._run()
      await config.runHook('postrun', {argv, Command: Loaded, result})
    } catch (error) {
      failure = error as Error
      throw error
    } finally {
      await config.runHook('finally', {argv, Command: command, error: failure, id})
    }

    // oclif's flush waits for stdout's stream to drain; our own output never made one (src/lib/cli/stdio.ts).
    if (streamExists(1)) await flush()
  } catch (error) {
    await handle(error as Error)
  }
}
