#!/usr/bin/env node

import module from 'node:module'

// Node 22.1+ caches compiled code between runs; a no-op on Node 20.
// eslint-disable-next-line n/no-unsupported-features/node-builtins -- optional: absent on Node 20
module.enableCompileCache?.()

const {execute} = await import('@oclif/core')
await execute({dir: import.meta.url})
