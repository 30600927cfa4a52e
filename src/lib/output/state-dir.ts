import {homedir} from 'node:os'
import {isAbsolute, join} from 'node:path'

/**
 * moat-system's state directory (XDG base directories): `$XDG_STATE_HOME/moat-system`, else
 * `~/.local/state/moat-system`. Per user; it holds the journal of removing passes (journal.ts).
 */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_STATE_HOME && isAbsolute(env.XDG_STATE_HOME) ? env.XDG_STATE_HOME : join(env.HOME || homedir(), '.local', 'state')
  return join(base, 'moat-system')
}
