//! The README stays true to the CLI: every `git okstra …` line of its cheat sheet names
//! commands and flags that exist (and every command has a line), its links and anchors
//! resolve, and the pages, tests, scripts and variables it names exist.
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use clap::{Command, CommandFactory};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn readme() -> String {
    std::fs::read_to_string(root().join("README.md")).unwrap()
}

/// The body of `## <title>`, up to the next `## ` heading.
fn section(text: &str, title: &str) -> String {
    let start = text.split(&format!("\n## {title}\n")).nth(1).unwrap_or_else(|| panic!("README has no `## {title}`"));
    start.split("\n## ").next().unwrap().to_string()
}

fn cli() -> Command {
    let mut c = git_okstra::cli::Cli::command();
    c.build();
    c
}

fn visible_subs(cmd: &Command) -> Vec<&Command> {
    cmd.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help").collect()
}

/// The cheat sheet's command lines, without the `git okstra` prefix and the `# comment`.
fn cheat_sheet() -> Vec<String> {
    let lines: Vec<String> = section(&readme(), "Commands")
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("git okstra "))
        .map(|l| l.split(" # ").next().unwrap().trim().to_string())
        .collect();
    assert!(lines.len() >= 10, "the cheat sheet has too few `git okstra` lines: {lines:?}");
    lines
}

/// Walk one cheat-sheet line down the command tree: each word names a subcommand (`a|b`:
/// each of them) while the command has subcommands. Returns the command paths reached.
fn walk<'a>(root: &'a Command, line: &str) -> Result<Vec<(String, &'a Command)>, String> {
    let mut at: Vec<(String, &Command)> = vec![(String::new(), root)];
    for word in line.split_whitespace() {
        if word.starts_with('-') || at.iter().all(|(_, c)| visible_subs(c).is_empty()) {
            break;
        }
        let mut next = Vec::new();
        for (path, cmd) in &at {
            for name in word.split('|') {
                let sub = visible_subs(cmd)
                    .into_iter()
                    .find(|s| s.get_name() == name)
                    .ok_or_else(|| format!("`git okstra{path} {name}` is not a command (`git okstra{path} -h`)"))?;
                next.push((format!("{path} {name}"), sub));
            }
        }
        at = next;
    }
    Ok(at)
}

/// Long flags a line names: `--flag`, also inside `[...]` and `a|b` alternatives.
fn long_flags(line: &str) -> Vec<String> {
    let re = regex::Regex::new(r"(?:^|[\s\[|])--([a-z][a-z-]*)").unwrap();
    re.captures_iter(line).map(|c| c[1].to_string()).collect()
}

#[test]
fn every_cheat_sheet_command_and_flag_exists() {
    let root = cli();
    let mut problems = Vec::new();
    for line in cheat_sheet() {
        match walk(&root, &line) {
            Err(e) => problems.push(format!("`git okstra {line}`: {e}")),
            Ok(reached) => {
                for flag in long_flags(&line) {
                    for (path, cmd) in &reached {
                        if !cmd.get_arguments().any(|a| a.get_long() == Some(flag.as_str())) {
                            problems.push(format!("`git okstra {line}`: `git okstra{path}` has no --{flag}"));
                        }
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "the README's cheat sheet is out of date:\n{}", problems.join("\n"));
}

/// The commands a user runs: every leaf of the tree, but the entry points git's hook files
/// call (`hook pre-push`, …), which are not for direct use.
fn leaf_commands(cmd: &Command, path: &str, out: &mut Vec<String>) {
    let subs = visible_subs(cmd);
    if subs.is_empty() {
        out.push(path.trim().to_string());
    }
    for s in subs {
        let p = format!("{path} {}", s.get_name());
        if p.trim() == "hook" {
            out.push("hook agent-guard".into());
            continue;
        }
        leaf_commands(s, &p, out);
    }
}

#[test]
fn every_command_has_a_cheat_sheet_line() {
    let root = cli();
    let mut covered = BTreeSet::new();
    for line in cheat_sheet() {
        for (path, _) in walk(&root, &line).unwrap_or_default() {
            covered.insert(path.trim().to_string());
        }
    }
    let mut leaves = Vec::new();
    leaf_commands(&root, "", &mut leaves);
    assert!(leaves.contains(&"task start".to_string()), "{leaves:?}");
    let missing: Vec<&String> = leaves.iter().filter(|l| !covered.contains(*l)).collect();
    assert!(missing.is_empty(), "commands missing from the README's cheat sheet (## Commands): {missing:?}");
}

#[test]
fn the_walk_fails_for_a_renamed_command_or_flag() {
    let root = cli();
    assert!(walk(&root, "task begin DEV-1").is_err());
    assert!(walk(&root, "hooks install|remove").is_err());
    let reached = walk(&root, "task start <ID> --title T").unwrap();
    assert_eq!(reached.len(), 1);
    assert!(reached[0].1.get_arguments().any(|a| a.get_long() == Some("title")));
    assert!(!reached[0].1.get_arguments().any(|a| a.get_long() == Some("titel")));
    assert_eq!(
        long_flags("x [--exec AGENT [--detach]] [--yes | --message-file F]"),
        ["exec", "detach", "yes", "message-file"]
    );
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces to `-`.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

#[test]
fn links_and_anchors_resolve() {
    let text = readme();
    let anchors: BTreeSet<String> =
        text.lines().filter(|l| l.starts_with('#')).map(|l| slug(l.trim_start_matches('#'))).collect();
    let re = regex::Regex::new(r"\]\(([^)\s]+)\)").unwrap();
    let mut problems = Vec::new();
    for c in re.captures_iter(&text) {
        let target = &c[1];
        if target.contains("://") || target.starts_with("mailto:") {
            continue;
        }
        let (file, anchor) = target.split_once('#').unwrap_or((target, ""));
        if file.is_empty() {
            if !anchors.contains(anchor) {
                problems.push(format!("#{anchor}: no such heading"));
            }
        } else if !root().join(file).exists() {
            problems.push(format!("{file}: no such file"));
        }
    }
    assert!(problems.is_empty(), "README links: {problems:?} (headings: {anchors:?})");
}

#[test]
fn pages_tests_scripts_and_variables_it_names_exist() {
    let text = readme();
    let mut problems = Vec::new();
    let man = root().join("man");
    let page = regex::Regex::new(r"\b(git-okstra(?:-[a-z-]+)?)\(1\)").unwrap();
    for c in page.captures_iter(&text) {
        if !man.join(format!("{}.1", &c[1])).is_file() {
            problems.push(format!("{}(1): no such man page", &c[1]));
        }
    }
    // The decision table's short page names (`task(1)`) and tests (`target name_part`).
    for row in section(&text, "Design decisions").lines().filter(|l| l.starts_with("| ") && !l.starts_with("| ---")) {
        let cells: Vec<&str> = row.trim_matches('|').split(" | ").map(str::trim).collect();
        if cells.len() != 3 || cells[0] == "decision" {
            continue;
        }
        let short = cells[1].trim_end_matches("(1)");
        if !man.join(format!("git-okstra-{short}.1")).is_file() {
            problems.push(format!("decision table: no page git-okstra-{short}(1)"));
        }
        for test in cells[2].split(", ").map(|t| t.trim_matches('`')) {
            let mut words = test.split_whitespace();
            let target = words.next().unwrap_or_default();
            let Ok(src) = std::fs::read_to_string(root().join(format!("tests/{target}.rs"))) else {
                problems.push(format!("decision table: no test target `{target}`"));
                continue;
            };
            if let Some(name) = words.next() {
                if !src.lines().any(|l| l.trim_start().strip_prefix("fn ").is_some_and(|f| f.contains(name))) {
                    problems.push(format!("decision table: no test matching `{name}` in tests/{target}.rs"));
                }
            }
        }
    }
    for c in regex::Regex::new(r"--test ([a-z_]+)").unwrap().captures_iter(&text) {
        if !root().join(format!("tests/{}.rs", &c[1])).is_file() {
            problems.push(format!("--test {}: no such test target", &c[1]));
        }
    }
    for c in regex::Regex::new(r"(?:^|[\s`(])bin/([a-z][a-z-]*(?:\.sh)?\*?)").unwrap().captures_iter(&text) {
        let found = match c[1].strip_suffix('*') {
            Some(prefix) => std::fs::read_dir(root().join("bin"))
                .unwrap()
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with(prefix)),
            None => root().join("bin").join(&c[1]).exists(),
        };
        if !found {
            problems.push(format!("bin/{}: no such script", &c[1]));
        }
    }
    // Every OKSTRA_ variable the README names is read somewhere: none is invented.
    let mut sources = String::new();
    for dir in ["src", "tests", "bin", ".ci"] {
        collect(&root().join(dir), &mut sources);
    }
    for c in regex::Regex::new(r"\bOKSTRA_[A-Z_]+\b").unwrap().captures_iter(&text) {
        if !sources.contains(&c[0]) {
            problems.push(format!("{}: read nowhere in the code", &c[0]));
        }
    }
    problems.sort();
    problems.dedup();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn collect(dir: &Path, out: &mut String) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(&p, out);
        } else if let Ok(t) = std::fs::read_to_string(&p) {
            out.push_str(&t);
        }
    }
}
