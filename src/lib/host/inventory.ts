// Every path moat-system reads or writes, how it is opened, and what each error class does (issue 20). The table in
// docs/reliability.md is rendered from this list, and test/unit/inventory.test.ts keeps the two equal and checks that
// nothing outside src/lib/host/ calls node:fs on a path, but the files named in OUT_OF_SCOPE.
import {STATE_FILES, type StateFileKind} from './checked-fs.js'

export interface PathUse {
  /** What happens when the path is absent: ENOENT, or ENOTDIR where a parent is a file. */
  absent: string
  /** How it is opened or made; for a state file read, derived from STATE_FILES. */
  how: string
  /** Any other error: EACCES, ELOOP, EIO, EMFILE, a FIFO or device, a file over its cap, a timeout. */
  otherwise: string
  path: string
  /** The state file kind read with readStateFile, whose cap the row shows. */
  stateFile?: StateFileKind
  what: string
  /** The modules that use it. */
  where: string
}

const READ = String.raw`O_RDONLY\|O_NOFOLLOW\|O_NONBLOCK, fstat: a regular file`
const CREATE = String.raw`O_CREAT\|O_EXCL\|O_NOFOLLOW`

function size(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${bytes / (1024 * 1024)} MiB` : `${bytes / 1024} KiB`
}

function stateRead(kind: StateFileKind): string {
  return `${READ}, at most ${size(STATE_FILES[kind].cap)} (${STATE_FILES[kind].why})`
}

export const PATHS: readonly PathUse[] = [
  {
    absent: 'a note; nothing is created there, the clean lock goes to /tmp/moat-system-<uid>/',
    how: 'lstat; a symlinked home is followed through `<home>/.`',
    otherwise: 'usage error naming the path and the error, exit 2',
    path: '$MOAT_HOME',
    what: "moat's home",
    where: 'moat/home.ts',
  },
  {
    absent: 'engine targets stop: no run can be told alive, exit 1',
    how: 'readdir, then a lookup of `runs/.` (search permission)',
    otherwise: 'the same, naming the path and the error (a runs/ listable but not searchable is one); temp dirs: every candidate kept',
    path: '$MOAT_HOME/runs/',
    what: 'the run dirs (moat-resources.md §2.1, §10.1)',
    where: 'moat/registry.ts, moat/engines.ts',
  },
  {
    absent: 'no run dir: the run has ended (a file there counts as none)',
    how: 'stat (a symlink to a directory counts as a run dir)',
    otherwise: 'the run counts as alive, with the path and the error',
    path: '$MOAT_HOME/runs/<id>',
    what: 'one run dir',
    where: 'moat/registry.ts',
  },
  {
    absent: 'a run dir without metadata.json (§2.1)',
    how: stateRead('metadata.json'),
    otherwise: "the run counts as alive (metadata.json unreadable, with the path and the error); the engine it names is unknown, so every temp dir candidate is kept",
    path: '$MOAT_HOME/runs/<id>/metadata.json',
    stateFile: 'metadata.json',
    what: "a run's state and engine (§2.2, §11)",
    where: 'moat/registry.ts, moat/engines.ts',
  },
  {
    absent: 'an entry gone meanwhile is skipped',
    how: 'readdir and lstat only: never opened, no symlink followed, no mount point entered',
    otherwise: "the tree's age is unknown: kept, with the entry and the error",
    path: '$MOAT_HOME/runs/<id>/ (tree), sockets/<id>/ (tree)',
    what: 'age and size of a run dir or socket dir',
    where: 'host/tree.ts',
  },
  {
    absent: 'no extraction snapshot (§5.1)',
    how: stateRead('snapshots.json'),
    otherwise: 'the note on the kept volume says it is unknown (only that note depends on it)',
    path: '$MOAT_HOME/runs/<id>/snapshots/snapshots.json',
    stateFile: 'snapshots.json',
    what: "a volume-mode run's snapshots",
    where: 'targets/volumes.ts',
  },
  {
    absent: 'the reason does not mention devices',
    how: 'lstat only',
    otherwise: 'the same (only the wording depends on it)',
    path: '$MOAT_HOME/runs/<id>/devices.jsonl',
    what: "a run's serial-device log (§12.3): a registration of it frees its device claims",
    where: 'targets/state.ts',
  },
  {
    absent: 'no tokens: every registration is kept (nothing to unregister it with)',
    how: stateRead('runs.json'),
    otherwise: 'every registration kept, with the path and the error; tokens never shown',
    path: '$MOAT_HOME/proxy/runs.json',
    stateFile: 'runs.json',
    what: "the daemon's registrations and their tokens (§6.2)",
    where: 'moat/state-files.ts',
  },
  {
    absent: 'every `moat _daemon` process is reported as not named by it',
    how: stateRead('daemon.lock'),
    otherwise: 'reported with the path and the error; never stopped either way',
    path: '$MOAT_HOME/proxy/daemon.lock',
    stateFile: 'daemon.lock',
    what: "the daemon's PID (§6.1)",
    where: 'moat/state-files.ts',
  },
  {
    absent: 'none there',
    how: 'readdir and a lookup of `<dir>/.`; each entry lstat',
    otherwise: 'a directory: a warning, its entries are not looked at; an entry: kept, with the path and the error',
    path: '$MOAT_HOME/proxy/ (.runs-*.json.tmp, routes-*.json.tmp), $MOAT_HOME/sockets/',
    what: "the daemon's crash leftovers and the SSH agent socket dirs (§8)",
    where: 'targets/state.ts',
  },
  {
    absent: 'no daemon',
    how: 'connect(2) and HTTP, within a timeout',
    otherwise: 'a warning: runs only the daemon knows are not protected',
    path: '$MOAT_HOME/proxy/daemon.sock',
    what: "the daemon's API (§6.3)",
    where: 'moat/daemon.ts',
  },
  {
    absent: '-',
    how: 'never opened, listed by name or touched',
    otherwise: '-',
    path: '$MOAT_HOME/devices.json, devices.json.lock, devices.json.tmp',
    what: "moat's device pins, their flock and write-then-rename file (§12.3)",
    where: '(none)',
  },
  {
    absent: 'made: the lock is taken',
    how: 'mkdir 0700, which fails on any existing name',
    otherwise: 'EEXIST: held by someone (see owner.json); a symlink or file there, or any other error: exit 1 with the path',
    path: '<lock parent>/.moat-system.lock/',
    what: 'the clean lock (in $MOAT_HOME, or /tmp/moat-system-<uid>/ when there is no home)',
    where: 'pipeline/lock.ts',
  },
  {
    absent: 'empty or absent: its owner is still writing it (waited for up to 200 ms; ownerless for 10 s: stale)',
    how: `made ${CREATE} 0600; read ${stateRead('lock owner.json')}`,
    otherwise: 'an owner that cannot be told dead: never taken over, the pass is busy',
    path: '<lock parent>/.moat-system.lock/owner.json',
    stateFile: 'lock owner.json',
    what: "the lock's owner (PID, process start time)",
    where: 'pipeline/lock.ts',
  },
  {
    absent: '-',
    how: 'rename(2) of a stale lock to a random name checked free, then removed (rm follows no symlink)',
    otherwise: 'another taker won: tried again',
    path: '<lock parent>/.moat-system.lock.stale-<random>',
    what: 'a stale lock moved aside',
    where: 'pipeline/lock.ts',
  },
  {
    absent: 'made 0700',
    how: 'mkdir; an existing one must be a real directory (no symlink), this user\'s, writable by nobody else',
    otherwise: 'exit 1 naming the path and what is wrong',
    path: '/tmp/moat-system-<uid>/',
    what: 'the lock parent when there is no moat home',
    where: 'moat/home.ts',
  },
  {
    absent: 'made 0700 at the first move',
    how: "mkdir; an existing one must be a real directory (no symlink, so it resolves inside moat's home), this user's, writable by nobody else",
    otherwise: 'the run-dir rule keeps every run dir at the plan (fails each at the move), naming the path: nothing moved',
    path: '$MOAT_HOME/reaped/',
    what: 'where crashed run dirs are moved (clean-state --include-run-dirs)',
    where: 'targets/state.ts',
  },
  {
    absent: '-',
    how: 'rename(2) of the run dir into a name checked free: its modes kept; reported `moved`, no bytes counted as freed',
    otherwise: 'failed, with the error; something else moved by the rename is put back',
    path: '$MOAT_HOME/reaped/<id>-<UTC time>/',
    what: 'a moved run dir',
    where: 'targets/state.ts',
  },
  {
    absent: '-',
    how: 'mkdtemp (a random name, a mkdir that fails on an existing one) in a parent that is no symlink; checked 0700 and this user\'s',
    otherwise: 'failed, with the error; nothing moved into it',
    path: '<temp root, sockets/ or runs/>/moat-system-quarantine-<uid>-<random>/',
    what: "the safe remover's quarantine",
    where: 'host/safe-remove.ts',
  },
  {
    absent: 'resolved and kept; a default root that is missing is skipped',
    how: 'realpath and lstat (a directory the user named may be reached through a symlink); streamed listing',
    otherwise: 'usage error naming the value, exit 2',
    path: '$TMPDIR, /tmp, --tmp-dir',
    what: 'temp roots',
    where: 'targets/temp-dirs.ts, host/dir-globs.ts',
  },
  {
    absent: 'gone: not a candidate (skipped as drift at removal)',
    how: 'lstat, then the tree walked with lstat only; never opened',
    otherwise: "the walk's error keeps the candidate; an lstat error stops the target (exit 1), nothing removed",
    path: '<temp root>/moat-*',
    what: 'temp dir candidates (§1.1)',
    where: 'targets/temp-dirs.ts, host/tree.ts',
  },
  {
    absent: `created here: ${CREATE} 0600 (a dangling symlink planted there cannot make it create its target); missing parents made 0700`,
    how: String.raw`an existing regular file: O_WRONLY\|O_APPEND\|O_NOFOLLOW\|O_NONBLOCK, fstat: a regular file; opened once at start-up, so a symlink that appears later is never reached`,
    otherwise: 'usage error (a symlink, a directory, a FIFO, not writable), exit 2',
    path: '--log-file',
    what: 'the audit log (`reap`, and every clean command given --log-file)',
    where: 'output/audit-log.ts',
  },
  {
    absent: `created here: ${CREATE} 0600, in a directory made 0700 (with its parents) that must be a real one of this user, writable by nobody else`,
    how: `each removing pass, under the clean lock: read ${stateRead('journal')}; appended ${String.raw`O_WRONLY\|O_APPEND\|O_NOFOLLOW\|O_NONBLOCK`}, fstat: a regular file of this user with one link; each intent synced; emptied with ftruncate, or replaced by .<name>.<random>.tmp made ${CREATE} 0600 and renamed over it`,
    otherwise: 'the pass removes nothing, exit 1, naming the path and the error (a dry run never opens it; status only reads it, and an error there hides nothing it would remove)',
    path: '$XDG_STATE_HOME/moat-system/journal-<hash of the moat home>.jsonl (~/.local/state/moat-system/ without XDG_STATE_HOME)',
    stateFile: 'journal',
    what: 'the write-ahead journal of removing passes (issue 21)',
    where: 'output/journal.ts, host/journal-files.ts',
  },
  {
    absent: 'status: no reaper; reap: created in the state directory (made 0700 with its parents)',
    how: `reap (not --once): written at start and each time what it watches changes, replaced whole (.<name>.<random>.tmp made ${CREATE} 0600, synced, renamed over it); removed at exit when it still names this process; status reads it ${stateRead('reaper state')}`,
    otherwise: 'reap: a note in the audit log, once, and it goes on (status will not show it); status: `reaper: unknown (<why>)`',
    path: '$XDG_STATE_HOME/moat-system/reaper-<hash of the moat home>.json (~/.local/state/moat-system/ without XDG_STATE_HOME)',
    stateFile: 'reaper state',
    what: "a running reaper's PID, start time and what it watches (issue 24)",
    where: 'output/reaper-state.ts, host/journal-files.ts',
  },
  {
    absent: 'not watched: said once in the audit log; run dirs removed are found by the full pass every --interval, and the watch is tried again after each',
    how: "fs.watch (inotify, FSEvents) on the directory's entries only; each name it reports read again with lstat (only ENOENT or ENOTDIR means gone); the directory itself compared by device and inode at each event",
    otherwise: 'ENOSPC (no inotify watch left), EMFILE (no inotify instance left), EACCES: as absent, with the reason; the directory removed or replaced later: the watch stops, said once',
    path: '$MOAT_HOME/runs/ (watched by reap)',
    what: "a watching reaper's trigger: a run dir removed (issue 24)",
    where: 'host/dir-watch.ts, pipeline/watch.ts',
  },
  {
    absent: 'passes counted from 0',
    how: `start-up: the previous file read ${READ}, at most ${size(STATE_FILES['metrics file'].cap)}; each pass: .<name>.<random>.tmp made ${CREATE} 0644 in the directory start-up found (device and inode compared), synced, rename(2) over the name, which replaces a symlink there and never writes through it`,
    otherwise: 'start-up: usage error (a symlink, a directory, unreadable), exit 2; a later pass: a note in the audit log',
    path: '--metrics-file',
    stateFile: 'metrics file',
    what: "reap's Prometheus metrics",
    where: 'output/metrics.ts',
  },
  {
    absent: 'made 0700 with its parents',
    how: `.<name>.<random>.tmp made ${CREATE} 0644, written whole and synced, then rename(2) over the name (which replaces a symlink there and never writes through it)`,
    otherwise: 'the command fails (exit 1) with the error; no shell reads a half-written script',
    path: '~/.cache/moat-system/autocomplete/{bash,zsh,fish}_setup (or $XDG_CACHE_HOME/moat-system)',
    what: 'the shell completion scripts (`autocomplete`, `autocomplete script`)',
    where: 'cli/completion.ts',
  },
  {
    absent: 'made 0700 with its parents',
    how: `the directory must be a real one (no symlink); .<name>.<random>.partial made ${CREATE} 0600, read back ${READ}, published with link(2), which never replaces what is there`,
    otherwise: 'backup failed: the volume is kept, with the error',
    path: '--backup-dir (default $MOAT_HOME/backups/volumes/)',
    what: 'volume backups <volume>-<UTC time>.tar.gz',
    where: 'runtime/volume-archive.ts',
  },
  {
    absent: 'made 0700 (its missing parents too) when a cache is first written; a read finds no cache',
    how: "lstat: used only when a real directory (no symlink), this user's, writable by nobody else",
    otherwise: 'no cache: the bundle is compiled as it runs, the same output; nothing written there',
    path: '$XDG_CACHE_HOME/moat-system/ (an absolute $XDG_CACHE_HOME; else ~/.cache/moat-system/)',
    what: "this tool's cache directory: start-up's compiled code (README \"How it starts fast\")",
    where: 'cli/code-cache.ts',
  },
  {
    absent: 'no cache: compiled as it runs, and written at exit',
    how: `read ${READ}, this user's, at most 64 MiB; written as .<name>.<random>.tmp made ${CREATE} 0600, synced, rename(2) over the name (replaces a symlink there, never writes through it)`,
    otherwise: 'no cache (V8 also rejects a cache of another version, other flags, a damaged header or cut short): compiled as it runs, the same output',
    path: '<cache dir>/moat-<hash>.node-<version>-<arch>-<flags>.v8-cache',
    what: "V8's code cache of the bundle, one per Node version and V8 flags",
    where: 'cli/code-cache.ts',
  },
  {
    absent: 'made 0700; Node writes its files there (mkstemp, rename)',
    how: "lstat: a real directory, this user's, writable by nobody else; handed to module.enableCompileCache (Node 22+)",
    otherwise: "Node's compile cache stays off: the same output",
    path: '<cache dir>/node-compile-cache/',
    what: "Node's compile cache for oclif's normal path (help, --version)",
    where: 'cli/code-cache.ts',
  },
]

/**
 * Files outside src/lib/host/ that call node:fs on a path, each on paths that are not moat's home, a temp dir or a
 * user-named output.
 */
export const OUT_OF_SCOPE: Readonly<Record<string, string>> = {
  'src/lib/cli/bundled.ts': "this package's own package.json",
  'src/lib/runtime/apple.ts': 'the `container` executable on PATH',
  'src/lib/runtime/docker-api.ts': "the engine's socket and its TLS files, as the docker CLI names them",
  'src/lib/runtime/docker-endpoint.ts': "the docker CLI's config, contexts and TLS files ($DOCKER_CONFIG)",
  'src/lib/runtime/docker.ts': "the docker CLI's config and the default socket",
  'src/lib/runtime/engines.ts': 'the sockets where moat and the docker CLI find engines (stat), and $TMPDIR/podman on macOS (readdir)',
  'src/lib/runtime/exec.ts': 'executables on PATH',
}

/** Also not in scope, read inside src/lib/host/: what the kernel says about this host. */
export const HOST_FACTS =
  "/proc (mountinfo, each process's fd, cwd, root, exe, maps, environ, cmdline, stat, comm; /proc/net/unix): host/proc.ts, host/mounts.ts. Where there is no /proc (ENOENT: macOS), process use and listening sockets are not checked and a warning says so; a mountinfo that exists and cannot be read keeps every temp dir candidate and puts back every moved one. A process whose entries cannot be read (gone, or another user's) is left out: another user cannot reach this user's 0700 dirs."

function cell(text: string): string {
  return text.replaceAll('\n', ' ')
}

/** The inventory as markdown: the section of docs/reliability.md between its markers. */
export function inventoryMarkdown(): string {
  const rows = PATHS.map((use) => `| \`${use.path}\` | ${cell(use.what)} | ${cell(use.how)} | ${cell(use.absent)} | ${cell(use.otherwise)} | ${use.where} |`)
  const outside = Object.entries(OUT_OF_SCOPE).map(([file, what]) => `- \`${file}\`: ${what}`)
  return [
    '## Every path moat-system reads or writes',
    '',
    'Rendered from `src/lib/host/inventory.ts` (test/unit/inventory.test.ts fails when this section differs from it; `MOAT_INVENTORY_DOCS=1 npx vitest run test/unit/inventory.test.ts` rewrites it). Two rules hold for every path here: only "does not exist" (ENOENT, or ENOTDIR where a parent is a file) means absent, and anything else keeps what the fact protects, naming the path and the error; and every file or directory the tool creates is created by that very call (`O_CREAT|O_EXCL|O_NOFOLLOW`, a mkdir that fails on an existing name), never reached through a name someone else planted. The reads and creations live in `src/lib/host/checked-fs.ts`.',
    '',
    '| path | what | opened or made as | absent (ENOENT, ENOTDIR) | any other error | code (src/lib/) |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    'Not in scope (not moat\'s home, a temp dir or a user-named output), and the only files outside `src/lib/host/` that call `node:fs` on a path:',
    '',
    ...outside,
    `- ${HOST_FACTS}`,
  ].join('\n')
}
