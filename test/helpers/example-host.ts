// A host for the README's examples (root only): the CLI run in a private mount namespace whose /tmp is an empty tmpfs
// (so temp dirs are /tmp/moat-aws-41873, as on a user's machine, and nothing of this machine's /tmp is seen or
// touched) and whose default Docker socket, /var/run/docker.sock, is the test engine's: the plan names the engine a
// user's would. Then the README's example blocks are compared with what the tool printed there (or rewritten from
// it with MOAT_README_EXAMPLES=1): the README shows what the tool prints, never text written by hand.
import {readFileSync, realpathSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {expect} from 'vitest'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const README = join(ROOT, 'README.md')

/**
 * What must stay reachable under the new /tmp when it lives in the old one: the checkout (a CI clone in /tmp) and the
 * Node that runs the tests (CI's Node 22 and 24 are installed in /tmp). Each is bound back at its own path.
 */
const KEPT_UNDER_TMP = [...new Set([ROOT, dirname(process.execPath), dirname(realpathSync(process.execPath))].map((path) => path.replace(/\/+$/, '')))].filter(
  (path) => path.startsWith('/tmp/'),
)

/** The argv that runs `argv` on the example host, after `setup` (sh) made its fixtures in the new /tmp. */
export function onExampleHost(engineSocket: string, setup: string, argv: readonly string[]): string[] {
  // The socket is bound before /tmp is hidden: the test engine's own socket may live under /tmp. So is the old /tmp,
  // for a moment, so that what must stay reachable is bound back (and the old /tmp then let go of).
  const keep = KEPT_UNDER_TMP.map((path) => `mkdir -p '${path}' && mount --bind '/run/host-tmp/${path.slice('/tmp/'.length)}' '${path}'`)
  const script = [
    'set -e',
    'mount -t tmpfs none /run',
    'touch /run/docker.sock',
    'mount --bind "$ENGINE_SOCKET" /run/docker.sock',
    ...(keep.length > 0 ? ['mkdir /run/host-tmp', 'mount --bind /tmp /run/host-tmp'] : []),
    'mount -t tmpfs none /tmp',
    ...(keep.length > 0 ? [...keep, 'umount /run/host-tmp', 'rmdir /run/host-tmp'] : []),
    setup,
    'exec "$@"',
  ].join('\n')
  return ['unshare', '--mount', '--propagation', 'private', 'env', `ENGINE_SOCKET=${engineSocket}`, 'sh', '-c', script, 'sh', ...argv]
}

/**
 * The environment of a user's shell there: the default engine, no context, `moat-system` on PATH as `bin/run.js`.
 * The engines are looked for where moat looks, as on a user's machine (the suite turns that off elsewhere,
 * vitest.config.ts): this host's /run and /tmp are its own, so the only socket found is the test engine's, and
 * without XDG_RUNTIME_DIR the rootless sockets are looked for under that /run too.
 */
export function exampleEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {...process.env, HOME: '/tmp/home', MOAT_HOME: '/tmp/home/.moat', ...extra}
  // TMPDIR: a user's is /tmp (CI's tiers point theirs elsewhere in the old /tmp).
  const unset = ['DOCKER_HOST', 'DOCKER_CONTEXT', 'DOCKER_CONFIG', 'NO_COLOR', 'FORCE_COLOR', 'MOAT_SYSTEM_ENGINE_DISCOVERY', 'TMPDIR', 'XDG_RUNTIME_DIR']
  for (const name of unset) if (!(name in extra)) delete env[name]
  return env
}

/** The fenced block right after `<!-- example: name -->` in the README: its start and end offsets and its text. */
function block(readme: string, name: string): {end: number; start: number; text: string} {
  const marker = readme.indexOf(`<!-- example: ${name} -->`)
  if (marker === -1) throw new Error(`README has no <!-- example: ${name} --> block`)
  const open = readme.indexOf('\n', readme.indexOf('```', marker)) + 1
  const close = readme.indexOf('\n```', open - 1)
  return {end: close + 1, start: open, text: readme.slice(open, close + 1)}
}

/**
 * The README's example `name` is `printed`, compared after `mask` (what changes from run to run: times, durations,
 * process counts) is applied to both; with MOAT_README_EXAMPLES=1 the block is rewritten from `printed` instead.
 */
export function expectReadmeExample(name: string, printed: string, mask: (text: string) => string = (text) => text): void {
  const readme = readFileSync(README, 'utf8')
  const found = block(readme, name)
  const text = printed.endsWith('\n') ? printed : `${printed}\n`
  if (process.env.MOAT_README_EXAMPLES === '1') {
    writeFileSync(README, readme.slice(0, found.start) + text + readme.slice(found.end))
    return
  }

  expect(mask(found.text), `README example "${name}" (MOAT_README_EXAMPLES=1 rewrites it)`).toBe(mask(text))
}
