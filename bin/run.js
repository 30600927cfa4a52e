#!/usr/bin/env node
'use strict'
// CommonJS (bin/package.json): an ES module as the entry point sets up Node's ES module loader before the first line
// runs, some ms of every run (issue 22: start-up). The ES modules under dist/ are loaded with import() where needed.

const {readFileSync} = require('node:fs')
const {join} = require('node:path')

const root = join(__dirname, '..')
const ids = commandIds()
const args = process.argv.slice(2)
// `moat-system clean-temp` is `moat-system system clean-temp`: the topic is optional for our own commands.
if (ids.includes(`system:${args[0]}`)) args.unshift('system')

main().catch((error) => {
  // Both paths report their own errors (oclif's handler); this is what escaped them.
  process.exitCode = 1
  throw error
})

async function main() {
  // moat-system's own commands run from one bundled file (dist/moat.cjs, see src/lib/cli/bundled.ts): Node then reads
  // one file instead of some 300, compiled from V8's code cache (scripts/bundle-loader.js). Everything else (help,
  // --version, completion, a mistyped command) takes oclif's normal path, with its plugins.
  if (ownCommand(args)) {
    const {pathToFileURL} = require('node:url')
    await require('../dist/moat.cjs').runBundled(args, pathToFileURL(`${root}/`))
    return
  }

  // Node 22.1+ keeps the compiled code of oclif and its plugins between runs, in moat-system's cache directory.
  const {enableCompileCache} = await import('../dist/lib/cli/code-cache.js')
  enableCompileCache()
  const {execute} = await import('@oclif/core')
  // The package's root, not this file: oclif looks for the root's package.json upwards from `dir`, and the first it
  // would meet from here is bin/package.json.
  await execute({args, dir: root})
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
    return JSON.parse(readFileSync(join(root, 'dist', 'moat-commands.json'), 'utf8'))
  } catch {
    return [] // not built with the bundle (a development checkout mid-build): the normal path does the same work
  }
}
