//! Rendering the hook files from the templates in `hooks/` (compiled in), and recognising
//! them again. A shim finds the binary and, when a foreign hook was there first, runs it
//! before okstra. The commit hooks also write and consume the commit stamp in `sh`
//! ([`super::stamp`] holds the same protocol in Rust), and `prepare-commit-msg` recognises the
//! sequencer's commits in `sh` ([`super::process`] in Rust), so an allowed commit or rebase
//! starts no binary; every refusal stays in the binary.
//!
//! Every hook file is an `sh` script, `pre-push` too, though it always starts the binary: a
//! file whose `#!` line named the binary would spare the shell's start (about 0.6 ms a push),
//! but once that binary is moved or uninstalled git 2.47 never returns from a push (the exec
//! fails after the remote's receive-pack has started, and each waits for the other), where the
//! shim finds `git-okstra` on `PATH` or refuses with a message.

use std::path::Path;

use crate::phase::prompt::Vars;

use super::HookName;

const SHIM: &str = include_str!("../../hooks/shim.sh");
const CHAIN: &str = include_str!("../../hooks/chain.sh");
const CHAIN_STDIN: &str = include_str!("../../hooks/chain-stdin.sh");
const STAMP: &str = include_str!("../../hooks/stamp.sh");
const FAST_PRE_COMMIT: &str = include_str!("../../hooks/fast-pre-commit.sh");
const FAST_PREPARE_COMMIT_MSG: &str = include_str!("../../hooks/fast-prepare-commit-msg.sh");
const SEQUENCER: &str = include_str!("../../hooks/sequencer.sh");

/// The line that marks a file as okstra's shim (any format version). Format 2 wrote the
/// commit stamp in `sh`, format 3 also recognises the sequencer's commits there, format 4
/// leaves a commit in a task worktree to the binary (the task contract), format 5 reads git's
/// start time in linear time and looks for the stamp before git's arguments; an older shim
/// reads as stale (it differs from what install writes).
pub const MARKER: &str = "# git-okstra hook shim (format ";

/// Suffix of a foreign hook moved aside so the shim can call it first.
pub const CHAINED_SUFFIX: &str = ".okstra-chained";

/// How the shim calls a chained foreign hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainStyle {
    /// Run it as a program.
    Exec,
    /// A plain `sh` script is sourced in a subshell instead, so its `$0` still names the hook
    /// file git called (husky and others derive the hook name from `$0`).
    Source,
}

impl ChainStyle {
    /// `Source` for a script whose first line is exactly `#!/bin/sh` or `#!/usr/bin/env sh`
    /// (flags on the line would be lost by sourcing, so those are executed).
    pub fn of(content: &[u8]) -> ChainStyle {
        let first = content.split(|b| *b == b'\n').next().unwrap_or_default();
        let first = String::from_utf8_lossy(first);
        match first.trim_end() {
            "#!/bin/sh" | "#!/usr/bin/env sh" => ChainStyle::Source,
            _ => ChainStyle::Exec,
        }
    }
}

/// Quote a string for POSIX sh.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The hook file for `hook` calling `binary`, optionally calling a chained foreign hook first.
/// Rendered with the crate's one template renderer, so a value (the binary's path) is
/// inserted literally and never expanded again.
pub fn render(hook: HookName, binary: &Path, chain: Option<ChainStyle>) -> String {
    let fill = |template: &str, label: &str, pairs: &[(&str, &str)]| -> String {
        let vars: Vars = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        // The templates are compiled in and a unit test renders every combination.
        crate::phase::prompt::render_str(template, label, &vars).expect("hook templates render")
    };
    let chain = match chain {
        None => String::new(),
        Some(style) => {
            let run = match style {
                ChainStyle::Exec => r#""$chained" "$@""#,
                ChainStyle::Source => r#"( . "$chained" )"#,
            };
            let (template, label) =
                if hook.reads_stdin() { (CHAIN_STDIN, "hooks/chain-stdin.sh") } else { (CHAIN, "hooks/chain.sh") };
            fill(template, label, &[("RUN", run), ("HOOK", hook.name())])
        }
    };
    // The commit stamp and the sequencer's commits in sh (after any chained hook, which has
    // passed by then).
    let fast = match hook {
        HookName::PreCommit | HookName::PreMergeCommit => {
            fill(FAST_PRE_COMMIT, "hooks/fast-pre-commit.sh", &[("STAMP", STAMP)])
        }
        HookName::PrepareCommitMsg => fill(
            FAST_PREPARE_COMMIT_MSG,
            "hooks/fast-prepare-commit-msg.sh",
            &[("STAMP", STAMP), ("SEQUENCER", SEQUENCER)],
        ),
        _ => String::new(),
    };
    let binary = sh_quote(&binary.to_string_lossy());
    fill(SHIM, "hooks/shim.sh", &[("CHAIN", &chain), ("FAST", &fast), ("BINARY", &binary), ("HOOK", hook.name())])
}

/// Whether a hook file's content is an okstra shim.
pub fn is_shim(content: &[u8]) -> bool {
    let head = &content[..content.len().min(200)];
    String::from_utf8_lossy(head).lines().nth(1).is_some_and(|l| l.starts_with(MARKER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_binary_path_is_inserted_literally() {
        let text = render(HookName::PrePush, Path::new("/odd/{{HOOK}}/git-okstra"), None);
        assert!(text.contains("installed='/odd/{{HOOK}}/git-okstra'"), "{text}");
    }

    #[test]
    fn renders_without_placeholders() {
        for hook in HookName::CLIENT.iter().chain(HookName::SERVER.iter()) {
            for chain in [None, Some(ChainStyle::Exec), Some(ChainStyle::Source)] {
                let text = render(*hook, Path::new("/opt/it's/git-okstra"), chain);
                assert!(!text.contains("{{"), "{text}");
                assert!(text.starts_with("#!/bin/sh\n"));
                assert!(is_shim(text.as_bytes()));
                assert!(text.contains(r"installed='/opt/it'\''s/git-okstra'"));
                assert!(text.contains(&format!("exec \"$okstra\" hook {hook} \"$@\"")));
                assert_eq!(text.contains("okstra-chained"), chain.is_some());
                // The commit stamp in sh: only the commit hooks, after any chained hook.
                let commit_hook =
                    matches!(hook, HookName::PreCommit | HookName::PreMergeCommit | HookName::PrepareCommitMsg);
                assert_eq!(text.contains("okstra_stamp_ready"), commit_hook, "{text}");
                assert_eq!(text.contains("okstra_sequencer &&"), *hook == HookName::PrepareCommitMsg, "{text}");
                if let Some(at) = text.find("okstra-chained\"") {
                    assert!(text.find("okstra_stamp_ready").is_none_or(|s| s > at), "the chained hook runs first");
                }
            }
        }
    }

    /// The sh fragment finds the same start time as [`super::super::process::start_time`]
    /// for its parent (here this test process), and its stamp passes the Rust check.
    #[test]
    fn sh_stamp_is_the_rust_stamp() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join(".git")).unwrap();
        std::fs::create_dir_all(tmp.path().join(".git/okstra/stamps")).unwrap();
        let script = format!("{STAMP}okstra_stamp_ready && printf %s \"$okstra_start\" >\"$okstra_stamp\"");
        let out = crate::git::exec("sh", &["-c", script.as_str()], tmp.path()).unwrap();
        assert_eq!(out.code, 0, "{}", out.stderr);
        let me = std::process::id();
        let written = std::fs::read_to_string(tmp.path().join(format!(".git/okstra/stamps/commit-{me}"))).unwrap();
        assert_eq!(Some(written), super::super::process::start_time(me));
        assert!(super::super::stamp::check(&tmp.path().join(".git"), super::super::stamp::Kind::Commit, me, true));
    }

    /// A parent whose program name holds ")" (the name git's start time is read past): sh
    /// reads the same start time as Rust when the name holds ")" alone, and leaves a name
    /// holding ") " to the binary rather than misread the fields.
    #[test]
    fn sh_stamp_with_a_parenthesis_in_the_parent_name() {
        let sh = std::fs::canonicalize("/bin/sh").unwrap();
        for (name, settled) in [("a)b", true), ("a) b", false), ("x) 1 2 3 (y", false)] {
            let tmp = tempfile::tempdir().unwrap();
            std::fs::create_dir_all(tmp.path().join(".git/okstra/stamps")).unwrap();
            let parent = tmp.path().join(name);
            std::fs::copy(&sh, &parent).unwrap();
            let script =
                format!("{STAMP}okstra_stamp_ready && printf %s \"$okstra_start\" >\"$okstra_stamp\"; echo $PPID");
            // The copy runs the inner sh as a child, then waits on its stdin, so its start
            // time can be read while it lives.
            use std::io::{BufRead, Write};
            let mut child = std::process::Command::new(&parent)
                .args(["-c", "sh -c \"$1\"; read -r done", "outer", script.as_str()])
                .current_dir(tmp.path())
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let mut line = String::new();
            std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
            let pid: u32 = line.trim().parse().unwrap();
            let rust = super::super::process::start_time(pid);
            child.stdin.take().unwrap().write_all(b"done\n").unwrap();
            assert!(child.wait().unwrap().success(), "{name}");
            assert_eq!(pid, child.id());
            let stamp = tmp.path().join(format!(".git/okstra/stamps/commit-{pid}"));
            if settled {
                assert!(rust.is_some());
                assert_eq!(std::fs::read_to_string(&stamp).ok(), rust, "{name}");
            } else {
                assert!(!stamp.exists(), "{name}: sh wrote {:?}", std::fs::read_to_string(&stamp));
            }
        }
    }

    #[test]
    fn chain_style() {
        assert_eq!(ChainStyle::of(b"#!/bin/sh\necho hi\n"), ChainStyle::Source);
        assert_eq!(ChainStyle::of(b"#!/usr/bin/env sh\n. \"${0%/*}/h\""), ChainStyle::Source);
        assert_eq!(ChainStyle::of(b"#!/usr/bin/env bash\n"), ChainStyle::Exec);
        assert_eq!(ChainStyle::of(b"#!/bin/sh -e\n"), ChainStyle::Exec);
        assert_eq!(ChainStyle::of(b"\x7fELF"), ChainStyle::Exec);
        assert!(!is_shim(b"#!/bin/sh\necho foreign\n"));
    }
}
