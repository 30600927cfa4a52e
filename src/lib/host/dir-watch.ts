// A watch on one directory's entries (not deeper) through Node's fs.watch: inotify on Linux, FSEvents on macOS. The
// reaper watches $MOAT_HOME/runs with it, to hear of a run dir removed (moat-resources.md §2.1: moat removes it only
// in Destroy, or it is gone with a crash's cleanup) within milliseconds instead of at the next sweep. The kernel
// delivers each event; nothing here polls. A watch says only that a name changed: whether the entry is there now is
// read with lstat, and only ENOENT (or ENOTDIR) means it is gone (host/checked-fs.ts).
import {watch} from 'node:fs'
import {join} from 'node:path'

import {entryStat} from './checked-fs.js'

export interface EntryWatch {
  close(): void
}

export interface EntryChange {
  /** The entry's name; undefined when the platform did not say which entry changed (the caller must look at all). */
  name?: string
  /** Whether it is there now; undefined when that cannot be read (EACCES ...: the caller keeps what it protects). */
  present?: boolean
}

/**
 * Watches `dir`'s entries: each name that appears or goes, as it happens. Throws when the watch cannot be set up:
 * ENOENT (no such directory yet), ENOSPC (no inotify watch left: fs.inotify.max_user_watches), EMFILE (no inotify
 * instance left), EACCES. `onError` is told once when a watch that was set up stops (the directory itself removed or
 * moved, an error from the kernel); the watch is closed then.
 */
export function watchEntries(dir: string, onChange: (change: EntryChange) => void, onError: (error: Error) => void): EntryWatch {
  const identity = entryStat(dir, {follow: true})
  if (!identity?.isDirectory()) throw Object.assign(new Error(`${dir} is ${identity ? 'not a directory' : 'not there'}`), {code: identity ? 'ENOTDIR' : 'ENOENT'})
  let stopped = false
  const stop = (error: Error) => {
    if (stopped) return
    stopped = true
    watcher.close()
    onError(error)
  }

  const watcher = watch(dir, {persistent: true}, (_type, filename) => {
    if (stopped) return
    // The directory itself removed or replaced: its watch sees nothing more.
    let now
    try {
      now = entryStat(dir, {follow: true})
    } catch (error) {
      stop(error as Error)
      return
    }

    if (!now || now.dev !== identity.dev || now.ino !== identity.ino) {
      stop(Object.assign(new Error(`${dir} was removed or replaced`), {code: 'ENOENT'}))
      return
    }

    const name = filename === null ? undefined : String(filename)
    if (name === undefined) {
      onChange({})
      return
    }

    let present: boolean | undefined
    try {
      present = entryStat(join(dir, name)) !== undefined
    } catch {
      present = undefined
    }

    onChange({name, present})
  })
  watcher.on('error', (error) => stop(error))
  return {
    close() {
      stopped = true
      watcher.close()
    },
  }
}
