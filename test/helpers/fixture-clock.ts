// When this test file last made or changed a fixture whose age a pass judges: an object on the test engine (created,
// started, stopped, attached) or a run dir. A wait for --min-age counts from this event, never from the test's start
// (test/engine/shared-engine.ts, waitUntilOld): under load, making the fixtures can take longer than --min-age.
// vitest evaluates this module afresh for each test file, and files run one at a time.
let lastChangeMs = 0

export function fixtureChanged(): void {
  lastChangeMs = Date.now()
}

/** ms since the epoch, or 0 when no fixture was made yet. */
export function lastFixtureChange(): number {
  return lastChangeMs
}
