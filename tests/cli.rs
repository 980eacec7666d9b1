//! The user-visible surface pinned by trycmd case files in `tests/cmd/`: the help of every
//! command (`*-help.toml`) and the `--json` shapes (`*.md`, which run real git in a sandbox).
//!
//! Refresh expectations after a deliberate change: `TRYCMD=overwrite cargo test --test cli`.
//! A new command gets its help case with `OKSTRA_NEW_HELP_CASES=1 cargo test --test cli`
//! followed by the overwrite run.
mod common;

use std::path::{Path, PathBuf};

use clap::CommandFactory;

const BIN: &str = env!("CARGO_BIN_EXE_git-okstra");

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cmd")
}

#[test]
fn cli_cases() {
    let home = tempfile::tempdir().expect("tempdir");
    // Each case needs an OKSTRA_HOME of its own inside its sandbox, and git-okstra refuses a
    // relative one: a stand-in `git-okstra` sets it from the folder it runs in. The `.md`
    // cases make their repository in `proj/` of the sandbox and run `git -C proj okstra …`,
    // so it is `<sandbox>/proj/../okstra-home`.
    let wrapper_dir = home.path().join("bin");
    std::fs::create_dir_all(&wrapper_dir).unwrap();
    let wrapper = wrapper_dir.join("git-okstra");
    common::write_exec(&wrapper, format!("#!/bin/sh\nOKSTRA_HOME=\"$(pwd -P)/../okstra-home\" exec '{BIN}' \"$@\"\n"));
    let path = common::path_with(&wrapper_dir);
    let git = which::which("git").expect("git on PATH");
    let cases = trycmd::TestCases::new();
    cases
        .register_bin("git-okstra", &wrapper)
        .register_bin("git", git)
        .env("PATH", path)
        .env("HOME", home.path().to_string_lossy())
        .env("OKSTRA_WORKTREE_SYNC_DIRS", "")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Test User")
        .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
        .env("GIT_COMMITTER_NAME", "Test User")
        .env("GIT_COMMITTER_EMAIL", "test@example.invalid")
        .env("GIT_AUTHOR_DATE", "2024-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2024-01-01T00:00:00Z")
        .env("NO_COLOR", "1")
        .case("tests/cmd/*.toml")
        .case("tests/cmd/*.md");
    cases.run();
}

/// `task start` → `task-start-help.toml`.
fn help_cases(cmd: &clap::Command, path: &mut Vec<String>, out: &mut Vec<(String, Vec<String>)>) {
    let stem = if path.is_empty() { "git-okstra".to_string() } else { path.join("-") };
    out.push((format!("{stem}-help"), path.clone()));
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help") {
        path.push(sub.get_name().to_string());
        help_cases(sub, path, out);
        path.pop();
    }
}

#[test]
fn every_command_has_a_help_case() {
    let mut cases = Vec::new();
    help_cases(&git_okstra::cli::Cli::command(), &mut Vec::new(), &mut cases);
    let dir = cases_dir();
    let create = std::env::var_os("OKSTRA_NEW_HELP_CASES").is_some_and(|v| v == "1");
    let mut missing = Vec::new();
    for (stem, words) in &cases {
        let toml = dir.join(format!("{stem}.toml"));
        if toml.is_file() {
            continue;
        }
        if create {
            let mut args: Vec<String> = words.iter().map(|w| format!("{w:?}")).collect();
            args.push("\"--help\"".into());
            std::fs::write(&toml, format!("bin.name = \"git-okstra\"\nargs = [{}]\n", args.join(", "))).unwrap();
            std::fs::write(dir.join(format!("{stem}.stdout")), "").unwrap();
        } else {
            missing.push(stem.clone());
        }
    }
    assert!(
        missing.is_empty(),
        "no help case for: {missing:?}; create them with `OKSTRA_NEW_HELP_CASES=1 cargo test --test cli` \
         and fill them with `TRYCMD=overwrite cargo test --test cli`"
    );
}

/// Every option of every command (hidden helpers aside) says what it does, and the global
/// `-q`/`-v` come after the command's own options, just before `-h`/`-V`, in every help.
#[test]
fn every_option_has_help_and_the_global_ones_come_last() {
    fn walk(cmd: &clap::Command, path: &str, problems: &mut Vec<String>) {
        let mut cmd = cmd.clone();
        cmd.build();
        let help = cmd.render_help().to_string();
        for arg in cmd.get_arguments().filter(|a| !a.is_hide_set() && !a.is_positional()) {
            let id = arg.get_id().as_str();
            if !["help", "version"].contains(&id) && arg.get_help().is_none_or(|h| h.to_string().trim().is_empty()) {
                problems.push(format!("{path}: --{id} has no help text"));
            }
        }
        let options: Vec<&str> = help
            .split("\nOptions:\n")
            .nth(1)
            .unwrap_or("")
            .lines()
            .take_while(|l| l.starts_with("  "))
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        let tail: Vec<&str> = options.iter().rev().take(4).rev().copied().collect();
        if tail != ["-q,", "-v,", "-h,", "-V,"] {
            problems.push(format!("{path}: options end with {tail:?}, not -q, -v, -h, -V"));
        }
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help") {
            walk(sub, &format!("{path} {}", sub.get_name()), problems);
        }
    }
    let mut problems = Vec::new();
    walk(&git_okstra::cli::Cli::command(), "git okstra", &mut problems);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
