//! One git invocation: its global options (`-C`, `-c`, `--config-env`), the subcommand, git
//! aliases expanded as git expands them, and the subcommands that run other commands
//! (`rebase -x`, `submodule foreach`, `bisect run`); each subcommand's rules are in [`super::rules`].

use std::path::PathBuf;

use super::git_grammar::{git_args, skips_hooks};
use super::rules::{hooks, push};
use super::walk::{check_argv, check_script};
use super::{clip, shell, violation, Context};
use crate::policy::{Rule, Violation};

pub(crate) fn check_git(args: &[String], subject: &str, depth: usize, ctx: &mut Context) -> Option<Violation> {
    // Global options before the subcommand.
    let mut i = 0;
    let mut dir: Option<PathBuf> = None;
    let mut inline_aliases: Vec<(&str, &str)> = Vec::new();
    while let Some(a) = args.get(i) {
        let a = a.as_str();
        match a {
            "-C" => {
                dir = args.get(i + 1).map(PathBuf::from);
                i += 2;
            }
            "-c" => {
                if let Some(v) = args.get(i + 1).and_then(|kv| hooks::hooks_path_override(kv, subject)) {
                    return Some(v);
                }
                let kv = args.get(i + 1).and_then(|kv| kv.split_once('='));
                if let Some(((section, name), value)) = kv.and_then(|(k, v)| Some((k.split_once('.')?, v))) {
                    if section.eq_ignore_ascii_case("alias") {
                        inline_aliases.push((name, value));
                    }
                }
                i += 2;
            }
            "--config-env" | "--git-dir" | "--work-tree" | "--namespace" | "--super-prefix" | "--attr-source" => {
                if a == "--config-env" {
                    if let Some(v) = args.get(i + 1).and_then(|kv| hooks::hooks_path_override(kv, subject)) {
                        return Some(v);
                    }
                }
                i += 2;
            }
            _ if a.starts_with("--config-env=") => {
                if let Some(v) = hooks::hooks_path_override(&a["--config-env=".len()..], subject) {
                    return Some(v);
                }
                i += 1;
            }
            _ if a.starts_with('-') => i += 1,
            _ => break,
        }
    }
    let sub = args.get(i)?;
    let rest = &args[i + 1..];
    if let Some(d) = dir {
        ctx.cwd = ctx.cwd.join(d);
    }
    let no_verify = |what: &str| {
        violation(Rule::NoVerify, subject, format!("`git {what} --no-verify` skips the hooks that check this change"))
    };
    match sub.as_str() {
        "commit" => {
            let parsed = git_args(
                rest,
                "mFcCt",
                "uS",
                &[
                    "message",
                    "file",
                    "reuse-message",
                    "reedit-message",
                    "template",
                    "author",
                    "date",
                    "fixup",
                    "squash",
                    "trailer",
                    "pathspec-from-file",
                ],
            );
            skips_hooks(&parsed, true).then(|| no_verify("commit"))
        }
        "am" => {
            let parsed = git_args(rest, "", "pCS", &[]);
            skips_hooks(&parsed, true).then(|| no_verify("am"))
        }
        "merge" | "pull" | "rebase" | "cherry-pick" | "revert" => {
            let parsed = git_args(
                rest,
                "msFXxo",
                "S",
                &["message", "file", "strategy", "strategy-option", "into-name", "onto", "exec", "upstream"],
            );
            if skips_hooks(&parsed, false) {
                return Some(no_verify(sub));
            }
            // `rebase -x/--exec <cmd>` runs a shell command after each commit.
            let execs = rest.iter().enumerate().filter_map(|(k, a)| match a.as_str() {
                "-x" | "--exec" => rest.get(k + 1).map(String::as_str),
                s => s.strip_prefix("--exec="),
            });
            let scripts: Vec<&str> = if sub == "rebase" { execs.collect() } else { Vec::new() };
            scripts.into_iter().find_map(|s| check_script(s, depth + 1, ctx))
        }
        // `git submodule foreach '<cmd>'` and `git bisect run <cmd…>` run commands too.
        "submodule" => {
            let at = rest.iter().position(|a| a == "foreach")?;
            let cmd: Vec<&String> = rest[at + 1..].iter().skip_while(|a| a.starts_with('-')).collect();
            let text = cmd.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ");
            check_script(&text, depth + 1, ctx)
        }
        "bisect" if rest.first().map(String::as_str) == Some("run") => {
            check_argv(&rest[1..], &[], subject, depth + 1, ctx)
        }
        "push" => push::check_push(rest, subject, ctx),
        "config" => hooks::check_git_config(rest, subject),
        _ if GIT_BUILTINS.binary_search(&sub.as_str()).is_ok() => None,
        _ => {
            let inline =
                inline_aliases.iter().rev().find(|(k, _)| k.eq_ignore_ascii_case(sub)).map(|(_, v)| v.to_string());
            let value = inline.or_else(|| ctx.alias(sub))?;
            let mut v = check_alias(&value, rest, depth, ctx)?;
            v.subject = format!("{subject}, alias `{sub}` = `{}`", clip(&value));
            Some(v)
        }
    }
}

/// A git alias, judged as what git runs for it: `!<shell text>` runs in a shell with the
/// arguments appended, anything else is more git words in front of the arguments.
fn check_alias(value: &str, rest: &[String], depth: usize, ctx: &mut Context) -> Option<Violation> {
    let args: Vec<String> = rest.iter().map(|a| shell::quote(a)).collect();
    let text = match value.trim_start().strip_prefix('!') {
        Some(script) => format!("{script} {}", args.join(" ")),
        None => format!("git {value} {}", args.join(" ")),
    };
    check_script(&text, depth + 1, ctx)
}

/// git's builtin commands (`git --list-cmds=builtins`, git 2.47): no alias can shadow them,
/// so they are never looked up as one. Sorted for the binary search.
const GIT_BUILTINS: &[&str] = &[
    "add",
    "am",
    "annotate",
    "apply",
    "archive",
    "bisect",
    "blame",
    "branch",
    "bugreport",
    "bundle",
    "cat-file",
    "check-attr",
    "check-ignore",
    "check-mailmap",
    "check-ref-format",
    "checkout",
    "checkout--worker",
    "checkout-index",
    "cherry",
    "cherry-pick",
    "clean",
    "clone",
    "column",
    "commit",
    "commit-graph",
    "commit-tree",
    "config",
    "count-objects",
    "credential",
    "credential-cache",
    "credential-cache--daemon",
    "credential-store",
    "describe",
    "diagnose",
    "diff",
    "diff-files",
    "diff-index",
    "diff-tree",
    "difftool",
    "fast-export",
    "fast-import",
    "fetch",
    "fetch-pack",
    "fmt-merge-msg",
    "for-each-ref",
    "for-each-repo",
    "format-patch",
    "fsck",
    "fsck-objects",
    "fsmonitor--daemon",
    "gc",
    "get-tar-commit-id",
    "grep",
    "hash-object",
    "help",
    "hook",
    "index-pack",
    "init",
    "init-db",
    "interpret-trailers",
    "log",
    "ls-files",
    "ls-remote",
    "ls-tree",
    "mailinfo",
    "mailsplit",
    "maintenance",
    "merge",
    "merge-base",
    "merge-file",
    "merge-index",
    "merge-ours",
    "merge-recursive",
    "merge-recursive-ours",
    "merge-recursive-theirs",
    "merge-subtree",
    "merge-tree",
    "mktag",
    "mktree",
    "multi-pack-index",
    "mv",
    "name-rev",
    "notes",
    "pack-objects",
    "pack-redundant",
    "pack-refs",
    "patch-id",
    "pickaxe",
    "prune",
    "prune-packed",
    "pull",
    "push",
    "range-diff",
    "read-tree",
    "rebase",
    "receive-pack",
    "reflog",
    "refs",
    "remote",
    "remote-ext",
    "remote-fd",
    "repack",
    "replace",
    "replay",
    "rerere",
    "reset",
    "restore",
    "rev-list",
    "rev-parse",
    "revert",
    "rm",
    "send-pack",
    "shortlog",
    "show",
    "show-branch",
    "show-index",
    "show-ref",
    "sparse-checkout",
    "stage",
    "stash",
    "status",
    "stripspace",
    "submodule--helper",
    "switch",
    "symbolic-ref",
    "tag",
    "unpack-file",
    "unpack-objects",
    "update-index",
    "update-ref",
    "update-server-info",
    "upload-archive",
    "upload-archive--writer",
    "upload-pack",
    "var",
    "verify-commit",
    "verify-pack",
    "verify-tag",
    "version",
    "whatchanged",
    "worktree",
    "write-tree",
];

#[cfg(test)]
mod tests {
    #[test]
    fn git_builtins_are_sorted_for_the_binary_search() {
        assert!(super::GIT_BUILTINS.windows(2).all(|w| w[0] < w[1]));
        assert!(super::GIT_BUILTINS.binary_search(&"status").is_ok());
    }
}
