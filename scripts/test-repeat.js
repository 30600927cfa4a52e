#!/usr/bin/env node
// `npm run test:repeat -- <test file> [-n N]`: runs one test file N times (default 10) against one private Docker
// engine started once for all runs (or $MOAT_TEST_DOCKER_HOST when set), and says which runs failed. For anyone who
// touches a test that waits for an age, a timeout or a signal: one pass proves little on a loaded machine.
//
// Each run is `vitest run <file>` under the Node that runs this script (so `node22 scripts/test-repeat.js ...` tests
// Node 22); the output of a failed run is kept in a log file, named in the summary. Exit 1 if any run failed, 2 on a
// usage error. Files under test/cli run the built CLI: `npm run build` first.
import {spawn, spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join, relative, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const ENGINE_SH = join(ROOT, 'test', 'engine', 'engine.sh')
const VITEST = join(ROOT, 'node_modules', 'vitest', 'vitest.mjs')
const USAGE = 'usage: npm run test:repeat -- <test file> [-n N], e.g. npm run test:repeat -- test/cli/clean-networks.test.ts -n 20'

/** {file, runs}, or {error}. */
function parseArgs(argv) {
  let file
  let runs = 10
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '-h' || arg === '--help') return {error: ''}
    if (arg === '-n' || arg === '--runs') {
      runs = Number(argv[++i])
      if (!Number.isInteger(runs) || runs < 1) return {error: `${arg} needs a whole number of runs, 1 or more`}
    } else if (arg.startsWith('-')) return {error: `unknown option ${JSON.stringify(arg)}`}
    else if (file) return {error: `one test file only, got ${JSON.stringify(file)} and ${JSON.stringify(arg)}`}
    else file = arg
  }

  if (!file) return {error: 'which test file?'}
  const path = resolve(file)
  if (!existsSync(path) || !/\.test\.ts$/.test(path)) return {error: `${file} is not a test file (*.test.ts)`}
  return {file: relative(ROOT, path), runs}
}

/** test/engine, test/cli and test/reliability are the vitest project that needs the engine (vitest.config.ts). */
function needsEngine(file) {
  return /^test\/(cli|engine|reliability)\//.test(file)
}

function engineSh(args) {
  return spawnSync('bash', [ENGINE_SH, ...args], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit']})
}

function runOnce(file, env) {
  const started = Date.now()
  return new Promise((done) => {
    const child = spawn(process.execPath, [VITEST, 'run', file], {cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe']})
    let output = ''
    child.stdout.on('data', (chunk) => {
      output += chunk
    })
    child.stderr.on('data', (chunk) => {
      output += chunk
    })
    child.on('close', (code, signal) => done({code: code ?? 1, output, seconds: (Date.now() - started) / 1000, signal}))
  })
}

async function main(file, runs) {
  const env = {...process.env, FORCE_COLOR: '0', NO_COLOR: '1'}
  let engineDir
  if (needsEngine(file) && !env.MOAT_TEST_DOCKER_HOST && env.MOAT_TEST_ENGINE !== 'skip') {
    // Short: the socket path must stay under 108 bytes.
    engineDir = mkdtempSync('/tmp/mte-')
    process.stderr.write(`starting one Docker engine for all runs in ${engineDir}\n`)
    const started = engineSh(['start', engineDir])
    const host = /^DOCKER_HOST=(\S+)$/m.exec(started.stdout)?.[1]
    if (started.status !== 0 || !host) {
      engineSh(['stop', engineDir])
      throw new Error(`test/engine/engine.sh start ${engineDir} failed (exit ${started.status})`)
    }

    env.MOAT_TEST_DOCKER_HOST = host
  }

  const logs = mkdtempSync(join(tmpdir(), 'test-repeat-'))
  const failed = []
  let done = 0
  const interrupted = new AbortController()
  // Ctrl-C reaches vitest too; the run under way ends, then the engine is stopped.
  process.on('SIGINT', () => interrupted.abort())
  process.on('SIGTERM', () => interrupted.abort())
  try {
    for (let run = 1; run <= runs && !interrupted.signal.aborted; run++) {
      // eslint-disable-next-line no-await-in-loop
      const result = await runOnce(file, env)
      done = run
      const passed = result.code === 0 && !result.signal
      let line = `run ${run}/${runs}: ${passed ? 'passed' : 'FAILED'} (${result.seconds.toFixed(1)} s)`
      if (!passed) {
        const log = join(logs, `run-${run}.log`)
        writeFileSync(log, result.output)
        // eslint-disable-next-line no-control-regex -- colours, should any be left
        const text = result.output.replaceAll(/\u001B\[[\d;]*m/g, '')
        const failures = [...new Set(text.match(/^ FAIL .*$/gm) ?? [])].map((name) => name.trim())
        line += `, output in ${log}${failures.map((name) => `\n  ${name}`).slice(0, 5).join('')}`
        failed.push(run)
      }

      process.stdout.write(`${line}\n`)
    }
  } finally {
    if (engineDir) engineSh(['stop', engineDir])
    if (failed.length === 0) rmSync(logs, {force: true, recursive: true})
  }

  const summary = failed.length === 0 ? `${done} of ${done} passed` : `${done - failed.length} of ${done} passed, FAILED: run ${failed.join(', ')}`
  process.stdout.write(`${file}: ${summary}${interrupted.signal.aborted ? ' (interrupted)' : ''}, node ${process.version}\n`)
  return failed.length > 0 || interrupted.signal.aborted ? 1 : 0
}

const args = parseArgs(process.argv.slice(2))
if (args.error === undefined) {
  try {
    process.exitCode = await main(args.file, args.runs)
  } catch (error) {
    process.stderr.write(`test:repeat: ${error.message}\n`)
    process.exitCode = 1
  }
} else {
  process.stderr.write(`${args.error ? `test:repeat: ${args.error}\n` : ''}${USAGE}\n`)
  process.exitCode = args.error ? 2 : 0
}
