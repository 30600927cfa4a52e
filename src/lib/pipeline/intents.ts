// The write-ahead record of a removing pass (issue 21): before each removal request (an engine DELETE or stop, a
// rename into the quarantine, a daemon unregistration) the pass records what it is about to do and syncs it; the
// item's decision, written as soon as its answer arrives, closes it. An intent left open (a SIGKILL, a power cut, an
// answer that never came) is resolved by the next pass, which asks the object's own engine or looks on disk.

/** What the pass is about to do to the object. */
export type IntentAction = 'move' | 'quarantine' | 'remove' | 'stop' | 'unlink' | 'unregister'

/** What the object is: how a later pass asks whether it is still there. */
export type ObjectType = 'container' | 'dir' | 'file' | 'network' | 'registration' | 'volume'

/** Where the object lives and the facts a later pass needs to find it again; the target fills it. */
export interface IntentPlace {
  /** Engine objects: the engine's creation time, to tell the object from a new one of the same name (volumes). */
  createdMs?: number
  /** Host paths: the identity of the directory or file when it was judged. */
  dev?: number
  /** The engine's address (`unix:///var/run/docker.sock`), `host` for paths, `moat daemon` for registrations. */
  engine: string
  /** The engine's own ID (`GET /info` ID) where the adapter read it: another engine at the same address is not it. */
  engineId?: string
  ino?: number
  object: ObjectType
  /** Registrations: the run, to ask the daemon by (its token is a secret and is never recorded). */
  runId?: string
}

export interface Intent extends IntentPlace {
  action: IntentAction
  /** Full ID for engine objects (a volume's name), the path for host objects. */
  id: string
  name: string
  target: string
  /** When it was recorded (ISO 8601); set when read back. */
  time?: string
}

/** How a later pass resolved an intent left open by an earlier one. */
export interface Resumed {
  /** `removed`: gone, confirmed now; `failed`: not done, still there (this pass judges it again); `unknown`: could not be asked. */
  decision: 'failed' | 'removed' | 'unknown'
  intent: Intent
  outcome: string
}

/** One object of one target on one engine: an intent and the decision that closes it share it. */
export function intentKey(record: {engine?: string; id: string; target: string}): string {
  return `${record.target}\u0000${record.engine ?? ''}\u0000${record.id}`
}

/** Intents that only the host can tell about: they go to the journal (the quarantine is their own record on disk). */
export function onHost(intent: Pick<Intent, 'object'>): boolean {
  return intent.object === 'dir' || intent.object === 'file'
}
