// The address-pool arithmetic of `status` on address spaces written out by hand; the real engine's own numbers are
// checked in test/cli/status.test.ts (a private engine with a 4-subnet pool).
import {describe, expect, it} from 'vitest'

import type {NetworkSubnets} from '../../src/lib/runtime/types.js'

import {BUILT_IN_POOLS, poolUsage} from '../../src/lib/status/address-pools.js'

function net(name: string, subnets: string[], scope = 'local'): NetworkSubnets {
  return {id: `id-${name}`, name, scope, subnets}
}

describe('poolUsage', () => {
  it("uses Docker's built-in pools when the daemon has none: 31 subnets, the default bridge holding one", () => {
    const usage = poolUsage({networks: [net('bridge', ['172.17.0.0/16']), net('host', []), net('none', [])], pools: []}, new Set())
    expect(usage).toMatchObject({capacity: 31, networks: ['bridge'], source: 'built-in', used: 1, usedByMoatOrphans: 0})
    expect(usage.pools).toEqual(BUILT_IN_POOLS.map((pool) => ({...pool, subnets: pool.base.endsWith('/14') ? 4 : pool.size === 20 ? 16 : 1})))
  })

  it('counts pool-sized slots: a /20 of 192.168 is one, a smaller subnet blocks its whole slot, a larger one several', () => {
    const networks = [
      net('a', ['192.168.16.0/20']),
      net('b', ['172.21.5.0/24']),
      net('c', ['172.24.0.0/15']),
      // The same slot as b: counted once.
      net('d', ['172.21.9.0/24']),
    ]
    expect(poolUsage({networks, pools: []}, new Set(['id-c']))).toMatchObject({used: 4, usedByMoatOrphans: 2})
  })

  it("against the daemon's pools: subnets outside them, IPv6 ones and swarm-scope networks take none", () => {
    const space = {
      networks: [
        net('moat-1', ['10.224.0.0/24']),
        net('moat-2', ['10.224.1.0/24', 'fd00:1::/64']),
        net('outside', ['10.99.0.0/24']),
        net('ingress', ['10.224.2.0/24'], 'swarm'),
      ],
      pools: [{base: '10.224.0.0/22', size: 24}, {base: 'fd00::/48', size: 64}],
    }
    expect(poolUsage(space, new Set(['id-moat-2', 'id-outside']))).toEqual({
      capacity: 4,
      networks: ['moat-1', 'moat-2'],
      pools: [{base: '10.224.0.0/22', size: 24, subnets: 4}],
      source: 'daemon',
      used: 2,
      usedByMoatOrphans: 1,
    })
  })

  it('lists the holders by name, whatever order the engine listed them in (the API and the CLI differ)', () => {
    const networks = [net('someone-elses', ['10.224.1.0/24']), net('moat-run_1', ['10.224.0.0/24'])]
    expect(poolUsage({networks, pools: [{base: '10.224.0.0/22', size: 24}]}, new Set()).networks).toEqual(['moat-run_1', 'someone-elses'])
  })

  it('handles addresses above 128.0.0.0 (no signed 32-bit arithmetic)', () => {
    const usage = poolUsage({networks: [net('x', ['192.168.255.0/24'])], pools: [{base: '192.168.0.0/16', size: 24}]}, new Set(['id-x']))
    expect(usage).toMatchObject({capacity: 256, used: 1, usedByMoatOrphans: 1})
  })
})
