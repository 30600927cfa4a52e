// Temp dirs bind-mounted into real containers of the test engine (issue 9, classes 2 and 3): sources given through a
// symlinked $TMPDIR, and a container started during the pass that mounts a later candidate.
import {execFileSync} from 'node:child_process'
import {readdirSync, realpathSync, symlinkSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, beforeEach, expect, it} from 'vitest'

import {describeEngine, dockerOk, engineEnv, TEST_IMAGE, useEngineInProcessEnv} from '../helpers/engine.js'
import {createRunContainer, newRunId, removeAllForRun} from '../helpers/moat-fixtures.js'
import {itemAt, makeTempDir, makeTmpRoot, removeTmpRoot, runTemp} from '../helpers/temp-fixtures.js'

let root: string
let elsewhere: string
const runIds: string[] = []

beforeEach(() => {
  root = realpathSync(makeTmpRoot())
  elsewhere = realpathSync(makeTmpRoot())
})

afterEach(async () => {
  for (const runId of runIds.splice(0)) await removeAllForRun(runId)
  removeTmpRoot(root)
  removeTmpRoot(elsewhere)
})

const WHOLE = ['config', 'credentials', 'sub']

describeEngine('temp dirs mounted into running Docker containers', () => {
  useEngineInProcessEnv()

  it('a mount whose source goes through a symlinked $TMPDIR is matched: the dir is kept', async () => {
    // As on macOS (/tmp -> /private/tmp): moat passes the path through the link, Docker records it as given.
    const link = join(elsewhere, 'tmp-link')
    symlinkSync(root, link)
    const mounted = makeTempDir(root, 'moat-aws-1')
    const free = makeTempDir(root, 'moat-aws-2')
    const runId = newRunId()
    runIds.push(runId)
    await createRunContainer(runId, {mounts: [`${link}/moat-aws-1:/moat/aws:ro`]})
    expect(await dockerOk(['inspect', '--format', '{{range .Mounts}}{{.Source}}{{end}}', runId])).toBe(`${link}/moat-aws-1`)

    const report = await runTemp(link, {docker: true})
    expect(itemAt(report, mounted)).toMatchObject({
      decision: 'kept',
      reason: `bind-mounted into running container ${runId} (docker: ${link}/moat-aws-1)`,
    })
    expect(itemAt(report, free).decision).toBe('removed')
    expect(readdirSync(mounted).sort()).toEqual(WHOLE)
  })

  it('a container started during the pass that mounts a later candidate stops its deletion', async () => {
    const first = makeTempDir(root, 'moat-aws-1')
    const second = makeTempDir(root, 'moat-aws-2')
    const runId = newRunId()
    runIds.push(runId)
    let started = false
    const start = () => {
      if (started) return
      started = true
      // --mount: fails instead of creating the source when it is already gone.
      execFileSync('docker', ['run', '--detach', '--name', runId, '--mount', `type=bind,source=${second},target=/moat/aws`, TEST_IMAGE, 'sleep', '3600'], {env: engineEnv(), stdio: 'ignore'})
    }

    const report = await runTemp(root, {
      docker: true,
      // Whichever comes first while the first candidate is handled: its move, or its deletion.
      removeHooks: {beforeDescend: start, beforeMove: (path) => path === first && start()},
    })
    expect(started).toBe(true)
    expect(itemAt(report, second)).toMatchObject({
      decision: 'skipped',
      outcome: expect.stringMatching(new RegExp(`^drift: bind-mounted into running container ${runId} `)),
    })
    expect(readdirSync(second).sort()).toEqual(WHOLE)
    // The image has only sh, sleep and true: the shell's glob lists what the container still sees.
    expect(await dockerOk(['exec', runId, 'sh', '-c', 'echo /moat/aws/*'])).toBe(WHOLE.map((name) => `/moat/aws/${name}`).join(' '))
    expect(itemAt(report, first).decision).toBe('removed')
  })
})
