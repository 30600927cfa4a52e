#!/usr/bin/env node
// Writes the man pages from the help text (oclif.manifest.json, which `--help` prints from): man/moat-system.1 for
// the tool, and one page per command named as users type it, man/moat-system-clean-temp.1 for `moat-system
// clean-temp`. Run by `npm run build` after `oclif manifest`; package.json's `man` field lists the pages, so npm links
// them into <prefix>/share/man/man1 on `npm i -g` and `man moat-system-clean-temp` finds its page.
import {execFileSync} from 'node:child_process'
import {mkdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const pjson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const manifest = JSON.parse(readFileSync(join(root, 'oclif.manifest.json'), 'utf8'))
const {bin} = pjson.oclif
const dir = join(root, 'man')

/** Text for a roff line: backslashes and dashes escaped, a control character at the start made literal. */
function text(value) {
  const escaped = String(value).replaceAll('\\', String.raw`\e`).replaceAll('-', String.raw`\-`)
  return /^[.']/.test(escaped) ? String.raw`\&${escaped}` : escaped
}

/** Paragraphs of help text as roff paragraphs. */
function paragraphs(value) {
  return String(value)
    .split(/\n\s*\n/)
    .map((paragraph) => paragraph.split('\n').map((line) => text(line.trim())).join('\n'))
    .join('\n.PP\n')
}

/** `<%= config.bin %> <%= command.id %>` as help prints it. */
function rendered(value, id) {
  return String(value)
    .replaceAll('<%= config.bin %>', bin)
    .replaceAll('<%= command.id %>', id.replaceAll(':', ' '))
}

/** The name users type: `moat-system clean-temp` for system:clean-temp (the topic is optional), else the id. */
function typed(id) {
  return `${bin} ${id.startsWith('system:') ? id.slice('system:'.length) : id.replaceAll(':', ' ')}`
}

const page = (id) => typed(id).replaceAll(' ', '-')

/** The date of the commit built (reproducible), else SOURCE_DATE_EPOCH, else today. */
function date() {
  try {
    return execFileSync('git', ['log', '-1', '--format=%cs'], {cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore']}).trim()
  } catch {
    const epoch = process.env.SOURCE_DATE_EPOCH
    return new Date(epoch ? Number(epoch) * 1000 : Date.now()).toISOString().slice(0, 10)
  }
}

const DATE = date()

function head(name, summary) {
  return [
    `.TH ${text(name.toUpperCase())} 1 ${DATE} "${text(`${bin} ${pjson.version}`)}" "User Commands"`,
    // Neither hyphenated nor stretched: names, globs and flags read as typed.
    '.nh',
    '.ad l',
    '.SH NAME',
    `${text(name)} \\- ${text(summary)}`,
  ]
}

/** One flag as help shows it: `-f, --force`, `--min-age=<value>`, `--[no-]backup`; default and options after. */
function flagItem(name, flag) {
  const long = flag.type === 'boolean' ? (flag.allowNo ? `--[no-]${name}` : `--${name}`) : `--${name}`
  const names = [...(flag.char ? [`\\fB${text(`-${flag.char}`)}\\fR`] : []), `\\fB${text(long)}\\fR${flag.type === 'option' ? `=\\fI${flag.options ? text(flag.options.join('|')) : 'value'}\\fR` : ''}`]
  const notes = [flag.multiple ? 'Repeatable.' : '', flag.default === undefined || flag.type === 'boolean' ? '' : `Default: ${flag.default}.`].filter(Boolean)
  return ['.TP', names.join(', '), text([flag.summary ?? flag.description ?? '', ...notes].join(' ').trim())]
}

function commandPage(command) {
  const {id} = command
  const flags = Object.entries(command.flags).filter(([, flag]) => !flag.hidden)
  const own = flags.filter(([, flag]) => flag.helpGroup !== 'GLOBAL').sort(([a], [b]) => (a < b ? -1 : 1))
  const global = flags.filter(([, flag]) => flag.helpGroup === 'GLOBAL').sort(([a], [b]) => (a < b ? -1 : 1))
  const args = Object.values(command.args ?? {})
  const usage = [...args.map((arg) => (arg.required ? arg.name.toUpperCase() : `[${arg.name.toUpperCase()}]`)), '[flags]'].join(' ')
  const lines = [...head(page(id), command.summary ?? command.description.split('\n')[0]), '.SH SYNOPSIS', `.B ${text(typed(id))}`, text(usage)]
  if (id.startsWith('system:')) lines.push('.br', `\\fB${text(`${bin} ${id.replaceAll(':', ' ')}`)}\\fR ${text(usage)}`)
  lines.push('.SH DESCRIPTION', paragraphs(rendered(command.description ?? command.summary, id)))
  if (args.length > 0) {
    lines.push('.SH ARGUMENTS')
    for (const arg of args) lines.push('.TP', `\\fI${text(arg.name.toUpperCase())}\\fR`, text(`${arg.description ?? ''}${arg.options ? ` One of: ${arg.options.join(', ')}.` : ''}`))
  }

  if (own.length > 0) lines.push('.SH OPTIONS', ...own.flatMap(([name, flag]) => flagItem(name, flag)))
  if (global.length > 0) lines.push('.SH GLOBAL OPTIONS', ...global.flatMap(([name, flag]) => flagItem(name, flag)))
  if (command.examples?.length) {
    lines.push('.SH EXAMPLES')
    for (const [index, example] of command.examples.entries()) {
      const {command: line, description} = typeof example === 'string' ? {command: example, description: ''} : example
      if (index > 0) lines.push('.PP')
      if (description) lines.push(text(rendered(description, id)), '.PP')
      lines.push('.RS 4', '.nf', text(`$ ${rendered(line, id)}`), '.fi', '.RE')
    }
  }

  lines.push('.SH SEE ALSO', seeAlso(page(id)))
  return lines.join('\n') + '\n'
}

const commands = Object.values(manifest.commands)
  .filter((command) => !command.hidden)
  .sort((a, b) => (a.id < b.id ? -1 : 1))
const pages = [bin, ...commands.map((command) => page(command.id))]

function seeAlso(self) {
  return pages
    .filter((name) => name !== self)
    .map((name) => `\\fB${text(name)}\\fR(1)`)
    .join(',\n')
}

function toolPage() {
  const topic = pjson.oclif.topics.system.description
  const lines = [
    ...head(bin, pjson.description),
    '.SH SYNOPSIS',
    `.B ${text(bin)}`,
    text('COMMAND [flags]'),
    '.br',
    `.B ${text(bin)}`,
    text('system COMMAND [flags]'),
    '.SH DESCRIPTION',
    paragraphs(`${topic}.\n\nEach command prints its help with --help, and has a page of its own: ${bin}-<command>(1), e.g. ${bin}-clean-temp(1).`),
    '.SH COMMANDS',
    ...commands.flatMap((command) => [
      '.TP',
      `\\fB${text(typed(command.id))}\\fR`,
      `${text(command.summary ?? command.description.split('\n')[0])} See \\fB${text(page(command.id))}\\fR(1).`,
    ]),
    '.TP',
    `\\fB${text(`${bin} help`)}\\fR [\\fICOMMAND\\fR]`,
    'The help of a command, as its page shows it.',
    '.TP',
    `\\fB${text(`${bin} version`)}\\fR, \\fB\\-\\-version\\fR`,
    text(`The version of ${bin}.`),
    '.SH SEE ALSO',
    seeAlso(bin),
  ]
  return lines.join('\n') + '\n'
}

rmSync(dir, {force: true, recursive: true})
mkdirSync(dir)
writeFileSync(join(dir, `${bin}.1`), toolPage())
for (const command of commands) writeFileSync(join(dir, `${page(command.id)}.1`), commandPage(command))
console.log(`wrote ${pages.length} man pages to ${dir}`)
