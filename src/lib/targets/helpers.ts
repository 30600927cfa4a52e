// moat's volume export helpers `moat-export_<12 hex>` (moat-resources.md §3.1): debian containers moat creates to
// copy a workspace volume out for `moat snapshot`, removed by a deferred call that a crash skips. Docker only (the
// Apple runtime has no volumes, §5.1). One is removed when it is not running and exited (or, never started, was
// created) longer than --min-age ago; a running one may be an export under way and is kept.
// The unnamed, unlabelled chown helper (§3.1) is left alone: nothing but its image and command tells it from a
// container the user started, and its leak is a stopped container with no credentials in it (README).
import type {ContainerInfo, Runtime} from '../runtime/types.js'
import type {Candidate, Verdict} from './container-target.js'

import {ContainerTarget} from './container-target.js'

/** §3.1: `moat-export_` and the 12 hex digits moat puts after it. */
const EXPORT_HELPER = /^moat-export_[0-9a-f]{12}$/

export class HelperTarget extends ContainerTarget {
  readonly kind = 'helpers'
  readonly noun = ['volume export helper', 'volume export helpers'] as const

  protected candidate(runtime: Runtime, container: ContainerInfo): Candidate | undefined {
    return runtime.name === 'docker' && EXPORT_HELPER.test(container.name) ? {details: {role: 'volume export'}, runId: ''} : undefined
  }

  protected keepRunning(): string | undefined {
    return 'running: an export may be under way'
  }

  protected verdict(): Verdict {
    // Tied to no run: its name and its age decide (the age rule is the shared one, on the engine's clock).
    return {
      basis: {kind: 'ended'},
      evidence: {helper: 'named moat-export_<12 hex>: an export helper, tied to no run, that a moat snapshot which crashed mid-export left (moat-resources.md §3.1)'},
      reason: 'left by a crashed snapshot',
    }
  }
}
