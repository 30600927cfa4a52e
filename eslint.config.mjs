import {includeIgnoreFile} from '@eslint/compat'
import oclif from 'eslint-config-oclif'
import prettier from 'eslint-config-prettier'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

const gitignorePath = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '.gitignore')

export default [
  includeIgnoreFile(gitignorePath),
  ...oclif,
  prettier,
  {
    // CommonJS on purpose (bin/package.json; bin/run.js says why). eslint-plugin-n reads bin/package.json as their
    // package's, which lists no dependencies and publishes nothing: the package is the root's package.json.
    files: ['bin/*.js'],
    languageOptions: {globals: {__dirname: 'readonly', module: 'writable', require: 'readonly'}, sourceType: 'commonjs'},
    rules: {
      '@typescript-eslint/no-require-imports': 'off',
      'n/no-extraneous-import': 'off',
      'n/no-unpublished-import': 'off',
      'n/no-unpublished-require': 'off',
      // A CommonJS file's top level is its own scope, not the global one.
      'no-implicit-globals': 'off',
      'unicorn/prefer-module': 'off',
      'unicorn/prefer-top-level-await': 'off',
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.js', 'bench/**/*.ts'],
    rules: {
      'mocha/max-top-level-suites': 'off',
      'mocha/no-exports': 'off',
      'mocha/no-mocha-arrows': 'off',
      'mocha/no-setup-in-describe': 'off',
      'mocha/no-top-level-hooks': 'off',
      'no-await-in-loop': 'off',
    },
  },
]
