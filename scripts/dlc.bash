# bash completion for dlc: its commands, each command's options, .dlm (.onnx for import) files, and the values of
# --dtype and --dump-after; and _dlc_train for the trainers dlc builds, whose names are the user's: attach it with
# `complete -F _dlc_train lenet-train ./lenet-train`. Installed by `meson install` as
# share/bash-completion/completions/dlc.
_dlc() {
    local cur prev cmd
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W "check compile build export import --help --version" -- "$cur"))
        return
    fi
    cmd=${COMP_WORDS[1]}
    case $prev in
    --dtype) COMPREPLY=($(compgen -W "f32 f64" -- "$cur")); return ;;
    --batch|-D) return ;;
    --weights|--calibration) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    --quantize) COMPREPLY=($(compgen -W "int8" -- "$cur")); return ;;
    -o)
        if [ "$cmd" = compile ] || [ "$cmd" = import ]; then COMPREPLY=($(compgen -d -- "$cur")); else COMPREPLY=($(compgen -f -- "$cur")); fi
        return ;;
    esac
    if [[ $cur == --dump-after=* ]]; then
        COMPREPLY=($(compgen -P --dump-after= -W "elab autodiff simplify fuse plan" -- "${cur#--dump-after=}"))
        return
    fi
    if [[ $cur == -* ]]; then
        local opts="--help --batch -D"
        case $cmd in
        check) opts="$opts --json --infer --weights --portable --quantize --calibration --recompute --dump-after=" ;;
        compile) opts="$opts -o --dtype --infer --weights --portable --quantize --calibration --trainer --recompute --dump-after=" ;;
        build) opts="$opts -o --mpi --native --recompute" ;;
        export) opts="--help -D -o --weights" ;;
        import) opts="--help -o" ;;
        esac
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        [[ ${COMPREPLY[0]} == *= ]] && compopt -o nospace
        return
    fi
    if [ "$cmd" = import ]; then
        COMPREPLY=($(compgen -f -X '!*.onnx' -- "$cur") $(compgen -d -- "$cur"))
    else
        COMPREPLY=($(compgen -f -X '!*.dlm' -- "$cur") $(compgen -d -- "$cur"))
    fi
}
complete -F _dlc dlc

# A trainer's flags, read from its own --help so they match the dlc that built it; file names after the flags
# that take one, nothing after those that take a number.
_dlc_train() {
    local cur prev
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    case $prev in
    --epochs|--batch|--lr|--seed|--limit|--threads|--kfold|--valid) return ;;
    --data|--report|--metrics|--plot|--save|--save-best|--load|--resume|--show-samples|--show-predictions|\
    --submission) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    esac
    if [[ $cur == -* ]]; then
        local opts
        opts=$("$1" --help 2>/dev/null | sed -n 's/^  \(--[a-z-]*\).*/\1/p')
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return
    fi
    COMPREPLY=($(compgen -f -- "$cur"))
}
