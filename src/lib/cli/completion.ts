// Shell completion for bash, zsh and fish, generated from the commands oclif knows (the manifest): command names
// with the `system` topic or without it, each command's flags with their help, and the values of the flags that take
// some: the options of --runtime and --log-format, target names for --only, --skip and --include (comma-separated),
// the --filter keys, directories and files. Each script holds one dispatcher written in its shell that reads its
// tables: plain functions, so a test can ask them without an interactive shell.
import type {Command} from '@oclif/core/command'

import {join} from 'node:path'

import {makeDirectories, replaceFile, temporaryName, writeNewFile} from '../host/checked-fs.js'
import {DEFAULT_KINDS, TARGET_KINDS} from '../targets/index.js'

export const SHELLS = ['bash', 'zsh', 'fish'] as const
export type Shell = (typeof SHELLS)[number]

/** What a flag's value completes to. */
export type ValueKind =
  | {kind: 'dir'}
  | {kind: 'file'}
  | {kind: 'filter'}
  /** Comma-separated words (target names). */
  | {kind: 'list'; words: readonly string[]}
  | {kind: 'none'}
  | {kind: 'words'; words: readonly string[]}

export interface CompletionFlag {
  description: string
  /** `--name`, `-c`, and `--no-name` for a boolean that allows it. */
  names: string[]
  /** Undefined for a boolean flag (it takes no value). */
  value?: ValueKind
}

export interface CompletionCommand {
  /** Words its first argument completes to (`autocomplete` takes a shell, `help` a command). */
  args: readonly string[]
  description: string
  flags: CompletionFlag[]
  /** As typed after `moat-system` (or after `moat-system system` for `system` ones): `clean-temp`, `version`. */
  name: string
  /** Under the `system` topic: typed with it or without it. */
  system: boolean
}

/** The value of a string flag, by its name: the same flag means the same thing in every command. */
function valueOf(name: string, flag: Command.Flag.Cached): ValueKind {
  if (flag.type === 'option' && flag.options) return {kind: 'words', words: flag.options}
  switch (name) {
    case 'backup-dir':
    case 'moat-home':
    case 'tmp-dir': {
      return {kind: 'dir'}
    }

    case 'filter': {
      return {kind: 'filter'}
    }

    case 'include': {
      return {kind: 'list', words: TARGET_KINDS.filter((kind) => !DEFAULT_KINDS.includes(kind))}
    }

    case 'log-file':
    case 'metrics-file': {
      return {kind: 'file'}
    }

    case 'only':
    case 'skip': {
      return {kind: 'list', words: TARGET_KINDS}
    }

    default: {
      return {kind: 'none'}
    }
  }
}

/** The first line of a help text, for a completion's description (`<%= config.bin %>` said as help says it). */
function summary(text: string | undefined, bin: string): string {
  return (text ?? '').split('\n')[0]!.replaceAll('<%= config.bin %>', bin).trim()
}

/** The commands to complete, from oclif's (hidden ones left out), in the order `help` lists them. */
export function completionModel(commands: readonly Command.Loadable[], bin: string): CompletionCommand[] {
  const visible = commands.filter((command) => !command.hidden).sort((a, b) => (a.id < b.id ? -1 : 1))
  const names = visible.filter((command) => command.id.startsWith('system:')).map((command) => command.id.slice('system:'.length))
  return visible.map((command) => {
    const flags = Object.entries(command.flags)
      .filter(([, flag]) => !flag.hidden)
      .map(([name, flag]): CompletionFlag => {
        const allowNo = flag.type === 'boolean' && flag.allowNo
        return {
          description: summary(flag.summary ?? flag.description, bin),
          names: [`--${name}`, ...(flag.char ? [`-${flag.char}`] : []), ...(allowNo ? [`--no-${name}`] : [])],
          value: flag.type === 'boolean' ? undefined : valueOf(name, flag),
        }
      })
    flags.push({description: 'Show help for the command.', names: ['--help', '-h']})
    const system = command.id.startsWith('system:')
    const args = command.id === 'autocomplete' ? SHELLS : command.id === 'help' ? names : []
    return {args, description: summary(command.summary ?? command.description, bin), flags, name: system ? command.id.slice('system:'.length) : command.id, system}
  })
}

/** The script for one shell. */
export function completionScript(shell: Shell, bin: string, commands: readonly CompletionCommand[]): string {
  const tables = {bash: bashScript, fish: fishScript, zsh: zshScript}
  return tables[shell](bin, commands, functionPrefix(bin))
}

/**
 * Writes each shell's script to `<cache>/autocomplete/<shell>_setup`, which the line `autocomplete script <shell>`
 * prints sources: each replaced whole (a new temp file made by this call, then rename), so a shell starting meanwhile
 * never reads half of one. Returns the paths.
 */
export function writeCompletionCache(cacheDir: string, bin: string, commands: readonly CompletionCommand[]): Record<Shell, string> {
  const dir = join(cacheDir, 'autocomplete')
  makeDirectories(dir)
  const paths = {} as Record<Shell, string>
  for (const shell of SHELLS) {
    paths[shell] = join(dir, `${shell}_setup`)
    const temporary = temporaryName(paths[shell])
    writeNewFile(temporary, completionScript(shell, bin, commands), 0o644)
    replaceFile(temporary, paths[shell])
  }

  return paths
}

/** The line for a shell's start-up file that loads the cached script (`autocomplete script <shell>` prints it). */
export function setupLine(shell: Shell, bin: string, path: string): string {
  const mark = ` # ${bin} autocomplete setup`
  if (shell === 'fish') return `test -f ${quote(path)}; and source ${quote(path)};${mark}`
  const variable = `${bin.toUpperCase().replaceAll(/\W/g, '_')}_AC_${shell.toUpperCase()}_SETUP_PATH`
  return `${variable}=${quote(path)} && test -f $${variable} && source $${variable};${mark}`
}

/** `_moat_system`: a prefix for the script's functions, from the command's name. */
function functionPrefix(bin: string): string {
  return `_${bin.replaceAll(/\W/g, '_')}`
}

/** Single-quoted for bash, zsh and fish alike (fish also takes '\'' as in the others, within one token). */
function quote(text: string): string {
  return `'${text.replaceAll("'", String.raw`'\''`)}'`
}

/** A value kind as one line the scripts split into words: `words auto docker apple`, `list a b`, `dir`, ... */
function valueLine(value: ValueKind): string {
  return 'words' in value ? `${value.kind} ${value.words.join(' ')}` : value.kind
}

/** Every flag that takes a value, once, with its kind (the same in every command). */
function valuedFlags(commands: readonly CompletionCommand[]): Map<string, string> {
  const kinds = new Map<string, string>()
  for (const flag of commands.flatMap((command) => command.flags)) {
    if (flag.value) for (const name of flag.names) kinds.set(name, valueLine(flag.value))
  }

  return kinds
}

/** The names typed first: our commands without the topic, `system`, and the others (help, version, ...). */
function topNames(commands: readonly CompletionCommand[]): string[] {
  return [...new Set(['system', ...commands.map((command) => command.name)])].sort()
}

function bashScript(bin: string, commands: readonly CompletionCommand[], fn: string): string {
  const flagCases = commands.map((command) => {
    const words = command.flags.flatMap((flag) => flag.names.map((name) => (flag.value ? `${name}=` : name)))
    return `    ${command.name}) echo ${quote(words.join(' '))} ;;`
  })
  const argCases = commands.filter((command) => command.args.length > 0).map((command) => `    ${command.name}) echo ${quote(command.args.join(' '))} ;;`)
  const valueCases = [...valuedFlags(commands)].map(([name, line]) => `    ${name}) echo ${quote(line)} ;;`)
  const system = commands.filter((command) => command.system).map((command) => command.name)
  return `# ${bin} completion for bash, generated by \`${bin} autocomplete\` from its commands.

# A command's flags, one that takes a value ending in =.
${fn}_flags() {
  case $1 in
${flagCases.join('\n')}
  esac
}

# What a flag's value completes to: words <word>..., list <word>... (comma-separated), filter, dir, file, none.
${fn}_values() {
  case $1 in
${valueCases.join('\n')}
    *) echo none ;;
  esac
}

${fn}_args() {
  case $1 in
${argCases.join('\n')}
  esac
}

${fn}_complete() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]} at=1
  [[ \${COMP_WORDS[1]} == system ]] && at=2
  if (( COMP_CWORD <= at )); then
    local names=${quote(topNames(commands).join(' '))}
    (( at == 2 )) && names=${quote(system.join(' '))}
    COMPREPLY=($(compgen -W "$names" -- "$cur"))
    return 0
  fi

  local cmd=\${COMP_WORDS[at]} flag= value=$cur
  local flags=" $(${fn}_flags "$cmd") "
  # bash splits --flag=value at the = (COMP_WORDBREAKS): the flag is then two words back.
  if [[ $prev == = ]] && (( COMP_CWORD > at + 1 )); then flag=\${COMP_WORDS[COMP_CWORD-2]}
  elif [[ $cur == = ]]; then flag=$prev value=
  elif [[ $flags == *" $prev= "* ]]; then flag=$prev
  fi

  if [[ -n $flag ]]; then
    [[ $flags == *" $flag= "* ]] || return 0
    local kind words
    read -r kind words <<< "$(${fn}_values "$flag")"
    case $kind in
      words) COMPREPLY=($(compgen -W "$words" -- "$value")) ;;
      list)
        local given=
        [[ $value == *,* ]] && given=\${value%,*},
        COMPREPLY=($(compgen -P "$given" -W "$words" -- "\${value##*,}"))
        ;;
      filter)
        compopt -o nospace 2>/dev/null
        COMPREPLY=($(compgen -W 'run= run!= until=' -- "$value"))
        ;;
      dir)
        compopt -o filenames 2>/dev/null
        COMPREPLY=($(compgen -d -- "$value"))
        ;;
      file)
        compopt -o filenames 2>/dev/null
        COMPREPLY=($(compgen -f -- "$value"))
        ;;
    esac
    return 0
  fi

  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "\${flags//=/}" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$(${fn}_args "$cmd")" -- "$cur"))
  fi
}

complete -F ${fn}_complete ${bin}
`
}

/** `word:description` for zsh's _describe (a colon in the word escaped). */
function described(word: string, description: string): string {
  return `${word.replaceAll(':', String.raw`\:`)}:${description}`
}

function zshScript(bin: string, commands: readonly CompletionCommand[], fn: string): string {
  const flagCases = commands.map((command) => {
    const entries = command.flags.flatMap((flag) => flag.names.map((name) => quote(described(flag.value ? `${name}=` : name, flag.description))))
    return `    ${command.name}) reply=(${entries.join(' ')}) ;;`
  })
  const valueCases = [...valuedFlags(commands)].map(([name, line]) => `    ${name}) reply=(${line}) ;;`)
  const argCases = commands.filter((command) => command.args.length > 0).map((command) => `    ${command.name}) reply=(${command.args.join(' ')}) ;;`)
  const top = commands.map((command) => quote(described(command.name, command.description)))
  const system = commands.filter((command) => command.system).map((command) => quote(described(command.name, command.description)))
  return `#compdef ${bin}
# ${bin} completion for zsh, generated by \`${bin} autocomplete\` from its commands.

# A command's flags as word:description, one that takes a value ending in =.
${fn}_flags() {
  case $1 in
${flagCases.join('\n')}
    *) reply=() ;;
  esac
}

# What a flag's value completes to: words <word>..., list <word>... (comma-separated), filter, dir, file, none.
${fn}_values() {
  case $1 in
${valueCases.join('\n')}
    *) reply=(none) ;;
  esac
}

${fn}_args() {
  case $1 in
${argCases.join('\n')}
    *) reply=() ;;
  esac
}

# The candidates for the last of these words (the command line up to the cursor), as reply=(how candidate...): how is
# describe (word:description), words, list (a comma-separated list's next word), keys (--filter's, no space after),
# dirs or files. The words are bare: the widget leaves what comes before them (--only=, containers,) as it is. Plain
# zsh, usable outside completion.
${fn}_candidates() {
  local -a w=("$@")
  local cur=\${w[-1]} prev=\${w[-2]} at=2 flag=
  [[ \${w[2]} == system ]] && at=3
  if (( $#w <= at )); then
    if (( at == 3 )); then reply=(describe ${system.join(' ')}); else reply=(describe ${top.join(' ')} 'system:moat-system commands (each also answers without system)'); fi
    return
  fi

  local cmd=\${w[at]}
  ${fn}_flags $cmd
  local -a flags=(\${reply%%:*})
  if [[ $cur == --*=* ]]; then
    flag=\${cur%%=*}
  elif (( \${flags[(Ie)\${prev}=]} )); then
    flag=$prev
  fi

  if [[ -n $flag ]]; then
    (( \${flags[(Ie)\${flag}=]} )) || { reply=(words); return }
    ${fn}_values $flag
    local kind=\${reply[1]}
    shift reply
    case $kind in
      words|list) reply=($kind $reply) ;;
      filter) reply=(keys run= run!= until=) ;;
      dir) reply=(dirs) ;;
      file) reply=(files) ;;
      *) reply=(words) ;;
    esac
    return
  fi

  if [[ $cur == -* ]]; then
    ${fn}_flags $cmd
    reply=(describe "\${reply[@]}")
  else
    ${fn}_args $cmd
    reply=(words "\${reply[@]}")
  fi
}

${fn}() {
  local -a reply
  ${fn}_candidates "\${(@)words[1,CURRENT]}"
  local how=\${reply[1]}
  shift reply
  # --flag=value in one word: the value alone is completed.
  [[ $how != describe ]] && compset -P '--*='
  case $how in
    describe) _describe -t values ${quote(bin)} reply ;;
    words) compadd -- $reply ;;
    # The words already in the list stay; a comma follows the one chosen, and goes again if a space comes next.
    list) compset -P '*,'; compadd -q -S , -- $reply ;;
    keys) compadd -S '' -- $reply ;;
    dirs) _files -/ ;;
    files) _files ;;
  esac
}

# Sourced from ~/.zshrc: the completion system is loaded first if it is not yet.
if (( ! $+functions[compdef] )); then
  autoload -Uz compinit && compinit
fi
compdef ${fn} ${bin}
`
}

/** `word<TAB>description`, as fish takes a candidate with its description. */
function tab(word: string, description: string): string {
  return quote(`${word}\t${description}`)
}

function fishScript(bin: string, commands: readonly CompletionCommand[], fn: string): string {
  const flagCases = commands.map((command) => {
    const entries = command.flags.flatMap((flag) => flag.names.map((name) => tab(flag.value ? `${name}=` : name, flag.description)))
    return `        case ${quote(command.name)}\n            printf '%s\\n' ${entries.join(' ')}`
  })
  const valueCases = [...valuedFlags(commands)].map(([name, line]) => `        case ${quote(name)}\n            echo ${quote(line)}`)
  const argCases = commands.filter((command) => command.args.length > 0).map((command) => `        case ${quote(command.name)}\n            printf '%s\\n' ${command.args.map((arg) => quote(arg)).join(' ')}`)
  const top = [...commands.map((command) => tab(command.name, command.description)), tab('system', `${bin} commands (each also answers without system)`)]
  const system = commands.filter((command) => command.system).map((command) => tab(command.name, command.description))
  return `# ${bin} completion for fish, generated by \`${bin} autocomplete\` from its commands.

# A command's flags, word<TAB>description, one that takes a value ending in =.
function ${fn}_flags
    switch $argv[1]
${flagCases.join('\n')}
    end
end

# What a flag's value completes to: words <word>..., list <word>... (comma-separated), filter, dir, file, none.
function ${fn}_values
    switch $argv[1]
${valueCases.join('\n')}
        case '*'
            echo none
    end
end

function ${fn}_args
    switch $argv[1]
${argCases.join('\n')}
    end
end

# The candidates for the command line up to the cursor, one per line (word<TAB>description).
function ${fn}_candidates
    set -l cur "$(commandline -ct)"
    set -l w (commandline -opc) "$cur"
    set -l prev $w[-2]
    set -l at 2
    test "$w[2]" = system; and set at 3
    if test (count $w) -le $at
        if test $at -eq 3
            printf '%s\\n' ${system.join(' ')}
        else
            printf '%s\\n' ${top.join(' ')}
        end
        return
    end

    set -l cmd $w[$at]
    set -l flags (${fn}_flags $cmd | string replace -r '\\t.*' '')
    set -l flag
    set -l value $cur
    set -l given
    if string match -qr -- '^--[^=]+=' $cur
        set flag (string replace -r -- '=.*' '' $cur)
        set value (string replace -r -- '^[^=]*=' '' $cur)
        set given $flag=
    else if contains -- $prev= $flags
        set flag $prev
    end

    if test -n "$flag"
        contains -- $flag= $flags; or return
        set -l spec (string split ' ' -- (${fn}_values $flag))
        switch $spec[1]
            case words
                printf '%s\\n' "$given"$spec[2..-1]
            case list
                string match -q -- '*,*' $value; and set given "$given"(string replace -r -- ',[^,]*$' ',' $value)
                printf '%s\\n' "$given"$spec[2..-1]
            case filter
                printf '%s\\n' "$given"run= "$given"run!= "$given"until=
            case dir
                __fish_complete_directories $value | string replace -r '^' "$given"
            case file
                __fish_complete_path $value | string replace -r '^' "$given"
        end
        return
    end

    if string match -q -- '-*' $cur
        ${fn}_flags $cmd
    else
        ${fn}_args $cmd
    end
end

complete -c ${bin} -f -a '(${fn}_candidates)'
`
}
