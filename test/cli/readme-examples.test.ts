// The README's example output is what the tool prints: each example is run here on a fixture, on a host whose /tmp
// holds only the fixture and whose default Docker socket is the test engine's (test/helpers/example-host.ts), and
// compared with the README's block; `MOAT_README_EXAMPLES=1 npx vitest run test/cli/readme-examples.test.ts` rewrites
// the blocks from what it printed. What changes from run to run is masked in the comparison: times, durations, how
// many processes /proc held.
import {spawnSync} from 'node:child_process'
import {fileURLToPath} from 'node:url'
import {expect} from 'vitest'

import {describeEngine, requireEngine} from '../helpers/engine.js'
import {exampleEnv, expectReadmeExample, onExampleHost} from '../helpers/example-host.js'
import {itAsRoot} from '../helpers/root.js'
import {runOnTerminal} from '../helpers/terminal.js'

const BIN = fileURLToPath(new URL('../../bin/run.js', import.meta.url))

/**
 * moat-system's temp dirs as a crash leaves them: an AWS credential dir untouched for 3 hours (its newest entry,
 * `credentials`, written 3 h ago) and a Claude staging dir whose `sub/creds` was written a minute ago.
 */
const FIXTURE = String.raw`
now=$(date +%s)
mkdir -p /tmp/home/.moat/runs /tmp/moat-aws-41873 /tmp/moat-claude-90312/sub
printf '[default]\n' > /tmp/moat-aws-41873/config
printf 'secret!\n' > /tmp/moat-aws-41873/credentials
printf '{"token":"x"}\n' > /tmp/moat-claude-90312/sub/creds
touch -d @$((now - 5 * 3600)) /tmp/moat-aws-41873/config
touch -d @$((now - 3 * 3600)) /tmp/moat-aws-41873/credentials
touch -d @$((now - 4 * 3600)) /tmp/moat-aws-41873
touch -d @$((now - 60)) /tmp/moat-claude-90312/sub/creds
touch -d @$((now - 2 * 3600)) /tmp/moat-claude-90312/sub /tmp/moat-claude-90312
`

/**
 * What varies between runs on one fixture. An age in seconds is compared in whole minutes: the fixture's times are
 * set seconds before the scan on a loaded machine (never less than the age it gives, never a minute more).
 */
function mask(text: string): string {
  return text
    .replaceAll(/checked \d+ processes/g, 'checked N processes')
    .replaceAll(/"ageSeconds": ?(\d+)/g, (_, seconds: string) => `"ageMinutes":${Math.floor(Number(seconds) / 60)}`)
    .replaceAll(/"time": ?"[^"]+"/g, '"time":"T"')
    .replaceAll(/"durationMs": ?\d+/g, '"durationMs":D')
}

/** `moat-system <args>` on the example host after the fixture: its stdout, stderr and exit code. */
function run(args: string[], then = ''): {exitCode: number; stderr: string; stdout: string} {
  const command = then ? ['sh', '-c', `"$@" && ${then}`, 'sh', process.execPath, BIN, ...args] : [process.execPath, BIN, ...args]
  const [file, ...argv] = onExampleHost(socket(), FIXTURE, command)
  const result = spawnSync(file!, argv, {encoding: 'utf8', env: exampleEnv(), input: '', timeout: 60_000})
  return {exitCode: result.status ?? -1, stderr: result.stderr, stdout: result.stdout}
}

function socket(): string {
  return requireEngine().replace(/^unix:\/\//, '')
}

/** The example as a terminal shows it: the command, then what it printed. */
const shown = (command: string, output: string) => `$ ${command}\n${output}`

describeEngine('the README examples', () => {
  itAsRoot('a dry run: the plan, a row per dir with its decision and the reason in short', () => {
    const result = run(['clean-temp', '--dry-run'])
    expect(result).toMatchObject({exitCode: 0, stderr: ''})
    expectReadmeExample('plan', shown('moat-system clean-temp --dry-run', result.stdout), mask)
  })

  itAsRoot('--verbose: under each row what it holds, and the evidence of a removable one', () => {
    const result = run(['clean-temp', '--dry-run', '--verbose'])
    expect(result).toMatchObject({exitCode: 0, stderr: ''})
    // The engine asked, by its address and where that came from.
    expect(result.stdout).toMatch(/^ {4}containers: no running container mounts it, anything in it or a parent of it: asked docker at unix:\/\/\/var\/run\/docker\.sock \([^)]+\)$/m)
    expectReadmeExample('verbose', shown('moat-system clean-temp --dry-run --verbose', result.stdout), mask)
  })

  itAsRoot('the prompt, as a terminal shows it (NO_COLOR: a code block shows no colour anyway), answered y', async () => {
    const terminal = await runOnTerminal(['system', 'clean-temp'], {
      answer: 'y',
      columns: 120,
      env: exampleEnv({NO_COLOR: '1', TERM: 'xterm'}),
      waitFor: '[y/N] ',
      wrap: (argv) => onExampleHost(socket(), FIXTURE, argv),
    })
    expect(terminal.exitCode).toBe(0)
    expect(terminal.output).not.toContain('\u001B')
    // What the terminal shows: a carriage return starts its line again (the progress line, `Removing 1/1`).
    const output = terminal.output.replaceAll('\r\n', '\n').replaceAll(/^[^\n]*\r/gm, '')
    expectReadmeExample('prompt', shown('moat-system clean-temp', output), mask)
  })

  itAsRoot("a docker user's first guesses: the command and the flag that do it here", () => {
    const prune = run(['prune'])
    const olderThan = run(['clean-temp', '--older-than', '24h'])
    expect([prune.exitCode, olderThan.exitCode]).toEqual([2, 2])
    const text = [shown('moat-system prune', prune.stderr), shown('moat-system clean-temp --older-than 24h', olderThan.stderr)].join('')
    expectReadmeExample('docker', text, mask)
  })

  itAsRoot('--json: the document of a forced run', () => {
    const result = run(['clean-temp', '--force', '--json'])
    expect(result).toMatchObject({exitCode: 0, stderr: ''})
    expectReadmeExample('json', result.stdout, mask)
  })

  itAsRoot('--quiet: the summary line alone', () => {
    const result = run(['clean-temp', '--force', '--quiet'])
    expect(result).toMatchObject({exitCode: 0, stderr: ''})
    expectReadmeExample('quiet', shown('moat-system clean-temp --force --quiet', result.stdout), mask)
  })

  itAsRoot("reap's audit trail: a line per decision and one per pass", () => {
    const log = '/tmp/home/.moat/moat-system-reap.log'
    const result = run(['reap', '--once', '--only', 'temp', '--log-file', log], `cat ${log}`)
    expect(result.exitCode, result.stderr).toBe(0)
    const lines = result.stdout.split('\n').filter((line) => line.startsWith('{'))
    expect(lines.map((line) => JSON.parse(line).event)).toEqual(['decision', 'decision', 'pass'])
    expectReadmeExample('audit', lines.join('\n'), mask)
  })
})
