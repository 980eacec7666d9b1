//! Rule family commit/hooks: `no-verify` (a commit, merge, rebase or am that skips its hooks)
//! and `hook-bypass` (the hooks switched off another way: `core.hooksPath` or an included
//! config file for one command, hook-manager variables such as `HUSKY=0`, and a different
//! `HOME`/global/system config for git).

use super::super::expand::Arg;
use super::super::git_command::{config_key_eq, Call};
use super::super::git_grammar::Parsed;
use super::{block, RuleDef};
use crate::policy::{Rule, Violation};

const RUN_WITH_HOOKS: &str = "run it again without --no-verify/-n and fix what the hooks report";
const HOOKS_ON: &str = "leave the hooks switched on (no core.hooksPath or include override, no HUSKY=0, LEFTHOOK=0 or SKIP=, no other HOME or git config for git) and fix what they report";

pub const RULES: &[RuleDef] = &[
    RuleDef {
        id: "no-verify:commit",
        rule: Rule::NoVerify,
        what: "`git commit --no-verify`/`-n` (also abbreviated, `--no-veri`)",
        instead: RUN_WITH_HOOKS,
    },
    RuleDef {
        id: "no-verify:merge",
        rule: Rule::NoVerify,
        what: "`git merge --no-verify`, `git pull --no-verify`",
        instead: RUN_WITH_HOOKS,
    },
    RuleDef { id: "no-verify:rebase", rule: Rule::NoVerify, what: "`git rebase --no-verify`", instead: RUN_WITH_HOOKS },
    RuleDef { id: "no-verify:am", rule: Rule::NoVerify, what: "`git am --no-verify`/`-n`", instead: RUN_WITH_HOOKS },
    RuleDef {
        id: "hook-bypass:hooks-path",
        rule: Rule::HookBypass,
        what: "`core.hooksPath` set for one command (`-c`, `--config-env`, `GIT_CONFIG_*`)",
        instead: HOOKS_ON,
    },
    RuleDef {
        id: "hook-bypass:include",
        rule: Rule::HookBypass,
        what: "another config file included for one command (`-c include.path=…`, `includeIf.*`)",
        instead: HOOKS_ON,
    },
    RuleDef {
        id: "hook-bypass:env",
        rule: Rule::HookBypass,
        what: "hook managers switched off (`HUSKY=0`, `LEFTHOOK=0`, `SKIP=…`, …)",
        instead: HOOKS_ON,
    },
    RuleDef {
        id: "hook-bypass:config-source",
        rule: Rule::HookBypass,
        what: "git run with another `HOME`, `XDG_CONFIG_HOME`, `GIT_CONFIG_GLOBAL`/`SYSTEM`/`NOSYSTEM`",
        instead: HOOKS_ON,
    },
];

/// `--no-verify` on the subcommands that have it (the last of `--no-verify`/`--verify` wins).
pub fn check(call: &Call, p: &Parsed) -> Option<Violation> {
    let id = match call.sub.as_str() {
        "commit" => "no-verify:commit",
        "merge" | "pull" => "no-verify:merge",
        "rebase" => "no-verify:rebase",
        "am" => "no-verify:am",
        _ => return None,
    };
    let written = p.opts.iter().rev().find(|o| o.base == "verify")?;
    (!written.set).then(|| {
        block(
            id,
            call.subject,
            format!("`git {} {}` skips the hooks that check this change", call.sub, written.written),
        )
    })
}

fn off(v: &str) -> bool {
    matches!(v.trim().to_ascii_lowercase().as_str(), "0" | "false" | "no" | "off")
}

/// Config keys that, set for one command, switch its hooks off or pull in other config.
fn bypass_key(key: &str) -> Option<&'static str> {
    let lower = key.to_ascii_lowercase();
    if config_key_eq(key, "core.hooksPath") {
        Some("hook-bypass:hooks-path")
    } else if lower.starts_with("include.") || (lower.starts_with("includeif.") && lower.ends_with(".path")) {
        Some("hook-bypass:include")
    } else {
        None
    }
}

/// `-c key=value` (or the environment's `GIT_CONFIG_*`) on one git command.
pub fn inline_config(key: &str, _value: &Arg, subject: &str) -> Option<Violation> {
    let id = bypass_key(key)?;
    Some(block(id, subject, format!("setting `{key}` for this command can switch the git hooks off")))
}

/// Variables that reroute git's own config (read by the hooks too).
const CONFIG_SOURCES: &[&str] =
    &["HOME", "XDG_CONFIG_HOME", "GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM", "GIT_CONFIG_NOSYSTEM", "GIT_CONFIG"];

/// `NAME=value` for a command, standalone (`standalone`: it lasts for the commands after it) or
/// exported: hook managers switched off, config rerouted for what follows, config keys in
/// `GIT_CONFIG_*` that switch hooks off.
pub fn assignment(name: &str, value: &Arg, standalone: bool, subject: &str) -> Option<Violation> {
    let v = value.text.as_str();
    let bypass = match name {
        "HUSKY" | "LEFTHOOK" => off(v) || !value.exact,
        "HUSKY_SKIP_HOOKS" | "SKIP" | "PRE_COMMIT_ALLOW_NO_CONFIG" | "LEFTHOOK_EXCLUDE" => !v.is_empty(),
        _ => false,
    };
    if bypass {
        return Some(block("hook-bypass:env", subject, format!("{name}={v} switches the git hooks off")));
    }
    if name == "GIT_CONFIG_PARAMETERS" || name.starts_with("GIT_CONFIG_KEY_") {
        let key = v.trim_matches('\'');
        let hit = if name.starts_with("GIT_CONFIG_KEY_") { bypass_key(key) } else { parameters_bypass(v) };
        if let Some(id) = hit {
            return Some(block(id, subject, format!("{name}={v} sets git config that can switch the hooks off")));
        }
    }
    if standalone && CONFIG_SOURCES.contains(&name) && !same_as_now(name, value) {
        return Some(config_source(name, v, subject));
    }
    None
}

fn parameters_bypass(v: &str) -> Option<&'static str> {
    let lower = v.to_ascii_lowercase();
    if lower.contains("core.hookspath") {
        Some("hook-bypass:hooks-path")
    } else if lower.contains("include.") || lower.contains("includeif.") {
        Some("hook-bypass:include")
    } else {
        None
    }
}

/// `HOME=$HOME` changes nothing.
fn same_as_now(name: &str, value: &Arg) -> bool {
    value.exact && std::env::var(name).is_ok_and(|now| now == value.text)
}

pub fn config_source(name: &str, v: &str, subject: &str) -> Violation {
    block("hook-bypass:config-source", subject, format!("{name}={v} makes git (and its hooks) read other config"))
}

/// A git command run with its config rerouted by the environment in force.
pub fn git_environment(env: &[(String, Arg)], subject: &str) -> Option<Violation> {
    let (name, value) = env.iter().rev().find(|(n, v)| CONFIG_SOURCES.contains(&n.as_str()) && !same_as_now(n, v))?;
    Some(config_source(name, &value.text, subject))
}
