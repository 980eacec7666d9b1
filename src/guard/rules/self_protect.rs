//! Rule families `self-protect` and `override`: an agent may not reconfigure what judges it.
//! Refused, by any means the shell offers (`git config`, `>`, `sed -i`, `cp`, `mv`, `rm`,
//! `chmod`, an editor, a host's file tool): writes to `okstra.*`, `core.hooksPath`,
//! `include.*`/`includeIf.*` at any config level, to git config files, to the hook files, to
//! the agent hosts' settings files, to the okstra home and the audit log; and the user's
//! `OKSTRA_ALLOW` override set or exported.

use std::path::{Path, PathBuf};

use super::super::expand::{glob_match, Arg};
use super::super::files::{self, Effect};
use super::super::git_command::{config_key_eq, run_time, Call};
use super::super::git_grammar::Parsed;
use super::super::{git_runs, Context};
use super::{block, RuleDef};
use crate::policy::{Rule, Violation};

const ASK: &str = "these settings are the user's; stop and ask the user to make the change";

pub const RULES: &[RuleDef] = &[
    RuleDef { id: "self-protect:config", rule: Rule::SelfProtect, what: "`git config` writing `okstra.*`, `core.hooksPath`, `include.*`, `includeIf.*` (any level, any file, `--unset`, `rename-section`, `--edit`)", instead: ASK },
    RuleDef { id: "self-protect:inline-config", rule: Rule::SelfProtect, what: "`okstra.*` set for one command (`git -c okstra.protectedBranch=…`)", instead: ASK },
    RuleDef { id: "self-protect:git-config-file", rule: Rule::SelfProtect, what: "changing a git config file by other means (`.git/config`, `config.worktree`, `~/.gitconfig`, `~/.config/git/config`, `/etc/gitconfig`), or the `.git` itself", instead: ASK },
    RuleDef { id: "self-protect:hook-file", rule: Rule::SelfProtect, what: "changing the hook files or folder (`.git/hooks/*`, `core.hooksPath`)", instead: ASK },
    RuleDef { id: "self-protect:host-settings", rule: Rule::SelfProtect, what: "changing the agent hosts' settings (`.claude/settings*.json`, `.gemini/settings.json`, `.cursor/hooks.json`, `.codex/hooks.json` and `config.toml`, also under `$CODEX_HOME`)", instead: ASK },
    RuleDef { id: "self-protect:okstra-home", rule: Rule::SelfProtect, what: "changing the okstra home (`$OKSTRA_HOME`, `~/.okstra`: the registry and the worktree folders; a task's own files are fine)", instead: ASK },
    RuleDef { id: "self-protect:audit-log", rule: Rule::SelfProtect, what: "changing the audit log (`<git dir>/okstra/`)", instead: ASK },
    RuleDef { id: "self-protect:task-marker", rule: Rule::SelfProtect, what: "changing what marks a task worktree for the `pre-commit` hook (`<git dir>/worktrees/<id>/okstra/`)", instead: ASK },
    RuleDef { id: "self-protect:env", rule: Rule::SelfProtect, what: "`OKSTRA_HOME=…` set for a command or exported (the registry the guard and the hooks read)", instead: ASK },
    RuleDef { id: "override:set", rule: Rule::Override, what: "`OKSTRA_ALLOW=…` for a command", instead: "never set OKSTRA_ALLOW yourself; only the user may use the override" },
    RuleDef { id: "override:export", rule: Rule::Override, what: "`export OKSTRA_ALLOW`", instead: "never set OKSTRA_ALLOW yourself; only the user may use the override" },
];

/// `OKSTRA_ALLOW=…` set for a command or exported; `OKSTRA_HOME=…`, which would point the
/// hooks and nested okstra commands at another registry.
pub fn assignment(name: &str, subject: &str) -> Option<Violation> {
    if name == crate::config::ENV_HOME {
        return Some(block("self-protect:env", subject, "setting OKSTRA_HOME points okstra at another registry"));
    }
    (name == crate::config::ENV_ALLOW)
        .then(|| block("override:set", subject, "setting OKSTRA_ALLOW is the user's override, never an agent's"))
}

/// `export OKSTRA_ALLOW` (no value) exports a value set earlier: the same use.
pub fn export_name(name: &str, subject: &str) -> Option<Violation> {
    if name == crate::config::ENV_HOME {
        return Some(block("self-protect:env", subject, "exporting OKSTRA_HOME points okstra at another registry"));
    }
    (name == crate::config::ENV_ALLOW)
        .then(|| block("override:export", subject, "exporting OKSTRA_ALLOW is the user's override, never an agent's"))
}

/// Config keys that are the policy: `okstra.*`, `core.hooksPath`, `include.*`, `includeIf.*`.
fn policy_key(key: &str) -> bool {
    let section = key.split('.').next().unwrap_or("").to_ascii_lowercase();
    matches!(section.as_str(), "okstra" | "include" | "includeif") || config_key_eq(key, "core.hooksPath")
}

/// Sections a rename or removal may not touch (`core` holds `core.hooksPath`).
fn policy_section(name: &str) -> bool {
    let section = name.split('.').next().unwrap_or("").to_ascii_lowercase();
    matches!(section.as_str(), "okstra" | "include" | "includeif" | "core")
}

/// `git -c okstra.…=…`: the policy changed for one command.
pub fn inline_config(key: &str, subject: &str) -> Option<Violation> {
    key.to_ascii_lowercase().starts_with("okstra.").then(|| {
        block("self-protect:inline-config", subject, format!("`-c {key}` changes the policy that judges this command"))
    })
}

/// What a `git config` invocation does: write these keys (with these values) or sections.
enum ConfigOp<'a> {
    Read,
    Edit,
    Set(&'a Arg, Option<&'a Arg>),
    Sections(Vec<&'a Arg>),
}

fn config_op<'a>(key: &str, p: &'a Parsed) -> ConfigOp<'a> {
    let ops: Vec<&Arg> = p.operands.iter().collect();
    let first = |n: usize| ops.get(n).copied();
    match key {
        "config set" => first(0).map_or(ConfigOp::Read, |k| ConfigOp::Set(k, first(1))),
        "config unset" => first(0).map_or(ConfigOp::Read, |k| ConfigOp::Set(k, None)),
        "config rename-section" | "config remove-section" => ConfigOp::Sections(ops),
        "config edit" => ConfigOp::Edit,
        _ if p.on("edit") => ConfigOp::Edit,
        _ if p.on("rename-section") || p.on("remove-section") => ConfigOp::Sections(ops),
        _ if ["unset", "unset-all"].iter().any(|o| p.on(o)) => {
            first(0).map_or(ConfigOp::Read, |k| ConfigOp::Set(k, None))
        }
        _ if ["add", "replace-all"].iter().any(|o| p.on(o)) => {
            first(0).map_or(ConfigOp::Read, |k| ConfigOp::Set(k, first(1)))
        }
        _ if ["get", "get-all", "get-regexp", "get-urlmatch", "get-color", "get-colorbool", "list"]
            .iter()
            .any(|o| p.on(o)) =>
        {
            ConfigOp::Read
        }
        _ if matches!(first(0).and_then(Arg::known), Some("get" | "list")) => ConfigOp::Read,
        _ if ops.len() >= 2 => ConfigOp::Set(ops[0], Some(ops[1])),
        _ => ConfigOp::Read,
    }
}

/// `git config …` writing the policy's keys, or a command key whose value would be refused.
pub fn git_config(call: &Call, key: &str, p: &Parsed, ctx: &mut Context) -> Option<Violation> {
    if call.sub != "config" {
        return None;
    }
    let s = call.subject;
    match config_op(key, p) {
        ConfigOp::Read => None,
        ConfigOp::Edit => Some(block(
            "self-protect:config",
            s,
            "`git config --edit` can change every setting, the guard's own included",
        )),
        ConfigOp::Sections(names) => names.into_iter().find_map(|n| match n.known() {
            None => Some(run_time(s, n, "names the config section this changes")),
            Some(t) if policy_section(t) => Some(block(
                "self-protect:config",
                s,
                format!("renaming or removing the `{t}` section changes the policy that judges agents"),
            )),
            Some(_) => None,
        }),
        ConfigOp::Set(k, value) => {
            let Some(name) = k.known() else { return Some(run_time(s, k, "names the config key this writes")) };
            if policy_key(name) {
                return Some(block(
                    "self-protect:config",
                    s,
                    format!("`git config {name}` changes the policy that judges agents"),
                ));
            }
            let value = value.cloned().unwrap_or_else(|| Arg::lit(""));
            git_runs::config(name, &value, s, call.depth, ctx)
        }
    }
}

/// A file a command changes: refused when it is one of the guard's own.
pub fn path(effect: Effect, a: &Arg, subject: &str, ctx: &mut Context) -> Option<Violation> {
    if a.text.is_empty() && a.exact {
        return None;
    }
    if !a.alts.is_empty() {
        return a.alts.iter().find_map(|alt| {
            let glob = alt.contains(['*', '?', '[']);
            let arg = Arg { text: alt.clone(), exact: !glob, glob, can_be_option: false, alts: Vec::new() };
            path(effect, &arg, subject, ctx)
        });
    }
    if a.glob {
        return glob_path(effect, a, subject, ctx);
    }
    if !a.exact {
        return Some(run_time(subject, a, &format!("is a file this command {}", effect.verb())));
    }
    let Some(p) = ctx.resolve(&a.text) else {
        return Some(run_time(subject, a, "is relative to a folder only known at run time"));
    };
    let p = files::real(&p, a.text.ends_with('/'));
    ctx.written.push(p.clone());
    let (id, what) = protected(&p, effect, ctx)?;
    Some(block(id, subject, format!("this command {} {} ({what})", effect.verb(), p.display())))
}

/// Names the guard protects, for matching a pattern's last component against.
const PROTECTED_NAMES: &[&str] = &[
    ".git",
    "config",
    "config.worktree",
    "hooks",
    "okstra",
    ".gitconfig",
    ".claude",
    ".gemini",
    ".cursor",
    "settings.json",
    "settings.local.json",
    "hooks.json",
    ".okstra",
    "registry.json",
];

/// `rm .git/hooks/*`, `cp x .claude/settings*`: the pattern's folder, with each protected
/// name it could match.
fn glob_path(effect: Effect, a: &Arg, subject: &str, ctx: &mut Context) -> Option<Violation> {
    let first_glob = a.text.find(['*', '?', '[']).unwrap_or(0);
    let (dir, pattern) = match a.text[..first_glob].rfind('/') {
        Some(i) => (&a.text[..i], &a.text[i + 1..]),
        None => (".", a.text.as_str()),
    };
    if pattern.contains('/') || dir.contains('$') {
        return Some(run_time(subject, a, &format!("is a pattern of files this command {}", effect.verb())));
    }
    let dir = if dir.is_empty() { "/" } else { dir };
    // What bash expands the pattern to: the names in the folder that match (dot files only for
    // a pattern starting with a dot), else the pattern itself. The protected names count too,
    // as the command may create them before this word runs.
    let mut names: Vec<String> = ctx
        .resolve(dir)
        .and_then(|d| std::fs::read_dir(d).ok())
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    if effect == Effect::Write {
        names.extend(PROTECTED_NAMES.iter().chain(crate::hooks::HOOK_NAMES).map(|n| n.to_string()));
    }
    let hits: Vec<String> = names
        .into_iter()
        .filter(|n| glob_match(pattern, n) && (pattern.starts_with('.') || !n.starts_with('.')))
        .collect();
    if hits.is_empty() {
        return path(effect, &Arg::lit(a.text.clone()), subject, ctx);
    }
    hits.iter().find_map(|name| path(effect, &Arg::lit(format!("{dir}/{name}")), subject, ctx))
}

fn comps(p: &Path) -> Vec<String> {
    p.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect()
}

/// Whether a path is one the guard protects, and which rule says so.
fn protected(p: &Path, effect: Effect, ctx: &mut Context) -> Option<(&'static str, &'static str)> {
    let c = comps(p);
    let tail: Vec<&str> = c.iter().map(String::as_str).collect();
    if let Some(i) = tail.iter().rposition(|x| *x == ".git") {
        match &tail[i + 1..] {
            // Removing `.git` itself is `discard:rm-worktree`'s; writing or re-moding it is ours.
            [] if effect != Effect::Remove => {
                return Some(("self-protect:git-config-file", "the repository's .git itself"))
            }
            ["config"] | ["config.worktree"] | ["worktrees", _, "config.worktree"] => {
                return Some(("self-protect:git-config-file", "the repository's git config"))
            }
            ["hooks", ..] => return Some(("self-protect:hook-file", "the git hooks")),
            // Written directly, HEAD would name a branch the guard did not see the switch to.
            ["HEAD"] | ["worktrees", _, "HEAD"] => {
                return Some(("self-protect:git-config-file", "the repository's HEAD"))
            }
            ["okstra", ..] => return Some(("self-protect:audit-log", "okstra's audit log")),
            ["worktrees", _, "okstra", ..] => {
                return Some(("self-protect:task-marker", "okstra's marker of a task worktree"))
            }
            ["worktrees", _, "config.worktree", ..] => {
                return Some(("self-protect:git-config-file", "a worktree's git config"))
            }
            _ => {}
        }
    }
    let host = |dir: &str, name: &str| match dir {
        ".claude" => glob_match("settings*.json", name),
        ".gemini" => name == "settings.json",
        ".cursor" => name == "hooks.json",
        ".codex" => name == "hooks.json" || name == "config.toml",
        _ => false,
    };
    let codex_home = crate::guard::agents::codex_home().map(|h| files::normalize(&h));
    let in_codex_home = |name: &str| codex_home.as_ref().is_some_and(|h| p == h.join(name));
    if in_codex_home("hooks.json") || in_codex_home("config.toml") {
        return Some(("self-protect:host-settings", "Codex's hooks and their trust, where the guard is installed"));
    }
    match tail.as_slice() {
        [.., d, n] if host(d, n) => {
            return Some(("self-protect:host-settings", "an agent host's settings, where the guard is installed"))
        }
        [.., d] if matches!(*d, ".claude" | ".gemini" | ".cursor" | ".codex") && effect != Effect::Write => {
            return Some(("self-protect:host-settings", "an agent host's settings folder"))
        }
        [.., n] if *n == ".gitconfig" => return Some(("self-protect:git-config-file", "a git config file")),
        [.., a, b, n] if *a == ".config" && *b == "git" && *n == "config" => {
            return Some(("self-protect:git-config-file", "the user's git config"))
        }
        _ => {}
    }
    if p == Path::new("/etc/gitconfig") {
        return Some(("self-protect:git-config-file", "the system git config"));
    }
    okstra_home(p).or_else(|| locations(p, effect, ctx))
}

/// The okstra home, except the files inside a task's worktree.
fn okstra_home(p: &Path) -> Option<(&'static str, &'static str)> {
    let home = files::normalize(&crate::config::okstra_home().ok()?);
    let rel = p.strip_prefix(&home).ok()?;
    let c = comps(rel);
    let task_content = c.len() > 4 && c[0] == "worktrees";
    (!task_content).then_some(("self-protect:okstra-home", "the okstra home"))
}

/// The repository's hook folder (also a custom `core.hooksPath`), and folders that hold a
/// protected file (`rm -rf ~`, `mv .claude x`), found through the repository at the host's folder.
fn locations(p: &Path, effect: Effect, ctx: &mut Context) -> Option<(&'static str, &'static str)> {
    let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let hookish = crate::hooks::HOOK_NAMES.contains(&name.as_str()) || p.components().any(|c| c.as_os_str() == "hooks");
    if !hookish && effect == Effect::Write {
        return None;
    }
    let origin = ctx.origin.clone();
    let repo = ctx.repo(&origin);
    let mut held: Vec<(PathBuf, &'static str, &'static str)> = Vec::new();
    if let Some(r) = &repo {
        held.push((files::normalize(&r.hooks_dir()), "self-protect:hook-file", "the git hooks"));
        held.push((r.common_dir.clone(), "self-protect:git-config-file", "a repository's .git"));
    }
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        held.push((PathBuf::from(home).join(".gitconfig"), "self-protect:git-config-file", "the user's git config"));
    }
    if let Ok(h) = crate::config::okstra_home() {
        held.push((files::normalize(&h), "self-protect:okstra-home", "the okstra home"));
    }
    for (loc, id, what) in held {
        let inside = files::within(p, &loc) && id == "self-protect:hook-file";
        let holds = effect == Effect::Mode && files::within(&loc, p);
        if inside || holds {
            return Some((id, what));
        }
    }
    None
}

/// `git okstra hooks uninstall [--agent …]`: the guard's own hooks or host settings taken out.
pub fn okstra(args: &[Arg], subject: &str) -> Option<Violation> {
    let words: Vec<&str> =
        args.iter().map(|a| a.text.as_str()).filter(|w| !w.starts_with('-') || *w == "--agent").collect();
    match words.as_slice() {
        ["hooks", "uninstall", "--agent", ..] => Some(block(
            "self-protect:host-settings",
            subject,
            "`git okstra hooks uninstall --agent` takes the guard out of the agent host's settings",
        )),
        ["hooks", "uninstall", ..] => {
            Some(block("self-protect:hook-file", subject, "`git okstra hooks uninstall` takes the git hooks out"))
        }
        _ => None,
    }
}

/// A host's file tool (Claude Code `Write`/`Edit`, Gemini CLI `write_file`/`replace`) writing `path`.
pub fn tool_file(path_text: &str, subject: &str, ctx: &mut Context) -> Option<Violation> {
    path(Effect::Write, &Arg::lit(path_text), subject, ctx)
}
