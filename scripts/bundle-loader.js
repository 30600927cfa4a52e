// dist/moat.cjs, made from this file by scripts/bundle.js (MOAT_BUNDLE is the script's name, moat-<hash>): runs the
// bundled script dist/moat-<hash>.cjs as a classic script with V8's code cache, kept per Node in the user's cache
// directory (src/lib/cli/code-cache.ts). Without a cache V8 accepts, the script is compiled as it runs, and at exit
// its code (including the functions this run compiled on the way) becomes the cache the next run uses.
// CommonJS, required by bin/run.js: no ES module loading on this path (an ES module's import of node:fs alone sets up
// all of fs's exports, streams included).
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'
import {Script} from 'node:vm'

import {cacheDir, codeCacheName, readCache, writeCache} from '../dist/lib/cli/code-cache.js'

/* global MOAT_BUNDLE, __dirname, module */
/* eslint-disable unicorn/prefer-module -- CommonJS on purpose (above) */
const filename = join(__dirname, `${MOAT_BUNDLE}.cjs`)
const cache = cacheDir()
const cacheName = codeCacheName(MOAT_BUNDLE)
const cachedData = cache && readCache(cache, cacheName)

// The file is a function expression in ASCII (scripts/bundle.js): read as latin1, it is the source as it stands.
const script = new Script(readFileSync(filename, 'latin1'), {cachedData, filename})
const status = cachedData ? (script.cachedDataRejected ? 'rejected' : 'accepted') : 'missing'
if (cache && status !== 'accepted') {
  process.once('exit', () => {
    try {
      writeCache(cache, cacheName, script.createCachedData())
    } catch {}
  })
}

// node:module's Module is the constructor of this file's own module: loading node:module costs some ms of start-up.
const {constructor: Module} = module
const require = Module.createRequire(filename)
const bundled = new Module(filename)
bundled.filename = filename
require.cache[filename] = bundled
// import() of the chunks under dist/chunks/ (ES modules), relative to this file.
const moatImport = (specifier) => import(specifier)
script.runInThisContext().call(bundled.exports, bundled.exports, require, bundled, filename, __dirname, moatImport, pathToFileURL(filename).href)
bundled.loaded = true

export const {COMMANDS} = bundled.exports
/** What became of the code cache, for the tests (test/fixtures/code-cache/report.mjs). */
export const codeCache = {file: cache && join(cache, cacheName), status}
export function runBundled(args, root) {
  return bundled.exports.runBundled(COMMANDS, args, root, `./dist/${MOAT_BUNDLE}.cjs`)
}
