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
        // The build choice reads these (bin/static-flags.sh): the machine's own stay out.
        .env_remove("RUSTFLAGS")
        .env_remove("CC")
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

/// A folder for stand-in programs (put first on PATH), and an empty file named libc.a.
fn stand_in_folder(env: &Env) -> (PathBuf, PathBuf) {
    let stand_ins = env.root().join("stand-ins");
    std::fs::create_dir_all(&stand_ins).unwrap();
    let libc = env.root().join("lib/libc.a");
    std::fs::create_dir_all(libc.parent().unwrap()).unwrap();
    std::fs::write(&libc, "").unwrap();
    (stand_ins, libc)
}

/// How bin/install and bin/build-release choose the build (bin/static-flags.sh), with stand-in
/// `rustc` and `cc` on PATH that report a host and where (if anywhere) libc.a is.
#[test]
fn static_build_only_where_the_static_c_library_is() {
    let env = Env::new();
    let (stand_ins, libc) = stand_in_folder(&env);
    let path = format!("{}:{}", stand_ins.display(), common::clean_path());
    let decide = |host: &str, libc_answer: &str, rustflags: Option<&str>| -> Run {
        common::write_exec(&stand_ins.join("rustc"), format!("#!/bin/sh\necho 'rustc 1.90.0'\necho 'host: {host}'\n"));
        common::write_exec(&stand_ins.join("cc"), format!("#!/bin/sh\necho '{libc_answer}'\n"));
        let script = format!(
            ". '{}'; okstra_build_setup; printf 'target=%s\\nflags=%s\\n' \"$okstra_target\" \"$okstra_rustflags\"",
            manifest_dir().join("bin/static-flags.sh").display()
        );
        let mut cmd = env.command(which::which("dash").expect("dash"), &env.root());
        cmd.args(["-c", &script]).env("PATH", &path).env_remove("CC").env_remove("RUSTFLAGS");
        if let Some(flags) = rustflags {
            cmd.env("RUSTFLAGS", flags);
        }
        Run::from(cmd.output().expect("run dash"))
    };
    let statically = "-C target-feature=+crt-static -C relocation-model=static";
    let r = decide("x86_64-unknown-linux-gnu", libc.to_str().unwrap(), None).ok();
    assert_eq!(r.stdout, format!("target=x86_64-unknown-linux-gnu\nflags={statically}\n"));
    assert_eq!(r.stderr, "");
    // The user's own RUSTFLAGS are kept.
    let r = decide("aarch64-unknown-linux-gnu", libc.to_str().unwrap(), Some("-C target-cpu=native")).ok();
    assert_eq!(r.stdout, format!("target=aarch64-unknown-linux-gnu\nflags=-C target-cpu=native {statically}\n"));
    // cc prints the bare name when it has no such file: the default build, with a note.
    let r = decide("x86_64-unknown-linux-gnu", "libc.a", None).ok();
    assert_eq!(r.stdout, "target=\nflags=\n");
    assert!(
        r.stderr.starts_with("note: no static C library (libc.a) for cc: building a dynamically linked"),
        "{}",
        r.stderr
    );
    // A path that is not there, and hosts without glibc: the default build.
    let gone = env.root().join("gone/libc.a");
    assert_eq!(decide("x86_64-unknown-linux-gnu", gone.to_str().unwrap(), None).ok().stdout, "target=\nflags=\n");
    for host in ["x86_64-unknown-linux-musl", "aarch64-apple-darwin"] {
        let r = decide(host, libc.to_str().unwrap(), None).ok();
        assert_eq!(r.stdout, "target=\nflags=\n", "{host}");
        assert_eq!(r.stderr, "", "{host}");
    }
}

/// A static build that fails falls back to the default build, says so, and installs: a
/// stand-in `cargo` records each call, fails the one with `--target` and "installs" the test
/// binary for the other.
#[test]
fn a_failed_static_build_falls_back_to_the_default_one() {
    let env = Env::new();
    let (stand_ins, libc) = stand_in_folder(&env);
    let calls = env.root().join("cargo-calls");
    common::write_exec(&stand_ins.join("rustc"), "#!/bin/sh\necho 'host: x86_64-unknown-linux-gnu'\n");
    common::write_exec(&stand_ins.join("cc"), format!("#!/bin/sh\necho '{}'\n", libc.display()));
    common::write_exec(
        &stand_ins.join("cargo"),
        format!(
            "#!/bin/sh\necho \"RUSTFLAGS=${{RUSTFLAGS:-}} $*\" >>'{calls}'\ncase \" $* \" in *' --target '*) exit 101 ;; esac\n\
             while [ $# -gt 0 ]; do [ \"$1\" = --root ] && root=$2; shift; done\nmkdir -p \"$root/bin\" && cp '{bin}' \"$root/bin/git-okstra\"\n",
            calls = calls.display(),
            bin = BIN
        ),
    );
    let root = env.root().join("prefix");
    let path = format!("{}:{}", stand_ins.display(), common::clean_path());
    let r = sh(&env, "bin/install", &["--root", root.to_str().unwrap()], &path).ok();
    assert!(r.stderr.contains("note: the statically linked build failed: building the default one"), "{}", r.stderr);
    let here = manifest_dir();
    let logged = std::fs::read_to_string(&calls).unwrap();
    let expected = format!(
        "RUSTFLAGS=-C target-feature=+crt-static -C relocation-model=static install --locked --path {here} --root {root} --target x86_64-unknown-linux-gnu\n\
         RUSTFLAGS= install --locked --path {here} --root {root}\n",
        here = here.display(),
        root = root.display()
    );
    assert_eq!(logged, expected);
    assert!(root.join("share/man/man1/git-okstra.1").is_file(), "the extras were installed");
}
