// Builds dist/moat.js: moat-system's commands (as listed in oclif.manifest.json, so no second list to keep) and
// @oclif/core in one ES module, for bin/run.js's fast path (src/lib/cli/bundled.ts). Modules loaded only on demand
// (execa, prompts, fast-glob) stay in chunks of their own under dist/chunks/, read only when a command needs them.
import {build} from 'esbuild'
import {readFileSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const manifest = JSON.parse(readFileSync(join(root, 'oclif.manifest.json'), 'utf8'))
const commands = Object.entries(manifest.commands)
const entry = [
  ...commands.map(([, command], i) => `import C${i} from './${command.relativePath.join('/')}'`),
  `export const COMMANDS = {${commands.map(([id], i) => `${JSON.stringify(id)}: C${i}`).join(', ')}}`,
  `export {runBundled} from './dist/lib/cli/bundled.js'`,
].join('\n')

const result = await build({
  // CommonJS dependencies bundled into an ES module still call require() for Node's built-ins.
  banner: {js: "import {createRequire as __moatCreateRequire} from 'node:module'; const require = __moatCreateRequire(import.meta.url);"},
  bundle: true,
  chunkNames: 'chunks/[name]-[hash]',
  entryNames: 'moat',
  // Loaded by @oclif/core only to run TypeScript sources in development; never on this path.
  external: ['typescript', 'ts-node'],
  format: 'esm',
  // Class names are what oclif and our error messages print.
  keepNames: true,
  legalComments: 'none',
  logLevel: 'warning',
  metafile: true,
  minify: true,
  outdir: join(root, 'dist'),
  platform: 'node',
  splitting: true,
  stdin: {contents: entry, loader: 'js', resolveDir: root, sourcefile: 'moat-entry.js'},
  target: 'node20',
})

// bin/run.js reads this list to choose the bundle without loading it.
writeFileSync(join(root, 'dist', 'moat-commands.json'), JSON.stringify(commands.map(([id]) => id)) + '\n')

// Which sources each output file holds, for the tests that prove what a command loads (test/helpers/cli.ts).
const holds = Object.fromEntries(
  Object.entries(result.metafile.outputs).map(([output, {inputs}]) => [output, Object.keys(inputs).filter((input) => !input.startsWith('<'))]),
)
writeFileSync(join(root, 'dist', 'moat-bundle.json'), JSON.stringify(holds) + '\n')
