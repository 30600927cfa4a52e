#!/usr/bin/env node

import {readFileSync} from 'node:fs'
import module from 'node:module'

// Node 22.1+ caches compiled code between runs; a no-op on Node 20.
// eslint-disable-next-line n/no-unsupported-features/node-builtins -- optional: absent on Node 20
module.enableCompileCache?.()

const ids = commandIds()
const args = process.argv.slice(2)
// `moat-system clean-temp` is `moat-system system clean-temp`: the topic is optional for our own commands.
if (ids.includes(`system:${args[0]}`)) args.unshift('system')

// moat-system's own commands run from one bundled file (dist/moat.js, see src/lib/cli/bundled.ts): Node then reads
// one file instead of some 300. Everything else (help, --version, completion, a mistyped command) takes oclif's
// normal path, with its plugins.
if (ownCommand(args)) {
  const {runBundled} = await import('../dist/moat.js')
  await runBundled(args, new URL('..', import.meta.url))
} else {
  const {execute} = await import('@oclif/core')
  await execute({args, dir: import.meta.url})
}

/**
 * `system clean-temp --dry-run`: one of the bundle's commands (listed by scripts/bundle.js), followed by flags only
 * (oclif would read a further word as part of the command's name) and no help flag before `--`.
 */
function ownCommand(argv) {
  const [topic, name, ...rest] = argv
  if (rest.length > 0 && !rest[0].startsWith('-')) return false
  if (!ids.includes(`${topic}:${name}`)) return false
  const end = rest.indexOf('--')
  return !(end === -1 ? rest : rest.slice(0, end)).some((arg) => arg === '--help' || arg === '-h')
}

/** The bundle's command IDs (`system:clean-temp`, ...), listed by scripts/bundle.js; none before a build. */
function commandIds() {
  try {
    return JSON.parse(readFileSync(new URL('../dist/moat-commands.json', import.meta.url), 'utf8'))
  } catch {
    return [] // not built with the bundle (a development checkout mid-build): the normal path does the same work
  }
}
