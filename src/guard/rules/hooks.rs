//! Rule family commit/hooks: `no-verify` (a commit, merge or push that skips its hooks) and
//! `hook-bypass` (the hooks switched off another way: `core.hooksPath`, `HUSKY=0`, `SKIP=…`).

use super::super::violation;
use crate::policy::{Rule, Violation};

/// `NAME=value` that switches hooks off.
pub(crate) fn assignment(assign: &str, subject: &str) -> Option<Violation> {
    let (name, value) = assign.split_once('=').unwrap_or((assign, ""));
    let name = name.trim_end_matches('+');
    let off = |v: &str| matches!(v.trim().to_ascii_lowercase().as_str(), "0" | "false" | "no" | "off");
    let bypass = match name {
        "HUSKY" | "LEFTHOOK" => off(value),
        "HUSKY_SKIP_HOOKS" | "SKIP" | "PRE_COMMIT_ALLOW_NO_CONFIG" | "LEFTHOOK_EXCLUDE" => !value.is_empty(),
        "GIT_CONFIG_PARAMETERS" => value.to_ascii_lowercase().contains("core.hookspath"),
        n if n.starts_with("GIT_CONFIG_KEY_") => value.eq_ignore_ascii_case("core.hooksPath"),
        _ => false,
    };
    bypass.then(|| violation(Rule::HookBypass, subject, format!("{name}={value} switches the git hooks off")))
}

/// `core.hooksPath=…` given to `git -c` / `--config-env`.
pub(crate) fn hooks_path_override(kv: &str, subject: &str) -> Option<Violation> {
    let key = kv.split_once('=').map_or(kv, |(k, _)| k);
    key.eq_ignore_ascii_case("core.hooksPath")
        .then(|| violation(Rule::HookBypass, subject, "overriding core.hooksPath switches the git hooks off"))
}

/// `git config core.hooksPath <value>` (or `--unset`, `set`, `unset`): writing the key.
pub(crate) fn check_git_config(args: &[String], subject: &str) -> Option<Violation> {
    let k = args.iter().position(|a| a.eq_ignore_ascii_case("core.hooksPath"))?;
    let reads = ["--get", "--get-all", "--get-regexp", "--list", "-l", "get", "list", "--show-origin", "--show-scope"];
    if args.iter().any(|a| reads.contains(&a.as_str())) && !args.iter().any(|a| a == "set" || a.starts_with("--unset"))
    {
        return None;
    }
    let writes = ["--unset", "--unset-all", "--add", "--replace-all", "set", "unset"];
    let writing =
        args.iter().any(|a| writes.contains(&a.as_str())) || args[k + 1..].iter().any(|a| !a.starts_with('-'));
    writing.then(|| violation(Rule::HookBypass, subject, "changing core.hooksPath switches the git hooks off"))
}
