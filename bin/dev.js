#!/usr/bin/env node
'use strict'
// CommonJS, like bin/run.js (bin/package.json). oclif looks for the root's package.json from `dir` upwards.

import('@oclif/core').then(({execute}) => execute({development: true, dir: require('node:path').join(__dirname, '..')}))
