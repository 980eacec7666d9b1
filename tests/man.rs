//! Man pages: the committed `man/*.1` are what the CLI generates, they render without
//! warnings, and `git help okstra` opens the installed page.
mod common;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Env, BIN};

const REGEN: &str = "cargo run -q -- __man man   (or: OKSTRA_REGEN_MAN=1 cargo test --test man)";

fn committed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("man")
}

fn pages(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".1"))
        .collect();
    v.sort();
    v
}

fn generate(env: &Env) -> PathBuf {
    let out = env.root().join("man-out");
    env.okstra(&env.root(), &["__man", out.to_str().unwrap()]).ok();
    out
}

#[test]
fn committed_pages_match_the_cli() {
    let env = Env::new();
    let fresh = generate(&env);
    let committed = committed_dir();
    if std::env::var_os("OKSTRA_REGEN_MAN").is_some_and(|v| v == "1") {
        for old in pages(&committed) {
            std::fs::remove_file(committed.join(old)).unwrap();
        }
        for p in pages(&fresh) {
            std::fs::copy(fresh.join(&p), committed.join(&p)).unwrap();
        }
        eprintln!("regenerated the man pages in {}", committed.display());
    }
    assert_eq!(pages(&committed), pages(&fresh), "man/ has other pages than the CLI makes; regenerate: {REGEN}");
    for p in pages(&fresh) {
        let want = std::fs::read_to_string(fresh.join(&p)).unwrap();
        let have = std::fs::read_to_string(committed.join(&p)).unwrap();
        assert!(have == want, "man/{p} is out of date with the CLI definitions; regenerate: {REGEN}");
    }
    for required in ["git-okstra.1", "git-okstra-task.1", "git-okstra-doctor.1"] {
        assert!(pages(&fresh).contains(&required.to_string()), "{required} missing");
    }
}

/// A tool the render check needs; its absence is a failure, never a silent pass.
#[track_caller]
fn require(tool: &str) {
    let found =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file())).unwrap_or(false);
    assert!(found, "`{tool}` is not installed; install man-db and groff (Debian: apt-get install man-db groff-base)");
}

#[test]
fn pages_render_without_warnings() {
    require("groff");
    require("man");
    for p in pages(&committed_dir()) {
        let path = committed_dir().join(&p);
        let out = Command::new("groff").args(["-man", "-Tutf8", "-ww", "-z"]).arg(&path).output().unwrap();
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "groff on {p}:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = Command::new("man")
            .args(["--warnings", "-E", "UTF-8", "-l"])
            .arg(&path)
            .env("MANWIDTH", "80")
            .env("MANPAGER", "cat")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && stderr.is_empty(), "man -l {p}:\n{stderr}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("NAME") && text.contains("EXIT STATUS"), "{p} rendered:\n{text}");
    }
}

#[test]
fn git_help_okstra_opens_the_installed_page() {
    require("man");
    let env = Env::new();
    let fresh = generate(&env);
    let man1 = env.root().join("share/man/man1");
    std::fs::create_dir_all(&man1).unwrap();
    for p in pages(&fresh) {
        std::fs::copy(fresh.join(&p), man1.join(&p)).unwrap();
    }
    let out = env
        .command("git", &env.root())
        .args(["-c", "help.format=man", "help", "okstra"])
        .env("MANPATH", env.root().join("share/man"))
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .env("MANWIDTH", "80")
        .env("PATH", common::path_with(Path::new(BIN).parent().unwrap()))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "git help okstra failed:\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("GIT-OKSTRA(1)") && text.contains("task key"), "{text}");
}

#[test]
fn every_setting_in_config_is_documented() {
    let src = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/config.rs")).unwrap();
    let re = regex::Regex::new(r#"pub const (?:KEY|ENV)_[A-Z_]+: &str = "([^"]+)";"#).unwrap();
    let names: Vec<String> = re.captures_iter(&src).map(|c| c[1].to_string()).collect();
    assert!(names.len() >= 8, "found {names:?}");
    let main_page = std::fs::read_to_string(committed_dir().join("git-okstra.1")).unwrap();
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    for name in names {
        let name = if name == "okstra.executor" { "okstra.executor.<name>".to_string() } else { name };
        assert!(
            git_okstra::config::SETTINGS.iter().any(|s| s.name == name),
            "{name} is declared in src/config.rs but missing from config::SETTINGS"
        );
        assert!(
            main_page.contains(&format!("\\fB{}\\fR", name.replace('-', "\\-"))),
            "{name} missing from git-okstra.1"
        );
        assert!(readme.contains(&format!("| `{name}` |")), "{name} missing from the README configuration table");
    }
}
