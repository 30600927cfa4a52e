import {describe, it} from 'vitest'

/** Root is needed to mount, to chown to another user, and to see other users' processes. */
export const isRoot = process.getuid?.() === 0
const NOT_ROOT = '[skipped: needs root; run the tests as root to cover it]'

/** describe() for suites that need root: skipped visibly, with the reason in the title, when not root. */
export function describeAsRoot(name: string, fn: () => void): void {
  describe.skipIf(!isRoot)(isRoot ? name : `${name} ${NOT_ROOT}`, fn)
}

/** it() for a test that needs root: skipped visibly, with the reason in the title, when not root. */
export function itAsRoot(name: string, fn: () => Promise<void> | void): void {
  it.skipIf(!isRoot)(isRoot ? name : `${name} ${NOT_ROOT}`, fn)
}
