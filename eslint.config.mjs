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
    // CommonJS on purpose: bin/ (bin/package.json; bin/run.js says why) and the fixtures a test preloads with --require.
    // eslint-plugin-n reads bin/package.json as bin's package, which lists no dependencies and publishes nothing.
    files: ['bin/*.js', 'test/fixtures/**/*.cjs'],
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
