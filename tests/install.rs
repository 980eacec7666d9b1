//! The install command: the README's line is the one `.ci/run` runs, and the extras it writes
//! beside the binary make `git okstra -h`, `man -w git-okstra` and `git help okstra` work with
//! only that root's bin folder on PATH (man-db derives its search path from PATH).
mod common;
use std::path::{Path, PathBuf};

use common::{Env, Run, BIN};

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The install command of the README's Quick start: its first indented `bin/install` line.
fn readme_install_command() -> String {
    let readme = std::fs::read_to_string(manifest_dir().join("README.md")).unwrap();
    let quick = readme.split("\n## Quick start\n").nth(1).expect("README has a Quick start");
    let quick = quick.split("\n## ").next().unwrap();
    let lines: Vec<&str> = quick.lines().filter(|l| l.starts_with("    bin/install")).collect();
    assert_eq!(lines.len(), 1, "the Quick start shows one install command: {lines:?}");
    lines[0].trim().to_string()
}

#[test]
fn ci_runs_the_readme_install_command() {
    let cmd = readme_install_command();
    assert_eq!(cmd, "bin/install", "the README's install command changed: update .ci/run and this test");
    let ci = std::fs::read_to_string(manifest_dir().join(".ci/run")).unwrap();
    let wanted = format!("{cmd} --root \"$root\" --debug");
    let runs: Vec<&str> =
        ci.lines().filter(|l| !l.trim_start().starts_with('#') && l.contains("bin/install")).collect();
    assert_eq!(runs, [wanted.as_str()], ".ci/run must run the README's install command into its temporary root");
    for check in ["git okstra -h", "man -w git-okstra", "export PATH=\"$root/bin:$PATH\"", "unset MANPATH"] {
        assert!(ci.contains(check), ".ci/run lost its install check `{check}`");
    }
    // What the script it names really runs: a locked cargo install into that root.
    let script = std::fs::read_to_string(manifest_dir().join("bin/install")).unwrap();
    assert!(script.contains("cargo install --locked --path \"$here\" --root \"$root\""), "{script}");
    assert!(script.contains("bin/okstra-install-extras\" --prefix \"$root\""), "{script}");
}

fn sh(env: &Env, script: &str, args: &[&str], path: &str) -> Run {
    let out = env
        .command(which::which("dash").expect("dash"), &env.root())
        .arg(manifest_dir().join(script))
        .args(args)
        .env("PATH", path)
        .env_remove("MANPATH")
        .output()
        .expect("run dash");
    Run::from(out)
}

#[test]
fn pages_beside_the_binary_make_help_work_from_path_alone() {
    let env = Env::new();
    let root = env.root().join("prefix");
    std::fs::create_dir_all(root.join("bin")).unwrap();
    common::copy_exec(Path::new(BIN), &root.join("bin/git-okstra"));
    let path = format!("{}:{}", root.join("bin").display(), common::clean_path());
    let r = sh(&env, "bin/okstra-install-extras", &["--prefix", root.to_str().unwrap()], &path).ok();
    assert!(r.stdout.contains("man searches"), "{}", r.stdout);
    assert!(!r.stdout.contains("PATH:"), "bin is on PATH: no PATH advice\n{}", r.stdout);
    let bash = std::fs::read_to_string(root.join("share/bash-completion/completions/git-okstra")).unwrap();
    assert!(bash.contains("_git_okstra ()"));
    assert!(root.join("share/zsh/site-functions/_git-okstra").is_file());
    assert!(root.join("share/fish/vendor_completions.d/git-okstra.fish").is_file());
    assert!(!env.home.join(".local").exists(), "nothing is written into HOME with --prefix");

    let run = |args: &[&str]| -> Run {
        let out = env
            .command(args[0], &env.root())
            .args(&args[1..])
            .env("PATH", &path)
            .env_remove("MANPATH")
            .env("MANPAGER", "cat")
            .env("PAGER", "cat")
            .env("MANWIDTH", "80")
            .output()
            .expect("run");
        Run::from(out)
    };
    let short = run(&["git", "okstra", "-h"]).ok();
    assert!(short.stdout.contains("Usage: git okstra [OPTIONS] <COMMAND>"), "{}", short.stdout);
    let w = run(&["man", "-w", "git-okstra"]).ok();
    assert_eq!(w.stdout.trim(), root.join("share/man/man1/git-okstra.1").to_str().unwrap());
    for help in [&["git", "okstra", "--help"][..], &["git", "help", "okstra"]] {
        let page = run(help).ok();
        assert!(page.stdout.contains("GIT-OKSTRA(1)"), "{help:?}:\n{}{}", page.stdout, page.stderr);
    }
    let task_page = run(&["man", "git-okstra-task"]).ok();
    assert!(task_page.stdout.contains("GIT-OKSTRA-TASK(1)"), "{}", task_page.stdout);
}

#[test]
fn install_scripts_refuse_bad_arguments_and_a_missing_binary() {
    let env = Env::new();
    let path = common::clean_path();
    let r = sh(&env, "bin/install", &["--bogus"], &path).fails(2);
    assert_eq!(r.stderr.lines().next(), Some("error: unknown argument '--bogus'"), "{}", r.stderr);
    assert!(r.stderr.lines().nth(1).is_some_and(|l| l.starts_with("hint: usage: ")), "{}", r.stderr);
    let r = sh(&env, "bin/install", &["--root"], &path).fails(2);
    assert!(r.stderr.starts_with("error: --root needs a folder"), "{}", r.stderr);

    // No cargo on PATH: said before anything is built or written.
    let bare = env.root().join("bare-bin");
    std::fs::create_dir_all(&bare).unwrap();
    let dirname = which::which("dirname").unwrap();
    std::os::unix::fs::symlink(dirname, bare.join("dirname")).unwrap();
    let r = sh(&env, "bin/install", &["--root", env.root().join("r").to_str().unwrap()], bare.to_str().unwrap());
    let r = r.fails(1);
    assert!(r.stderr.starts_with("error: cargo is not on PATH\nhint: install Rust 1.80"), "{}", r.stderr);
    assert!(!env.root().join("r").exists());
    let r = sh(&env, "bin/okstra-install-extras", &["--prefix"], &path).fails(2);
    assert!(r.stderr.starts_with("error: --prefix needs a folder"), "{}", r.stderr);

    let empty = env.root().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let r = sh(&env, "bin/okstra-install-extras", &["--prefix", empty.to_str().unwrap()], &path).fails(1);
    assert!(r.stderr.contains("is not an installed git-okstra\nhint: "), "{}", r.stderr);
    assert!(!empty.join("share").exists(), "nothing written");
}
