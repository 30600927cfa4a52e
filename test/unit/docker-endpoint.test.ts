// Which engine the user means, read as the docker CLI reads it, from real files in a temporary DOCKER_CONFIG.
import {createHash} from 'node:crypto'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {DockerApi} from '../../src/lib/runtime/docker-api.js'
import {DockerEndpointError, resolveDockerEndpoint} from '../../src/lib/runtime/docker-endpoint.js'
import {DockerCli} from '../../src/lib/runtime/docker.js'
import {dockerRuntime} from '../../src/lib/runtime/select.js'

describe('resolveDockerEndpoint', () => {
  let config: string

  beforeEach(() => {
    config = mkdtempSync(join(tmpdir(), 'docker-config-'))
  })

  afterEach(() => {
    rmSync(config, {force: true, recursive: true})
  })

  const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({DOCKER_CONFIG: config, ...extra})

  function storeContext(name: string, host: string, options: {skipTlsVerify?: boolean; tls?: string[]} = {}): string {
    const id = createHash('sha256').update(name).digest('hex')
    const meta = join(config, 'contexts', 'meta', id)
    mkdirSync(meta, {recursive: true})
    writeFileSync(
      join(meta, 'meta.json'),
      JSON.stringify({Endpoints: {docker: {Host: host, SkipTLSVerify: options.skipTlsVerify ?? false}}, Metadata: {}, Name: name}),
    )
    const tlsDir = join(config, 'contexts', 'tls', id, 'docker')
    if (options.tls) {
      mkdirSync(tlsDir, {recursive: true})
      for (const file of options.tls) writeFileSync(join(tlsDir, file), 'PEM')
    }

    return tlsDir
  }

  function current(name: string): void {
    writeFileSync(join(config, 'config.json'), JSON.stringify({auths: {}, currentContext: name}))
  }

  it('nothing configured: the default socket, marked as a guess', () => {
    expect(resolveDockerEndpoint(env())).toMatchObject({
      configured: false,
      host: 'unix:///var/run/docker.sock',
      kind: 'unix',
      socketPath: '/var/run/docker.sock',
      source: 'default',
    })
    writeFileSync(join(config, 'config.json'), JSON.stringify({auths: {}}))
    expect(resolveDockerEndpoint(env())).toMatchObject({configured: false, socketPath: '/var/run/docker.sock'})
  })

  it('DOCKER_HOST unix:// and tcp://, with the default ports', () => {
    expect(resolveDockerEndpoint(env({DOCKER_HOST: 'unix:///tmp/x/docker.sock'}))).toMatchObject({
      configured: true,
      kind: 'unix',
      socketPath: '/tmp/x/docker.sock',
      source: 'DOCKER_HOST',
    })
    expect(resolveDockerEndpoint(env({DOCKER_HOST: 'tcp://10.0.0.5:2375'}))).toMatchObject({hostname: '10.0.0.5', kind: 'tcp', port: 2375, tls: undefined})
    expect(resolveDockerEndpoint(env({DOCKER_HOST: 'tcp://engine.example'}))).toMatchObject({hostname: 'engine.example', port: 2375})
    expect(resolveDockerEndpoint(env({DOCKER_HOST: 'tcp://[::1]:2380'}))).toMatchObject({hostname: '::1', port: 2380})
  })

  it('DOCKER_HOST tcp:// with DOCKER_TLS_VERIFY and DOCKER_CERT_PATH: https with the certificates that exist', () => {
    const certs = mkdtempSync(join(tmpdir(), 'docker-certs-'))
    try {
      writeFileSync(join(certs, 'ca.pem'), 'PEM')
      writeFileSync(join(certs, 'cert.pem'), 'PEM')
      const endpoint = resolveDockerEndpoint(env({DOCKER_CERT_PATH: certs, DOCKER_HOST: 'tcp://engine.example', DOCKER_TLS_VERIFY: '1'}))
      expect(endpoint).toMatchObject({hostname: 'engine.example', kind: 'tcp', port: 2376})
      expect(endpoint.kind === 'tcp' && endpoint.tls).toEqual({ca: join(certs, 'ca.pem'), cert: join(certs, 'cert.pem'), verify: true})
      // DOCKER_TLS alone: TLS without checking the engine's certificate; the certs default to the config dir.
      writeFileSync(join(config, 'key.pem'), 'PEM')
      const loose = resolveDockerEndpoint(env({DOCKER_HOST: 'tcp://engine.example:2376', DOCKER_TLS: '1'}))
      expect(loose.kind === 'tcp' && loose.tls).toEqual({key: join(config, 'key.pem'), verify: false})
    } finally {
      rmSync(certs, {force: true, recursive: true})
    }
  })

  it('ssh:// and other schemes are left to the docker CLI', () => {
    expect(resolveDockerEndpoint(env({DOCKER_HOST: 'ssh://me@build-box'}))).toMatchObject({host: 'ssh://me@build-box', kind: 'other'})
    expect(resolveDockerEndpoint(env({DOCKER_HOST: 'npipe:////./pipe/docker_engine'}))).toMatchObject({kind: 'other'})
  })

  it('DOCKER_HOST wins over DOCKER_CONTEXT and the current context, as in the docker CLI', () => {
    storeContext('remote', 'tcp://10.9.9.9:2376')
    current('remote')
    expect(resolveDockerEndpoint(env({DOCKER_CONTEXT: 'remote', DOCKER_HOST: 'unix:///tmp/mine.sock'}))).toMatchObject({
      socketPath: '/tmp/mine.sock',
      source: 'DOCKER_HOST',
    })
  })

  it('the current context of config.json, through the context store', () => {
    storeContext('colima', 'unix:///home/me/.colima/default/docker.sock')
    current('colima')
    expect(resolveDockerEndpoint(env())).toMatchObject({
      configured: true,
      kind: 'unix',
      socketPath: '/home/me/.colima/default/docker.sock',
      source: 'context "colima"',
    })
  })

  it('DOCKER_CONTEXT wins over the current context; `default` means the default socket', () => {
    storeContext('colima', 'unix:///home/me/colima.sock')
    storeContext('lima', 'unix:///home/me/lima.sock')
    current('colima')
    expect(resolveDockerEndpoint(env({DOCKER_CONTEXT: 'lima'}))).toMatchObject({socketPath: '/home/me/lima.sock'})
    expect(resolveDockerEndpoint(env({DOCKER_CONTEXT: 'default'}))).toMatchObject({
      configured: true,
      socketPath: '/var/run/docker.sock',
      source: 'default',
    })
  })

  it('a tcp context with TLS material: https, verified unless the context skips it', () => {
    const tlsDir = storeContext('prod', 'tcp://prod.example:2376', {tls: ['ca.pem', 'cert.pem', 'key.pem']})
    const endpoint = resolveDockerEndpoint(env({DOCKER_CONTEXT: 'prod'}))
    expect(endpoint).toMatchObject({hostname: 'prod.example', kind: 'tcp', port: 2376})
    expect(endpoint.kind === 'tcp' && endpoint.tls).toEqual({
      ca: join(tlsDir, 'ca.pem'),
      cert: join(tlsDir, 'cert.pem'),
      key: join(tlsDir, 'key.pem'),
      verify: true,
    })
    storeContext('lab', 'tcp://lab.example:2376', {skipTlsVerify: true, tls: ['cert.pem', 'key.pem']})
    const lab = resolveDockerEndpoint(env({DOCKER_CONTEXT: 'lab'}))
    expect(lab.kind === 'tcp' && lab.tls).toMatchObject({verify: false})
    // Without TLS material a tcp context is plain http, as the CLI does it.
    storeContext('plain', 'tcp://plain.example:2375')
    expect(resolveDockerEndpoint(env({DOCKER_CONTEXT: 'plain'}))).toMatchObject({port: 2375, tls: undefined})
  })

  it('an ssh context goes to the docker CLI', () => {
    storeContext('builder', 'ssh://ci@builder')
    expect(resolveDockerEndpoint(env({DOCKER_CONTEXT: 'builder'}))).toMatchObject({kind: 'other', source: 'context "builder"'})
  })

  it('an unknown context or an unreadable config is an error naming it, never a guess at the default socket', () => {
    expect(() => resolveDockerEndpoint(env({DOCKER_CONTEXT: 'nope'}))).toThrow(DockerEndpointError)
    expect(() => resolveDockerEndpoint(env({DOCKER_CONTEXT: 'nope'}))).toThrow(/docker context "nope": not found/)
    current('gone')
    expect(() => resolveDockerEndpoint(env())).toThrow(/docker context "gone": not found/)
    writeFileSync(join(config, 'config.json'), '{"currentContext": ')
    expect(() => resolveDockerEndpoint(env())).toThrow(/config\.json is not valid JSON/)
    expect(() => resolveDockerEndpoint(env({DOCKER_HOST: 'tcp://bad host:x'}))).toThrow(/DOCKER_HOST: not a Docker engine address/)
  })

  it('the Engine API where this process can reach the engine, the docker CLI where only it can', () => {
    expect(dockerRuntime(env({DOCKER_HOST: 'unix:///tmp/x.sock'}))).toBeInstanceOf(DockerApi)
    expect(dockerRuntime(env({DOCKER_HOST: 'tcp://10.0.0.5:2376', DOCKER_TLS_VERIFY: '1'}))).toBeInstanceOf(DockerApi)
    expect(dockerRuntime(env({DOCKER_HOST: 'ssh://me@build-box'}))).toBeInstanceOf(DockerCli)
    storeContext('builder', 'ssh://ci@builder')
    expect(dockerRuntime(env({DOCKER_CONTEXT: 'builder'}))).toBeInstanceOf(DockerCli)
    // Asked for by name: the CLI even where the API would do.
    expect(dockerRuntime(env({DOCKER_HOST: 'unix:///tmp/x.sock', MOAT_DOCKER_CLIENT: 'cli'}))).toBeInstanceOf(DockerCli)
    // A context that does not exist: the API adapter, which says so at ping without starting a process.
    expect(dockerRuntime(env({DOCKER_CONTEXT: 'nope'}))).toBeInstanceOf(DockerApi)
  })
})
