//! `git okstra shell-init <shell>`: the shell function `okstra` (DESIGN §3). A git
//! subcommand cannot change its caller's directory; this function runs `git okstra "$@"`
//! and, when the command was `task start`, `task phase` or `phase` and it succeeded, `cd`s
//! into the folder it printed last on stdout.
//!
//! stdout is captured only for those commands, and never with `--exec` (the agent CLI
//! needs the terminal) or `--help`; everything else runs untouched.

use crate::completion::Shell;

const POSIX: &str = r#"# git-okstra shell integration: eval "$(git okstra shell-init SHELL)"
# `okstra …` runs `git okstra …`; after a successful `task start`, `task phase` or `phase`
# it cd's into the folder the command printed last on stdout.
okstra() {
    __okstra_words=""
    __okstra_capture=1
    for __okstra_a in "$@"; do
        case "$__okstra_a" in
            --exec|--exec=*|-h|--help) __okstra_capture=0 ;;
            -*) ;;
            *) __okstra_words="$__okstra_words $__okstra_a" ;;
        esac
    done
    case "$__okstra_words" in
        " task start"*|" task phase"*|" phase"*) ;;
        *) __okstra_capture=0 ;;
    esac
    unset __okstra_a __okstra_words
    if [ "$__okstra_capture" = 0 ]; then
        unset __okstra_capture
        command git okstra "$@"
        return
    fi
    unset __okstra_capture
    __okstra_out="$(command git okstra "$@")"
    __okstra_rc=$?
    if [ -n "$__okstra_out" ]; then
        printf '%s\n' "$__okstra_out"
    fi
    if [ "$__okstra_rc" -eq 0 ]; then
        __okstra_dir="$(printf '%s\n' "$__okstra_out" | tail -n 1)"
        if [ -n "$__okstra_dir" ] && [ -d "$__okstra_dir" ]; then
            cd -- "$__okstra_dir" || __okstra_rc=1
        fi
    fi
    unset __okstra_out __okstra_dir
    return "$__okstra_rc"
}
"#;

const FISH: &str = r#"# git-okstra shell integration: git okstra shell-init fish | source
# `okstra …` runs `git okstra …`; after a successful `task start`, `task phase` or `phase`
# it cd's into the folder the command printed last on stdout.
function okstra --description 'git okstra, then cd into the task worktree after task start/phase'
    set -l words
    set -l capture 1
    for a in $argv
        switch $a
            case --exec '--exec=*' -h --help
                set capture 0
            case '-*'
            case '*'
                set -a words $a
        end
    end
    if not begin
            test "$words[1]" = task; and contains -- "$words[2]" start phase
        end; and test "$words[1]" != phase
        set capture 0
    end
    if test $capture = 0
        command git okstra $argv
        return $status
    end
    set -l out (command git okstra $argv)
    set -l rc $status
    if test (count $out) -gt 0
        printf '%s\n' $out
    end
    if test $rc -eq 0; and test (count $out) -gt 0; and test -d "$out[-1]"
        cd -- $out[-1]; or set rc 1
    end
    return $rc
end
"#;

/// The function definition for `shell`.
pub fn script(shell: Shell) -> String {
    match shell {
        Shell::Bash => POSIX.replace("SHELL", "bash"),
        Shell::Zsh => POSIX.replace("SHELL", "zsh"),
        Shell::Fish => FISH.to_string(),
    }
}
