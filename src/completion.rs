//! Shell completion: the scripts `git okstra completions <shell>` prints (clap_complete's,
//! plus what git's own completion needs) and the engine behind `git okstra __complete`,
//! which walks the clap definitions so every command that exists completes, and fills in
//! task ids and phases from the registry.
//!
//! It never fails loudly: a completion that cannot be computed is an empty list.

use std::path::Path;

use clap::{Arg, Command, ValueEnum};
use clap_complete::Shell as ClapShell;

use crate::phase::Phase;
use crate::task::worktree::Context;

/// The shells we print scripts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// The command name the scripts complete (git runs `git-okstra` for `git okstra`).
pub const BIN: &str = "git-okstra";

/// The completion script for `shell`.
pub fn script(shell: Shell, mut cmd: Command) -> String {
    let mut buf = Vec::new();
    let clap_shell = match shell {
        Shell::Bash => ClapShell::Bash,
        Shell::Zsh => ClapShell::Zsh,
        Shell::Fish => ClapShell::Fish,
    };
    cmd = without_hidden(&cmd).bin_name(BIN);
    clap_complete::generate(clap_shell, &mut cmd, BIN, &mut buf);
    let mut text = String::from_utf8_lossy(&buf).into_owned();
    cmd.build();
    match shell {
        Shell::Bash => text.push_str(BASH_GIT),
        Shell::Zsh => text = zsh_dynamic(&text),
        Shell::Fish => text.push_str(&fish_dynamic(&cmd)),
    }
    text
}

/// clap_complete lists hidden subcommands too: the helpers (`__complete`, `__man`) are no
/// one's to type, so the scripts are made from a copy without them.
fn without_hidden(cmd: &Command) -> Command {
    let mut out = Command::new(cmd.get_name().to_string())
        .args(cmd.get_arguments().cloned())
        .subcommands(cmd.get_subcommands().filter(|s| !s.is_hide_set()).map(without_hidden));
    if let Some(v) = cmd.get_version() {
        out = out.version(v.to_string());
    }
    if let Some(a) = cmd.get_about() {
        out = out.about(a.clone());
    }
    out
}

/// git's bash completion calls `_git_<subcommand>` for `git <subcommand> …` (and loads
/// `completions/git-okstra` on demand to find it). It sets `words`, `cword`, `cur` and,
/// from git 2.30, `__git_cmd_idx` (the index of `okstra` in `words`).
const BASH_GIT: &str = r#"
# git's own completion calls this for `git okstra <TAB>`.
_git_okstra ()
{
	local idx=${__git_cmd_idx:-1} cands
	local -a args=("${words[@]:idx+1:cword-idx}")
	if declare -F __git >/dev/null 2>&1; then
		cands="$(__git okstra __complete words -- "${args[@]}")"
	else
		cands="$(git okstra __complete words -- "${args[@]}" 2>/dev/null)"
	fi
	if declare -F __gitcomp_nl >/dev/null 2>&1; then
		__gitcomp_nl "$cands"
	else
		local IFS=$'\n'
		COMPREPLY=($(compgen -W "$cands" -- "$cur"))
	fi
}
"#;

/// clap_complete's zsh script completes positionals with `_default` (files); task and
/// phase arguments get our dynamic lists instead.
fn zsh_dynamic(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let l = if line.trim_start().starts_with("':task") || line.trim_start().starts_with("'::task") {
            line.replace(":_default'", ":_git_okstra_tasks'")
        } else if line.trim_start().starts_with("':phase") || line.trim_start().starts_with("'::phase") {
            line.replace(":_default'", ":_git_okstra_phases'")
        } else {
            line.to_string()
        };
        out.push_str(&l);
        out.push('\n');
    }
    let helpers = r#"
(( $+functions[_git_okstra_tasks] )) ||
_git_okstra_tasks() {
    local -a tasks
    tasks=(${(f)"$(git okstra __complete tasks 2>/dev/null)"})
    compadd -a tasks
}
(( $+functions[_git_okstra_phases] )) ||
_git_okstra_phases() {
    local -a phases
    phases=(${(f)"$(git okstra __complete phases 2>/dev/null)"})
    compadd -a phases
}
"#;
    // The helpers must exist before the `compdef` call at the end runs the completion.
    match out.rfind("\nif [ \"$funcstack[1]\" = \"_git-okstra\" ]") {
        Some(i) => {
            out.insert_str(i + 1, helpers.trim_start());
            out
        }
        None => out + helpers,
    }
}

/// fish accumulates `complete` lines: add registry-backed ones for task and phase arguments.
fn fish_dynamic(root: &Command) -> String {
    let mut out = String::from("\n# Task ids and phases from the registry.\n");
    fn walk(cmd: &Command, path: &mut Vec<String>, out: &mut String) {
        for arg in cmd.get_positionals() {
            let source = match arg.get_id().as_str() {
                "task" | "task_id" => "tasks",
                "phase" => "phases",
                _ => continue,
            };
            if !path.is_empty() {
                let cond = path.iter().map(|p| format!("__fish_seen_subcommand_from {p}")).collect::<Vec<_>>();
                out.push_str(&format!(
                    "complete -c {BIN} -f -n '{}' -a '(git okstra __complete {source} 2>/dev/null)'\n",
                    cond.join("; and ")
                ));
            }
        }
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            path.push(sub.get_name().to_string());
            walk(sub, path, out);
            path.pop();
        }
    }
    walk(root, &mut Vec::new(), &mut out);
    out
}

/// Candidates for the last word of `words` (the words after `okstra`; the last one is the
/// word being completed, possibly empty).
pub fn candidates(root: &Command, words: &[String], cwd: &Path) -> Vec<String> {
    let mut root = root.clone();
    root.build();
    let (cur, done) = match words.split_last() {
        Some((c, d)) => (c.as_str(), d),
        None => ("", &[][..]),
    };
    let mut cmd = &root;
    let mut positional = 0;
    let mut pending: Option<&Arg> = None;
    let mut after_dashes = false;
    for w in done {
        if pending.take().is_some() {
            continue;
        }
        if !after_dashes && w == "--" {
            after_dashes = true;
        } else if !after_dashes && w.starts_with("--") {
            let (name, inline) = match w[2..].split_once('=') {
                Some((n, _)) => (n, true),
                None => (&w[2..], false),
            };
            let arg = cmd.get_arguments().find(|a| a.get_long() == Some(name));
            pending = arg.filter(|a| !inline && takes_value(a));
        } else if !after_dashes && w.starts_with('-') && w.len() > 1 {
            let short = w.chars().nth(1);
            let arg = cmd.get_arguments().find(|a| a.get_short() == short);
            pending = arg.filter(|a| w.chars().count() == 2 && takes_value(a));
        } else if let Some(sub) = cmd.get_subcommands().find(|s| s.get_name() == w && !s.is_hide_set()) {
            cmd = sub;
            positional = 0;
        } else {
            positional += 1;
        }
    }
    let all = if let Some(arg) = pending {
        values(arg, cwd)
    } else if cur.starts_with('-') {
        let mut v: Vec<String> = cmd
            .get_arguments()
            .filter(|a| !a.is_hide_set() && !a.is_positional())
            .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
            .collect();
        v.sort();
        v
    } else if cmd.has_subcommands() {
        cmd.get_subcommands().filter(|s| !s.is_hide_set()).map(|s| s.get_name().to_string()).collect()
    } else {
        cmd.get_positionals().nth(positional).map(|a| values(a, cwd)).unwrap_or_default()
    };
    all.into_iter().filter(|c| c.starts_with(cur)).collect()
}

fn takes_value(a: &Arg) -> bool {
    a.get_action().takes_values()
}

/// Values for an argument: its declared possible values, else task ids or phases by name.
fn values(arg: &Arg, cwd: &Path) -> Vec<String> {
    let possible: Vec<String> =
        arg.get_possible_values().iter().filter(|p| !p.is_hide_set()).map(|p| p.get_name().to_string()).collect();
    if !possible.is_empty() {
        return possible;
    }
    match arg.get_id().as_str() {
        "task" | "task_id" => tasks(cwd),
        "phase" => phases(),
        "exec" => ["claude", "codex", "gemini"].map(String::from).to_vec(),
        "category" => crate::task::names::Category::ALL.iter().map(|c| c.name().to_string()).collect(),
        _ => Vec::new(),
    }
}

/// Every phase name, in order.
pub fn phases() -> Vec<String> {
    Phase::ALL.iter().map(|p| p.name().to_string()).collect()
}

/// Task ids of this repository's active tasks (as typed at `task start`); outside a
/// repository, every task key.
pub fn tasks(cwd: &Path) -> Vec<String> {
    let Ok(Some(ctx)) = Context::discover(cwd) else {
        let Ok(home) = crate::config::okstra_home() else { return Vec::new() };
        let Ok(reg) = crate::task::registry::Store::at_home(&home).load() else { return Vec::new() };
        return reg.tasks.values().map(|r| r.key()).collect();
    };
    let Ok(reg) = ctx.store.load() else { return Vec::new() };
    let repo = ctx.repo_id();
    let mut v: Vec<String> = reg
        .tasks
        .values()
        .filter(|r| r.repo == repo && r.status == crate::task::registry::Status::Active)
        .map(|r| if r.task_id_raw.is_empty() { r.task_id.clone() } else { r.task_id_raw.clone() })
        .collect();
    v.sort();
    v.dedup();
    v
}
