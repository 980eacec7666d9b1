//! Rule family `publish`: publishing, releasing, merging pull requests and deploying —
//! `gh pr merge`, `gh release`, merging `gh api` calls, package publishes, image pushes,
//! infrastructure changes. Never an agent's job.

use super::super::violation;
use crate::policy::{Rule, Violation};

/// A publishing program (`npm`, `cargo`, `docker`, …) by its name.
pub(crate) fn check(prog: &str, args: &[String], subject: &str) -> Option<Violation> {
    match prog {
        "npm" | "pnpm" | "yarn" | "bun" => {
            // Read both ways — every option a flag, or the known ones taking a value — so that
            // knowing an option's value never hides a `publish` (`pnpm -w` takes none).
            let publishes = |pos: Vec<&str>| {
                pos.first() == Some(&"publish") || (prog == "yarn" && pos.starts_with(&["npm", "publish"]))
            };
            let publishing = publishes(positionals(args)) || publishes(package_manager_positionals(args));
            (publishing && !has_flag(args, &["--dry-run"]))
                .then(|| violation(Rule::Publish, subject, format!("`{prog} publish` publishes a package")))
        }
        "cargo" => {
            let pos: Vec<&str> = positionals(args).into_iter().filter(|p| !p.starts_with('+')).collect();
            (pos.first() == Some(&"publish") && !has_flag(args, &["--dry-run", "-n"]))
                .then(|| violation(Rule::Publish, subject, "`cargo publish` publishes a crate"))
        }
        "twine" => (positionals(args).first() == Some(&"upload"))
            .then(|| violation(Rule::Publish, subject, "`twine upload` publishes a package")),
        p if p.starts_with("python") => {
            let m = args.iter().position(|a| a == "-m")?;
            (args.get(m + 1).map(String::as_str) == Some("twine")
                && args.get(m + 2).map(String::as_str) == Some("upload"))
            .then(|| violation(Rule::Publish, subject, "`twine upload` publishes a package"))
        }
        "docker" | "podman" => {
            let pos = positionals(args);
            (pos.first() == Some(&"push") || pos.starts_with(&["image", "push"]))
                .then(|| violation(Rule::Publish, subject, format!("`{prog} push` publishes an image")))
        }
        "terraform" | "tofu" => {
            let pos = positionals(args);
            matches!(pos.first(), Some(&"apply") | Some(&"destroy"))
                .then(|| violation(Rule::Publish, subject, format!("`{prog} {}` changes real infrastructure", pos[0])))
        }
        "kubectl" => {
            let pos = positionals(args);
            let dry = args.iter().any(|a| a == "--dry-run" || (a.starts_with("--dry-run=") && a != "--dry-run=none"));
            (matches!(pos.first(), Some(&"apply") | Some(&"delete")) && !dry)
                .then(|| violation(Rule::Publish, subject, format!("`kubectl {}` changes a live cluster", pos[0])))
        }
        _ => None,
    }
}

/// Words that do not start with `-` (a crude but safe view of subcommands).
fn positionals(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).filter(|a| !a.starts_with('-')).collect()
}

/// The words of an `npm`/`pnpm`/`yarn`/`bun` command that are not options, the values of the
/// options that take one (`npm --registry <url> publish`) left out.
fn package_manager_positionals(args: &[String]) -> Vec<&str> {
    const TAKES_VALUE: &[&str] = &[
        "--registry",
        "--prefix",
        "-C",
        "--dir",
        "--cwd",
        "--userconfig",
        "--globalconfig",
        "--cache",
        "--loglevel",
        "--workspace",
        "-w",
        "--filter",
        "-F",
        "--tag",
        "--otp",
        "--access",
        "--scope",
        "--auth-type",
        "--reporter",
        "--cafile",
        "--proxy",
        "--https-proxy",
        "--node-options",
        "--script-shell",
        "--config",
        "--use-yarnrc",
    ];
    let mut out = Vec::new();
    let mut words = args.iter().map(String::as_str);
    while let Some(a) = words.next() {
        if a == "--" {
            out.extend(words.by_ref());
        } else if a.starts_with('-') {
            if !a.contains('=') && TAKES_VALUE.contains(&a) {
                words.next();
            }
        } else {
            out.push(a);
        }
    }
    out
}

fn has_flag(args: &[String], flags: &[&str]) -> bool {
    args.iter().take_while(|a| *a != "--").any(|a| flags.contains(&a.as_str()))
}

/// `gh pr merge`, `gh release …` (but its reads), and `gh api` calls that merge or release.
pub(crate) fn check_gh(args: &[String], subject: &str) -> Option<Violation> {
    let mut pos = Vec::new();
    let mut i = 0;
    while let Some(a) = args.get(i) {
        // Options that take the next word as their value.
        let valued = ["-R", "--repo", "-X", "--method", "-f", "-F", "--field", "--raw-field", "-H", "--header"];
        let valued_more = ["--input", "-q", "--jq", "-t", "--template", "--hostname", "--cache", "-p", "--preview"];
        if valued.contains(&a.as_str()) || valued_more.contains(&a.as_str()) {
            i += 2;
            continue;
        }
        if !a.starts_with('-') {
            pos.push(a.as_str());
        }
        i += 1;
    }
    match pos.as_slice() {
        ["pr", "merge", ..] => Some(violation(Rule::Publish, subject, "`gh pr merge` merges a pull request")),
        ["release", read, ..] if matches!(*read, "list" | "view" | "download") => None,
        ["release", ..] => Some(violation(Rule::Publish, subject, "`gh release` publishes or changes a release")),
        ["api", endpoint, ..] => {
            let mut method = None::<String>;
            let mut has_fields = false;
            let mut j = 0;
            while let Some(a) = args.get(j) {
                match a.as_str() {
                    "-X" | "--method" => method = args.get(j + 1).cloned(),
                    "-f" | "-F" | "--field" | "--raw-field" | "--input" => has_fields = true,
                    s if s.starts_with("--method=") => method = Some(s["--method=".len()..].to_string()),
                    s if s.starts_with("-X") && s.len() > 2 => method = Some(s[2..].to_string()),
                    _ => {}
                }
                j += 1;
            }
            let method = method.unwrap_or_else(|| if has_fields { "POST".into() } else { "GET".into() });
            let path = endpoint.trim_start_matches('/');
            let merges = path.ends_with("/merge") || path.ends_with("/merges");
            let releases = path.contains("/releases");
            (!method.eq_ignore_ascii_case("GET") && (merges || releases))
                .then(|| violation(Rule::Publish, subject, "this `gh api` call merges or publishes"))
        }
        _ => None,
    }
}
