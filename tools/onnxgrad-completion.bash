# SPDX-License-Identifier: MIT
# bash completion for onnxgrad. Installed to
# share/bash-completion/completions/onnxgrad. The subcommands and options are
# read from 'onnxgrad --help' and 'onnxgrad CMD --help' at completion time, so
# commands added later are completed without editing this file.

# The subcommands: the indented first words of the "commands:" section.
_onnxgrad_commands() {
    "$1" --help 2>/dev/null | awk '
        /^commands:/ { on = 1; next }
        on && /^[^ ]/ { on = 0 }
        on && /^  [a-z]/ { print $1 }'
}

# A command's long options: every --word its help mentions, and those the
# main help says every command takes (--limit, --threads, --help).
_onnxgrad_options() {
    { "$1" "$2" --help 2>/dev/null | grep -oE -- '--[a-zA-Z0-9][a-zA-Z0-9-]*'
      printf '%s\n' --limit --threads --help; } | sort -u
}

_onnxgrad() {
    local cur prog cmd i
    cur=${COMP_WORDS[COMP_CWORD]}
    prog=${COMP_WORDS[0]}
    command -v "$prog" >/dev/null 2>&1 || prog=onnxgrad
    COMPREPLY=()
    cmd=""
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
            -*) ;;
            *) cmd=${COMP_WORDS[i]}; break ;;
        esac
    done
    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "--help --version" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$(_onnxgrad_commands "$prog")" -- "$cur"))
        fi
        return 0
    fi
    if [[ $cmd == help ]]; then
        COMPREPLY=($(compgen -W "$(_onnxgrad_commands "$prog")" -- "$cur"))
        return 0
    fi
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$(_onnxgrad_options "$prog" "$cmd")" -- "$cur"))
        return 0
    fi
    # Positional arguments and option values: files.
    COMPREPLY=($(compgen -f -- "$cur"))
    return 0
}
complete -o filenames -o bashdefault -F _onnxgrad onnxgrad
