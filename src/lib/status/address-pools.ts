// Address-pool pressure: how many of the subnets a Docker engine can hand to bridge networks are taken, and how many
// of those moat's orphaned networks hold. Each leaked `moat-<run-id>` network (moat-resources.md §4.1) holds one
// subnet until it is removed; once the pools are used up, `docker network create` (and so every new moat run with
// services or BuildKit) fails with "could not find an available, non-overlapping IPv4 address pool". Pure: the
// runtime adapters fetch the AddressSpace.
import type {AddressPool, AddressSpace} from '../runtime/types.js'

/**
 * Docker's built-in local-scope pools, used when the daemon has no `default-address-pools`: 172.17-19.0.0/16 each
 * one /16, 172.20/14, 172.24/14 and 172.28/14 split into /16s, and 192.168.0.0/16 split into /20s: 31 subnets.
 * moby/libnetwork ipamutils/utils.go `localScopeDefaultNetworks` (the libnetwork of Docker 20.10, commit 841af53).
 */
export const BUILT_IN_POOLS: readonly AddressPool[] = [
  {base: '172.17.0.0/16', size: 16},
  {base: '172.18.0.0/16', size: 16},
  {base: '172.19.0.0/16', size: 16},
  {base: '172.20.0.0/14', size: 16},
  {base: '172.24.0.0/14', size: 16},
  {base: '172.28.0.0/14', size: 16},
  {base: '192.168.0.0/16', size: 20},
]

export interface PoolUsage {
  /** Subnets the pools can hand out. */
  capacity: number
  /** Which networks hold pool subnets (by name), for the details. */
  networks: string[]
  /** Each pool with how many subnets it splits into. */
  pools: Array<AddressPool & {subnets: number}>
  /** `daemon`: its default-address-pools; `built-in`: Docker's defaults (BUILT_IN_POOLS). */
  source: 'built-in' | 'daemon'
  /** Subnets taken by any local network. */
  used: number
  /** Subnets taken by networks judged moat orphans now. */
  usedByMoatOrphans: number
}

interface Range {
  first: number
  last: number
}

/** An IPv4 CIDR as its first and last address, or undefined (IPv6, malformed). */
function ipv4Range(cidr: string): (Range & {prefix: number}) | undefined {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr.trim())
  if (!match) return undefined
  const octets = match.slice(1, 5).map(Number)
  const prefix = Number(match[5])
  if (octets.some((octet) => octet > 255) || prefix > 32) return undefined
  const address = octets.reduce((sum, octet) => sum * 256 + octet, 0)
  const span = 2 ** (32 - prefix)
  // Plain arithmetic, not bit operations: JavaScript's are signed 32-bit.
  const first = address - (address % span)
  return {first, last: first + span - 1, prefix}
}

type Pool = AddressPool & {range: Range; slot: number; subnets: number}

/** The pool slots (`<pool index>:<slot>`) a subnet covers: a subnet smaller than a slot still blocks the whole slot. */
function slotsOf(subnet: string, pools: readonly Pool[]): string[] {
  const range = ipv4Range(subnet)
  if (!range) return []
  return pools.flatMap((pool, index) => {
    const first = Math.max(range.first, pool.range.first)
    const last = Math.min(range.last, pool.range.last)
    if (first > last) return []
    const from = Math.floor((first - pool.range.first) / pool.slot)
    const to = Math.floor((last - pool.range.first) / pool.slot)
    return Array.from({length: to - from + 1}, (_, offset) => `${index}:${from + offset}`)
  })
}

/**
 * The pool-sized slots each network's IPv4 subnets cover, counted once per slot, against the engine's pools (its
 * own or the built-in ones). `orphanIds` are the IDs of networks the networks target judged orphans.
 */
export function poolUsage(space: AddressSpace, orphanIds: ReadonlySet<string>): PoolUsage {
  const source = space.pools.length > 0 ? 'daemon' : 'built-in'
  const pools = (source === 'daemon' ? space.pools : BUILT_IN_POOLS).flatMap((pool): Pool[] => {
    const range = ipv4Range(pool.base)
    // IPv6 pools and sizes the daemon itself would reject (a slot larger than its pool) add no IPv4 subnet.
    if (!range || pool.size < range.prefix || pool.size > 32) return []
    return [{...pool, range, slot: 2 ** (32 - pool.size), subnets: 2 ** (pool.size - range.prefix)}]
  })
  const used = new Set<string>()
  const orphaned = new Set<string>()
  const holders: string[] = []
  for (const network of space.networks) {
    // Only local-scope networks are carved from the local pools (swarm ones come from the global pool).
    if (network.scope !== 'local') continue
    const slots = network.subnets.flatMap((subnet) => slotsOf(subnet, pools))
    for (const slot of slots) {
      used.add(slot)
      if (orphanIds.has(network.id)) orphaned.add(slot)
    }

    if (slots.length > 0) holders.push(network.name)
  }

  // In this order in status --json: where the subnets come from, then how many are taken.
  /* eslint-disable perfectionist/sort-objects */
  return {
    source,
    pools: pools.map(({base, size, subnets}) => ({base, size, subnets})),
    capacity: pools.reduce((sum, pool) => sum + pool.subnets, 0),
    used: used.size,
    usedByMoatOrphans: orphaned.size,
    // Sorted: the engine lists networks in no stable order (the Engine API and `docker network ls` differ).
    networks: holders.sort(),
  }
  /* eslint-enable perfectionist/sort-objects */
}
