// Builds bin/run.js's fast path (src/lib/cli/bundled.ts): moat-system's commands (as listed in oclif.manifest.json,
// so no second list to keep) and @oclif/core in one classic script, dist/moat-<hash>.cjs, that dist/moat.cjs
// (scripts/bundle-loader.js) compiles with V8's code cache, kept per Node version in the user's cache directory: Node
// 20 caches no ES module's code, and a cache made here would fit only the builder's Node, so the first run on each
// Node makes its own. Packages loaded only on demand (execa, fast-glob)
// stay ES modules of their own under dist/chunks/, read only when a command needs them.
import {parse} from 'acorn'
import {build} from 'esbuild'
import {readFileSync, writeFileSync} from 'node:fs'
import {basename, dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const dist = join(root, 'dist')
const manifest = JSON.parse(readFileSync(join(root, 'oclif.manifest.json'), 'utf8'))
const commands = Object.entries(manifest.commands)
// Each command is imported when it runs (import() of a bundled module: esbuild initializes its modules then), so a
// run sets up the code of its own command only.
const entry = [
  `export const COMMANDS = {${commands.map(([id, command]) => `${JSON.stringify(id)}: () => import('./${command.relativePath.join('/')}')`).join(', ')}}`,
  `export {COMMAND, runBundled} from './dist/lib/cli/bundled.js'`,
].join('\n')

const common = {
  bundle: true,
  // Class names are what oclif and our error messages print.
  keepNames: true,
  legalComments: 'none',
  logLevel: 'warning',
  metafile: true,
  minify: true,
  platform: 'node',
  target: 'node20',
}

// The packages a command imports only sometimes: one ES module each (and chunks they share) under dist/chunks/.
const LAZY = ['execa', 'fast-glob']
const lazy = await build({
  ...common,
  // CommonJS dependencies bundled into an ES module still call require() for Node's built-ins.
  banner: {js: "import {createRequire as __moatCreateRequire} from 'node:module'; const require = __moatCreateRequire(import.meta.url);"},
  chunkNames: 'chunk-[hash]',
  entryNames: '[name]-[hash]',
  entryPoints: Object.fromEntries(LAZY.map((name) => [name, name])),
  format: 'esm',
  outdir: join(dist, 'chunks'),
  splitting: true,
})
const lazyOutput = Object.fromEntries(
  Object.entries(lazy.metafile.outputs)
    .filter(([, output]) => output.entryPoint)
    .map(([output]) => [basename(output).replace(/-[A-Z\d]+\.js$/, ''), `./chunks/${basename(output)}`]),
)

// @oclif/core's modules (tsc's CommonJS) require one another as they load, so loading command.js sets up most of
// oclif: help, TypeScript paths, plugin discovery with its globbing, Node's readline and child_process. In the bundle
// each such `const x_1 = require("./x")` becomes a stand-in that loads the module on first use of what it exports, so
// a run sets up only the parts of oclif it uses.
const OCLIF_REQUIRE = /^const (\w+) = ((?:__importDefault\(|__importStar\()?require\("[^"]+"\)\)?);$/gm
// `keys`, when given, are the module's export names: listing them (as esbuild's import of named exports does) then
// loads nothing, and each is read from the module when used.
const LAZY_REQUIRE = `function __moatLazy(load, keys) {
  let loaded
  const real = () => (loaded ??= load())
  return new Proxy({}, {
    get: (_, key) => real()[key],
    getOwnPropertyDescriptor(_, key) {
      if (!loaded && keys?.includes(key)) return {configurable: true, enumerable: true, get: () => real()[key]}
      const descriptor = Reflect.getOwnPropertyDescriptor(real(), key)
      return descriptor && {...descriptor, configurable: true}
    },
    has: (_, key) => key in real(),
    ownKeys: () => (loaded || !keys ? Reflect.ownKeys(real()) : keys),
    set: (_, key, value) => Reflect.set(real(), key, value),
  })
}`

// oclif's command.js hangs its EPIPE handler on process.stdout as it loads, which makes Node's stdout stream (and, for
// a pipe, loads net): some ms of every run whose output never needs it (src/lib/cli/stdio.ts). In the bundle the
// handler goes on the stream when something makes it. The text is oclif's own: a new oclif that changed it fails the
// build here, not a run.
const STDOUT_EPIPE = `process.stdout.on('error', (err) => {
    if (err && err.code === 'EPIPE')
        return;
    throw err;
});`
const STDOUT_EPIPE_LATER = `require(${JSON.stringify(join(dist, 'lib', 'cli', 'stdio.js'))}).whenStream(1, (stdout) => stdout.on('error', (err) => {
    if (err && err.code === 'EPIPE')
        return;
    throw err;
}));`

/** oclif's lib/command.js with its EPIPE handler put off until stdout's stream is made (STDOUT_EPIPE). */
function commandWithLaterEpipe(text) {
  if (text.split(STDOUT_EPIPE).length !== 2) throw new Error("@oclif/core's command.js no longer has the EPIPE handler scripts/bundle.js moves")
  return text.replace(STDOUT_EPIPE, STDOUT_EPIPE_LATER)
}

// oclif logs through the debug package, which sets up Node's tty and stream modules as it loads; it prints only
// what $DEBUG names, read when it loads. Without $DEBUG the bundle gives oclif a debug that prints nothing.
const SILENT_DEBUG = `function silent(namespace) {
  const debug = () => {}
  return Object.assign(debug, {enabled: false, extend: (more, delimiter = ':') => silent(namespace + delimiter + more), log: debug, namespace})
}
module.exports = process.env.DEBUG ? require('debug') : silent`

// oclif asks wsl-utils only whether this is WSL (getPlatform); wsl-utils sets up child_process, fs/promises and
// PowerShell helpers as it loads. The answer is is-wsl's, which wsl-utils passes on: the bundle asks is-wsl itself.
const WSL_UTILS = `export {default as isWsl} from 'is-wsl'`

// is-wsl (asked by oclif's getPlatform on every run) and the packages it imports take the default export of node:fs,
// node:os and node:process: esbuild's interop for a CommonJS module copies every property onto a new object first
// (some 0.5 ms each). For them, the default of a built-in is the built-in itself. (A named import would fail the build.)
const WSL_PACKAGES = /[/\\]node_modules[/\\](is-wsl|is-inside-container|is-docker)[/\\]/

// Node modules that take some ms to set up (http brings net and stream, fs/promises brings readline and fs.watch) and
// that a run may not use: the engine targets reach for http only once they ask an engine. The bundle's require() of them gives a stand-in too.
const LAZY_BUILTINS = ['node:child_process', 'node:fs/promises', 'node:http', 'node:readline', 'node:timers/promises']

const main = await build({
  ...common,
  banner: {js: LAZY_REQUIRE},
  define: {'import.meta.url': '__moatImportMetaUrl'},
  entryNames: 'moat-[hash]',
  // Loaded by @oclif/core only to run TypeScript sources in development; never on this path.
  external: ['typescript', 'ts-node'],
  format: 'cjs',
  outdir: dist,
  outExtension: {'.js': '.cjs'},
  plugins: [
    {
      name: 'lazy-oclif',
      setup(esbuild) {
        esbuild.onLoad({filter: /[/\\]@oclif[/\\]core[/\\]lib[/\\].*\.js$/}, ({path}) => {
          const text = readFileSync(path, 'utf8').replaceAll(OCLIF_REQUIRE, 'const $1 = __moatLazy(() => $2);')
          return {contents: /[/\\]lib[/\\]command\.js$/.test(path) ? commandWithLaterEpipe(text) : text, loader: 'js'}
        })
        esbuild.onResolve({filter: /^debug$/}, ({importer, resolveDir}) =>
          /[/\\]@oclif[/\\]core[/\\]/.test(importer) ? {namespace: 'silent-debug', path: 'debug', pluginData: resolveDir} : undefined,
        )
        esbuild.onLoad({filter: /.*/, namespace: 'silent-debug'}, ({pluginData}) => ({contents: SILENT_DEBUG, loader: 'js', resolveDir: pluginData}))
        esbuild.onResolve({filter: /^wsl-utils$/}, async ({importer, kind, resolveDir}) => {
          if (!/[/\\]@oclif[/\\]core[/\\]/.test(importer)) return
          const real = await esbuild.resolve('wsl-utils', {kind, resolveDir})
          return {namespace: 'is-wsl', path: 'wsl-utils', pluginData: dirname(real.path)}
        })
        esbuild.onLoad({filter: /.*/, namespace: 'is-wsl'}, ({pluginData}) => ({contents: WSL_UTILS, loader: 'js', resolveDir: pluginData}))
        esbuild.onResolve({filter: /^node:(fs|os|process)$/}, ({importer, path}) =>
          WSL_PACKAGES.test(importer) ? {namespace: 'builtin-default', path} : undefined,
        )
        esbuild.onLoad({filter: /.*/, namespace: 'builtin-default'}, ({path}) => ({contents: `export default require(${JSON.stringify(path)})`, loader: 'js'}))
        const lazyBuiltin = new RegExp(`^(${LAZY_BUILTINS.join('|')})$`)
        esbuild.onResolve({filter: lazyBuiltin}, ({importer, namespace, path}) =>
          namespace === 'lazy-builtin' && importer === path ? {external: true, path} : {namespace: 'lazy-builtin', path},
        )
        esbuild.onLoad({filter: /.*/, namespace: 'lazy-builtin'}, async ({path}) => {
          const keys = Object.keys(await import(path)).filter((key) => key !== 'default')
          return {contents: `module.exports = __moatLazy(() => require(${JSON.stringify(path)}), ${JSON.stringify(keys)})`, loader: 'js'}
        })
      },
    },
    {
      name: 'lazy-packages',
      setup(esbuild) {
        esbuild.onResolve({filter: new RegExp(`^(${LAZY.join('|')})$`)}, ({kind, path}) => {
          if (kind !== 'dynamic-import') return {errors: [{text: `${path} must be imported with import() only: it is a chunk of its own`}]}
          return {external: true, path: lazyOutput[path]}
        })
      },
    },
  ],
  stdin: {contents: entry, loader: 'js', resolveDir: root, sourcefile: 'moat-entry.js'},
  write: false,
})
const [script] = main.outputFiles
const scriptName = basename(script.path)

// A classic script compiled by vm.Script has no import(): Node 20 gives it none that works with a code cache
// (ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING), so every import() becomes __moatImport(), dist/moat.cjs's own import().
// Found by parsing, not by text: "import(" in a string stays as it is.
const nodesOf = (program, type) => {
  const found = []
  const visit = (value) => {
    if (Array.isArray(value)) for (const item of value) visit(item)
    else if (value && typeof value.type === 'string') {
      if (value.type === type) found.push(value)
      for (const [key, child] of Object.entries(value)) if (key !== 'type' && child && typeof child === 'object') visit(child)
    }
  }

  visit(program)
  return found
}

const parseScript = (text) => parse(text, {allowReturnOutsideFunction: true, ecmaVersion: 'latest', sourceType: 'script'})
let code = script.text
for (const {start} of nodesOf(parseScript(code), 'ImportExpression').sort((a, b) => b.start - a.start)) {
  code = `${code.slice(0, start)}__moatImport${code.slice(start + 'import'.length)}`
}

if (nodesOf(parseScript(code), 'ImportExpression').length > 0) throw new Error(`${scriptName} still has an import()`)

// The file is the function dist/moat.cjs compiles, wrapper included, in ASCII only: the loader reads it as latin1
// (a copy, where UTF-8 is decoded: some ms for 0.5 MB) and hands V8 the string as read, with no second copy made by
// wrapping it. A non-ASCII character (ansi-regex's U+009B in a regular expression) becomes its \u escape, the same
// character in a string, a template or a regular expression.
// eslint-disable-next-line unicorn/prefer-code-point -- UTF-16 units on purpose: an astral character is two escapes
code = code.replaceAll(/[\u0080-\uFFFF]/g, (unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, '0')}`)
code = `(function (exports, require, module, __filename, __dirname, __moatImport, __moatImportMetaUrl) {"use strict";${code}\n})`
parse(code, {ecmaVersion: 'latest', sourceType: 'script'})
writeFileSync(script.path, code)

// bin/run.js requires this module (scripts/bundle-loader.js with its code cache helpers), and oclif takes the command
// to run from the script through require (already in its cache).
const loader = await build({
  ...common,
  // The helpers it bundles are ES modules: their import.meta.url is this file's URL.
  banner: {js: "const __moatLoaderUrl = require('node:url').pathToFileURL(__filename).href;"},
  define: {'import.meta.url': '__moatLoaderUrl', MOAT_BUNDLE: JSON.stringify(basename(scriptName, '.cjs'))},
  entryPoints: [join(root, 'scripts', 'bundle-loader.js')],
  format: 'cjs',
  keepNames: false,
  minify: false,
  outfile: join(dist, 'moat.cjs'),
})

// bin/run.js reads this list to choose the bundle without loading it.
writeFileSync(join(dist, 'moat-commands.json'), JSON.stringify(commands.map(([id]) => id)) + '\n')

// Which sources each file bin/run.js may import holds, for the tests that prove what a command loads
// (test/helpers/cli.ts): dist/moat.cjs stands for the script it runs.
const inputs = ({inputs}) => Object.keys(inputs).filter((input) => !input.startsWith('<'))
const holds = {
  'dist/moat.cjs': [...inputs(loader.metafile.outputs['dist/moat.cjs']), ...inputs(main.metafile.outputs[`dist/${scriptName}`])],
  ...Object.fromEntries(Object.entries(lazy.metafile.outputs).map(([output, data]) => [output, inputs(data)])),
}
writeFileSync(join(dist, 'moat-bundle.json'), JSON.stringify(holds) + '\n')
