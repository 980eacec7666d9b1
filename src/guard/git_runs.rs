//! The commands git itself runs: from options (`rebase -x`, `difftool -x`, `submodule
//! foreach`, `bisect run`, `push --receive-pack`, `fetch --upload-pack`), from config
//! (`core.fsmonitor`, `core.pager`, `credential.helper=!…`, `diff.external`, aliases, …, set
//! with `-c` or written with `git config`) and from the environment (`GIT_EDITOR`,
//! `GIT_SEQUENCE_EDITOR`, `GIT_PAGER`, `GIT_SSH_COMMAND`, …). Their text is judged as the
//! script it is, with the argument git appends; a command only known at run time is refused.

use super::expand::Arg;
use super::git_command::{run_time, Call};
use super::git_grammar::Parsed;
use super::{walk, Context};
use crate::policy::Violation;

/// What git appends to an editor or tool command: a file in its git dir.
const GIT_FILE: &str = ".git/COMMIT_EDITMSG";

/// Judge `text` (a command git runs through the shell) with git's argument appended.
fn script(text: &str, append: bool, depth: usize, ctx: &mut Context) -> Option<Violation> {
    let full = if append { format!("{text} {GIT_FILE}") } else { text.to_string() };
    walk::check_script(&full, depth + 1, ctx)
}

fn judged(a: &Arg, what: &str, append: bool, subject: &str, depth: usize, ctx: &mut Context) -> Option<Violation> {
    if !a.exact {
        return Some(run_time(subject, a, &format!("is the command git runs for {what}")));
    }
    script(&a.text, append, depth, ctx)
}

/// Options whose value is a command git runs.
pub fn options(call: &Call, p: &Parsed, ctx: &mut Context) -> Option<Violation> {
    let (s, d) = (call.subject, call.depth);
    let runs: &[(&str, bool)] = match call.sub.as_str() {
        "rebase" => &[("exec", false)],
        "difftool" => &[("extcmd", true)],
        "push" | "send-pack" => &[("receive-pack", false), ("exec", false)],
        "fetch" | "pull" | "clone" | "ls-remote" | "fetch-pack" => &[("upload-pack", false)],
        "submodule" => return submodule_foreach(p, s, d, ctx),
        "bisect" => return bisect_run(p, s, d, ctx),
        _ => return None,
    };
    for (opt, append) in runs {
        for v in p.values(opt) {
            if let Some(v) = judged(v, &format!("`--{opt}`"), *append, s, d, ctx) {
                return Some(v);
            }
        }
    }
    None
}

/// `git submodule [--quiet] foreach [--recursive] '<command>'`.
fn submodule_foreach(p: &Parsed, s: &str, d: usize, ctx: &mut Context) -> Option<Violation> {
    let at = p.operands.iter().position(|a| a.known() == Some("foreach"))?;
    let cmd: Vec<&Arg> = p.operands[at + 1..].iter().skip_while(|a| a.text.starts_with('-') && a.exact).collect();
    if let Some(a) = cmd.iter().find(|a| !a.exact) {
        return Some(run_time(s, a, "is the command `git submodule foreach` runs"));
    }
    let text = cmd.iter().map(|a| a.text.as_str()).collect::<Vec<_>>().join(" ");
    script(&text, false, d, ctx)
}

/// `git bisect run <command…>`.
fn bisect_run(p: &Parsed, s: &str, d: usize, ctx: &mut Context) -> Option<Violation> {
    (p.operands.first().and_then(Arg::known) == Some("run")).then_some(())?;
    walk::run(&p.operands[1..], &[], s, d + 1, ctx)
}

/// Config keys whose value is a command; `true` when git appends a file argument.
fn command_key(key: &str) -> Option<bool> {
    let k = key.to_ascii_lowercase();
    let exact = [
        ("core.fsmonitor", false),
        ("core.pager", false),
        ("core.editor", true),
        ("sequence.editor", true),
        ("core.sshcommand", false),
        ("core.askpass", false),
        ("core.gitproxy", false),
        ("diff.external", true),
        ("gpg.program", false),
        ("uploadpack.packobjectshook", false),
        ("interactive.difffilter", false),
    ];
    if let Some((_, a)) = exact.iter().find(|(e, _)| *e == k) {
        return Some(*a);
    }
    let (section, rest) = k.split_once('.')?;
    let name = rest.rsplit('.').next().unwrap_or(rest);
    match (section, name) {
        ("pager", _) => Some(false),
        ("difftool" | "mergetool", "cmd") => Some(false),
        ("diff", "command" | "textconv") | ("merge", "driver") => Some(true),
        ("filter", "clean" | "smudge" | "process") => Some(false),
        ("gpg", "program") => Some(false),
        ("remote", "receivepack" | "uploadpack") => Some(false),
        _ => None,
    }
}

/// A config setting (inline `-c`, `GIT_CONFIG_*`, or written by `git config`) whose value git
/// runs: the value judged as a script. `alias.*` is judged as the alias would run.
pub fn config(key: &str, value: &Arg, subject: &str, depth: usize, ctx: &mut Context) -> Option<Violation> {
    let lower = key.to_ascii_lowercase();
    if let Some(name) = lower.strip_prefix("alias.") {
        if !value.exact {
            return Some(run_time(subject, value, &format!("is what the git alias `{name}` runs")));
        }
        let text = match value.text.trim_start().strip_prefix('!') {
            Some(sh) => sh.to_string(),
            None => format!("git {}", value.text),
        };
        return script(&text, false, depth, ctx);
    }
    if lower == "credential.helper" {
        // `!cmd` and paths run as commands; a bare name is `git credential-<name>`.
        let t = value.text.trim_start();
        let cmd = match t.strip_prefix('!') {
            Some(c) => c.to_string(),
            None if t.contains('/') => t.to_string(),
            None if value.exact => return None,
            None => return Some(run_time(subject, value, "is the credential helper git runs")),
        };
        return judged(&Arg { text: cmd, ..value.clone() }, "`credential.helper`", false, subject, depth, ctx);
    }
    let append = command_key(key)?;
    if value.exact
        && matches!(
            value.text.to_ascii_lowercase().as_str(),
            "" | "true" | "false" | "yes" | "no" | "on" | "off" | "1" | "0"
        )
    {
        return None; // a boolean (`core.fsmonitor=true`, `pager.log=false`) runs nothing of its own
    }
    judged(value, &format!("`{key}`"), append, subject, depth, ctx)
}

/// Environment variables whose value is a command git (or the shell it starts) runs.
const COMMAND_VARS: &[(&str, bool)] = &[
    ("GIT_EDITOR", true),
    ("GIT_SEQUENCE_EDITOR", true),
    ("EDITOR", true),
    ("VISUAL", true),
    ("GIT_PAGER", false),
    ("PAGER", false),
    ("GIT_SSH_COMMAND", false),
    ("GIT_SSH", false),
    ("GIT_ASKPASS", false),
    ("SSH_ASKPASS", false),
    ("GIT_EXTERNAL_DIFF", true),
    ("GIT_PROXY_COMMAND", false),
];

/// `NAME=value` (for a command, or exported) where git would run the value.
pub fn assignment(name: &str, value: &Arg, subject: &str, depth: usize, ctx: &mut Context) -> Option<Violation> {
    let (_, append) = COMMAND_VARS.iter().find(|(n, _)| *n == name)?;
    if value.exact && value.text.trim().is_empty() {
        return None;
    }
    judged(value, &format!("`{name}`"), *append, subject, depth, ctx)
}
