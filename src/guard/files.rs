//! Which files a command writes, removes or changes the mode of: redirections, and the
//! arguments of the programs that do it (`tee`, `sed -i`, `cp`, `mv`, `rm`, `chmod`, `ln`,
//! `touch`, `dd of=`, editors, …), one table row per program. The rules that care —
//! `self-protect` (the guard's own files) and `discard` (`rm -r` outside the worktree) — judge
//! the paths this module finds.

use std::path::{Component, Path, PathBuf};

use super::expand::Arg;

/// What a command does to a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Write,
    Remove,
    Mode,
}

impl Effect {
    pub fn verb(self) -> &'static str {
        match self {
            Effect::Write => "writes",
            Effect::Remove => "removes or moves",
            Effect::Mode => "changes the mode or owner of",
        }
    }
}

/// Which arguments of a program are the files it changes.
#[derive(Clone, Copy)]
enum Targets {
    /// Every operand.
    All(Effect),
    /// Every operand after the first (`chmod MODE file…`).
    AfterFirst,
    /// The last operand, or `-t DIR` (`cp`, `ln`, `install`).
    Destination,
    /// Sources removed, destination written (`mv`).
    Move,
    /// `sed -i`: the files after the script.
    SedInPlace,
    /// `perl -i`: the files after the code.
    PerlInPlace,
    /// `gawk -i inplace`: the files after the program.
    AwkInPlace,
    /// `dd of=FILE`.
    Dd,
}

struct Writer {
    names: &'static [&'static str],
    /// Options that take the next word as their value.
    value_opts: &'static [&'static str],
    targets: Targets,
}

const WRITERS: &[Writer] = &[
    Writer { names: &["tee"], value_opts: &[], targets: Targets::All(Effect::Write) },
    Writer {
        names: &["touch"],
        value_opts: &["-d", "-t", "-r", "--date", "--reference"],
        targets: Targets::All(Effect::Write),
    },
    Writer {
        names: &["truncate"],
        value_opts: &["-s", "--size", "-r", "--reference"],
        targets: Targets::All(Effect::Write),
    },
    Writer {
        names: &["rm", "unlink", "shred", "rmdir", "srm"],
        value_opts: &["-n", "--iterations", "-s", "--size"],
        targets: Targets::All(Effect::Remove),
    },
    Writer { names: &["chmod", "chown", "chgrp", "chattr", "setfacl"], value_opts: &[], targets: Targets::AfterFirst },
    Writer {
        names: &["cp", "ln", "install", "rsync"],
        value_opts: &[
            "-t",
            "-S",
            "--suffix",
            "-m",
            "--mode",
            "-o",
            "--owner",
            "-g",
            "--group",
            "-e",
            "--exclude",
            "--include",
        ],
        targets: Targets::Destination,
    },
    Writer { names: &["mv"], value_opts: &["-t", "-S", "--suffix"], targets: Targets::Move },
    Writer {
        names: &["sed", "gsed"],
        value_opts: &["-e", "-f", "-l", "--expression", "--file", "--line-length"],
        targets: Targets::SedInPlace,
    },
    Writer { names: &["perl"], value_opts: &["-e", "-E", "-I", "-M", "-m", "-x"], targets: Targets::PerlInPlace },
    Writer {
        names: &["awk", "gawk"],
        value_opts: &["-f", "-v", "-F", "-i", "-e", "-l", "--file", "--assign", "--include", "--source", "--load"],
        targets: Targets::AwkInPlace,
    },
    Writer { names: &["dd"], value_opts: &[], targets: Targets::Dd },
    Writer {
        names: &["vi", "vim", "nvim", "nano", "emacs", "ed", "ex", "code", "sponge"],
        value_opts: &["-c", "-u", "-S"],
        targets: Targets::All(Effect::Write),
    },
];

/// The files `prog args…` changes, with what it does to each.
pub fn targets(prog: &str, args: &[Arg]) -> Vec<(Effect, Arg)> {
    let Some(w) = WRITERS.iter().find(|w| w.names.contains(&prog)) else { return Vec::new() };
    let (opts, mut operands) = split_options(args, w.value_opts);
    if let Targets::AfterFirst = w.targets {
        // `chmod -x f`: a mode that looks like an option is the first operand.
        if let Some(mode) = opts.iter().find(|o| {
            o.text.len() > 1
                && o.text[1..].chars().all(|c| "rwxXstugoa".contains(c))
                && !matches!(o.text.as_str(), "-R" | "-v" | "-c" | "-f")
        }) {
            operands.insert(0, mode.clone());
        }
    }
    let has = |short: char, long: &str| {
        opts.iter().any(|o| {
            o.text == long
                || o.text.starts_with(&format!("{long}="))
                || (is_cluster(&o.text) && o.text[1..].contains(short))
        })
    };
    match w.targets {
        Targets::All(e) => operands.into_iter().map(|a| (e, a)).collect(),
        Targets::AfterFirst if has('\0', "--reference") => operands.into_iter().map(|a| (Effect::Mode, a)).collect(),
        Targets::AfterFirst => operands.into_iter().skip(1).map(|a| (Effect::Mode, a)).collect(),
        Targets::Destination => destination(&opts, operands),
        Targets::Move => {
            let mut out: Vec<(Effect, Arg)> = operands.iter().cloned().map(|a| (Effect::Remove, a)).collect();
            out.extend(destination(&opts, operands));
            out
        }
        Targets::SedInPlace => {
            let in_place = opts.iter().any(|o| o.text.starts_with("--in-place") || sed_cluster_in_place(&o.text));
            let script_given = opts.iter().any(|o| {
                matches!(o.text.as_str(), "-e" | "-f" | "--expression" | "--file")
                    || o.text.starts_with("--expression=")
                    || o.text.starts_with("--file=")
            });
            rewritten(in_place, script_given, operands)
        }
        Targets::PerlInPlace => {
            let in_place = opts
                .iter()
                .any(|o| is_cluster(&o.text) && o.text[1..].starts_with(|c: char| c != 'e') && o.text.contains('i'));
            let code_given = opts.iter().any(|o| {
                o.text.starts_with("-e") || o.text.starts_with("-E") || (is_cluster(&o.text) && o.text.ends_with('e'))
            });
            rewritten(in_place, code_given, operands)
        }
        Targets::AwkInPlace => {
            // `-i inplace` (or `inplace.awk`), `-iinplace`, `--include[=]inplace`: gawk's
            // extension that rewrites each file it reads.
            let inplace = |v: &str| matches!(v, "inplace" | "inplace.awk");
            let in_place = opts.iter().enumerate().any(|(i, o)| {
                let next = opts.get(i + 1).map(|v| v.text.as_str()).unwrap_or_default();
                ((o.text == "-i" || o.text == "--include") && inplace(next))
                    || o.text.strip_prefix("-i").is_some_and(inplace)
                    || o.text.strip_prefix("--include=").is_some_and(inplace)
            });
            let program_given = opts.iter().any(|o| {
                matches!(o.text.as_str(), "-f" | "-e" | "--file" | "--source")
                    || o.text.starts_with("--file=")
                    || o.text.starts_with("--source=")
            });
            // `var=value` operands (after the program) are assignments, not files.
            let mut files = rewritten(in_place, program_given, operands);
            files.retain(|(_, a)| !a.text.contains('='));
            files
        }
        Targets::Dd => args
            .iter()
            .filter_map(|a| {
                a.text.strip_prefix("of=").map(|p| (Effect::Write, Arg { text: p.to_string(), ..a.clone() }))
            })
            .collect(),
    }
}

/// The files an in-place editor rewrites: its operands, after the program text when no
/// option gave it.
fn rewritten(in_place: bool, program_given: bool, operands: Vec<Arg>) -> Vec<(Effect, Arg)> {
    if !in_place {
        return Vec::new();
    }
    operands.into_iter().skip(usize::from(!program_given)).map(|a| (Effect::Write, a)).collect()
}

fn is_cluster(t: &str) -> bool {
    t.len() > 1 && t.starts_with('-') && !t.starts_with("--")
}

/// `sed -i`, `-i.bak`, `-Ei`, `-ni`: an `i` in a short cluster (what follows it is a suffix).
fn sed_cluster_in_place(t: &str) -> bool {
    is_cluster(t) && t[1..].chars().take_while(|c| *c != 'e' && *c != 'f').any(|c| c == 'i')
}

/// The written paths of `cp`/`ln`/`install`/`rsync`/`mv`: `-t DIR` or the last operand, and
/// each source's name inside it (the destination may be a folder).
fn destination(opts: &[Arg], operands: Vec<Arg>) -> Vec<(Effect, Arg)> {
    let t = opts.iter().position(|o| o.text == "-t" || o.text == "--target-directory").and_then(|i| opts.get(i + 1));
    let t = t.cloned().or_else(|| {
        opts.iter()
            .find_map(|o| o.text.strip_prefix("--target-directory=").map(|d| Arg { text: d.to_string(), ..o.clone() }))
    });
    let (dest, sources) = match t {
        Some(d) => (d, operands.as_slice()),
        None => match operands.split_last() {
            Some((d, rest)) if !rest.is_empty() => (d.clone(), rest),
            _ => return Vec::new(),
        },
    };
    let mut out = vec![(Effect::Write, dest.clone())];
    for s in sources {
        if let Some(name) = Path::new(&s.text).file_name() {
            let joined = format!("{}/{}", dest.text.trim_end_matches('/'), name.to_string_lossy());
            out.push((Effect::Write, Arg { text: joined, exact: dest.exact && s.exact, ..dest.clone() }));
        }
    }
    out
}

/// Options (with the values of `value_opts`) and operands, `--` ending the options.
fn split_options(args: &[Arg], value_opts: &[&str]) -> (Vec<Arg>, Vec<Arg>) {
    let mut opts = Vec::new();
    let mut operands = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a.text == "--" && a.exact {
            operands.extend(args[i..].iter().cloned());
            break;
        }
        if a.text.starts_with('-') && a.text.len() > 1 && a.exact {
            opts.push(a.clone());
            if value_opts.contains(&a.text.as_str()) {
                if let Some(v) = args.get(i) {
                    opts.push(v.clone());
                    i += 1;
                }
            }
        } else {
            operands.push(a.clone());
        }
    }
    (opts, operands)
}

/// What the links of `ln [-s] TARGET… LINK` lead to: every operand but the last (or all of
/// them with `-t DIR`).
pub fn link_targets(args: &[Arg]) -> Vec<Arg> {
    let w = WRITERS.iter().find(|w| w.names.contains(&"ln")).expect("ln is a writer");
    let (opts, mut operands) = split_options(args, w.value_opts);
    let to_dir = opts.iter().any(|o| o.text == "-t" || o.text.starts_with("--target-directory"));
    if !to_dir {
        operands.pop();
    }
    operands
}

/// The files a unified diff (or a git diff) writes, with `strip` leading components taken off
/// as `patch -p` / `git apply -p` do: each `+++` name, or the `---` name of a file it deletes.
pub fn patch_targets(text: &str, strip: usize) -> Vec<String> {
    let name = |l: &str| -> Option<String> {
        let raw = l.split('\t').next().unwrap_or(l).trim();
        let raw = raw.trim_matches('"');
        if raw == "/dev/null" || raw.is_empty() {
            return None;
        }
        let parts: Vec<&str> = raw.split('/').filter(|p| !p.is_empty()).collect();
        (parts.len() > strip).then(|| parts[strip..].join("/"))
    };
    let mut out: Vec<String> = Vec::new();
    let mut old: Option<String> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("--- ") {
            old = name(rest);
        } else if let Some(rest) = line.strip_prefix("+++ ") {
            if let Some(n) = name(rest).or_else(|| old.take()) {
                if !out.contains(&n) {
                    out.push(n);
                }
            }
        } else if let Some(rest) = line.strip_prefix("rename to ").or_else(|| line.strip_prefix("copy to ")) {
            let n = rest.trim().to_string();
            if !out.contains(&n) {
                out.push(n);
            }
        }
    }
    out
}

/// The `-p` that `patch` uses when none is given: git-style `a/`, `b/` names are stripped of
/// their first component (GNU patch detects them), other names are taken whole.
pub fn default_strip(text: &str) -> usize {
    let git_style = text.lines().any(|l| l.starts_with("diff --git ") || l.starts_with("+++ b/"));
    usize::from(git_style)
}

/// One file a Codex `apply_patch` patch changes: what happens to it and the lines it adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchFile {
    pub effect: Effect,
    pub path: String,
    /// The patch's `+` lines for this file (its whole text for an added file).
    pub added: String,
}

/// The files of a Codex `apply_patch` body (`*** Begin Patch`, `*** Add File: p`,
/// `*** Update File: p` with an optional `*** Move to: q`, `*** Delete File: p`). `None`
/// when the text is not such a patch.
pub fn codex_patch(text: &str) -> Option<Vec<PatchFile>> {
    let mut files: Vec<PatchFile> = Vec::new();
    let mut seen_begin = false;
    for line in text.lines() {
        let l = line.trim_end();
        if l.trim() == "*** Begin Patch" {
            seen_begin = true;
            continue;
        }
        let header = |prefix: &str| l.strip_prefix(prefix).map(|p| p.trim().to_string());
        if let Some(p) = header("*** Add File:") {
            files.push(PatchFile { effect: Effect::Write, path: p, added: String::new() });
        } else if let Some(p) = header("*** Update File:") {
            files.push(PatchFile { effect: Effect::Write, path: p, added: String::new() });
        } else if let Some(p) = header("*** Delete File:") {
            files.push(PatchFile { effect: Effect::Remove, path: p, added: String::new() });
        } else if let Some(p) = header("*** Move to:") {
            // The source is removed, the destination written with the update's lines.
            let last = files.last_mut()?;
            let moved = PatchFile { effect: Effect::Write, path: p, added: String::new() };
            last.effect = Effect::Remove;
            files.push(moved);
        } else if let (Some(f), Some(added)) = (files.last_mut(), l.strip_prefix('+')) {
            f.added.push_str(added);
            f.added.push('\n');
        }
    }
    (seen_begin && !files.is_empty()).then_some(files)
}

/// `.` and `..` taken out without touching the disk (`/a/b/../c` → `/a/c`).
pub fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// The path with its folders' links resolved (the last component too when it ends in `/`),
/// as far as they exist: `rm -rf link/` follows the link, `rm -rf link` does not.
pub fn real(p: &Path, follow_last: bool) -> PathBuf {
    if follow_last {
        if let Ok(c) = std::fs::canonicalize(p) {
            return c;
        }
    }
    match (p.parent(), p.file_name()) {
        (Some(dir), Some(name)) => match std::fs::canonicalize(dir) {
            Ok(d) => d.join(name),
            Err(_) => real(dir, true).join(name),
        },
        _ => p.to_path_buf(),
    }
}

/// Whether `p` is `dir` or inside it.
pub fn within(p: &Path, dir: &Path) -> bool {
    p.starts_with(dir)
}

/// Whether a path is inside a temporary folder (`/tmp`, `/var/tmp`, `$TMPDIR`, …; not the
/// folder itself).
pub fn in_temp(p: &Path) -> bool {
    let mut roots: Vec<PathBuf> =
        ["/tmp", "/var/tmp", "/private/tmp", "/private/var/folders", "/dev/shm"].iter().map(PathBuf::from).collect();
    roots.push(PathBuf::from(super::expand::temp_dir()));
    roots.iter().any(|r| {
        let r = normalize(r);
        p != r && (p.starts_with(&r) || std::fs::canonicalize(&r).is_ok_and(|c| p != c && p.starts_with(c)))
    })
}

/// The nearest folder of `p` that exists.
pub fn existing_ancestor(p: &Path) -> Option<PathBuf> {
    p.ancestors().find(|a| a.is_dir()).map(Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(prog: &str, words: &[&str]) -> Vec<(Effect, String)> {
        let args: Vec<Arg> = words.iter().map(|w| Arg::lit(*w)).collect();
        targets(prog, &args).into_iter().map(|(e, a)| (e, a.text)).collect()
    }

    #[test]
    fn writers() {
        assert_eq!(t("sed", &["-i", "s/a/b/", "f"]), [(Effect::Write, "f".into())]);
        assert_eq!(
            t("sed", &["-i.bak", "-e", "s/a/b/", "f", "g"]),
            [(Effect::Write, "f".into()), (Effect::Write, "g".into())]
        );
        assert_eq!(t("sed", &["-n", "p", "f"]), []);
        assert_eq!(t("sed", &["-Ei", "s/a/b/", "f"]), [(Effect::Write, "f".into())]);
        assert_eq!(t("chmod", &["-x", ".git/hooks/pre-push"]), [(Effect::Mode, ".git/hooks/pre-push".into())]);
        assert_eq!(t("chmod", &["+x", "a"]), [(Effect::Mode, "a".into())]);
        assert_eq!(
            t("cp", &["x", ".claude/"]),
            [(Effect::Write, ".claude/".into()), (Effect::Write, ".claude/x".into())]
        );
        assert_eq!(t("mv", &["a", "b"]).len(), 4, "both removed or replaced, b written, b/a written");
        assert_eq!(t("dd", &["if=/dev/zero", "of=.git/config"]), [(Effect::Write, ".git/config".into())]);
        assert_eq!(t("perl", &["-pi", "-e", "s/a/b/", "f"]), [(Effect::Write, "f".into())]);
        assert_eq!(t("perl", &["-ne", "print", "f"]), []);
        assert_eq!(
            t("gawk", &["-i", "inplace", "1", "f", "g"]),
            [(Effect::Write, "f".into()), (Effect::Write, "g".into())]
        );
        assert_eq!(t("awk", &["-iinplace", "-f", "p.awk", "f"]), [(Effect::Write, "f".into())]);
        assert_eq!(t("awk", &["--include=inplace", "{print}", "v=1", "f"]), [(Effect::Write, "f".into())]);
        assert_eq!(t("awk", &["{print}", "f"]), []);
        assert_eq!(t("gawk", &["-i", "inplace", "{$1=\"x\"}1", "f"]), [(Effect::Write, "f".into())]);
        assert_eq!(t("awk", &["-i", "other", "1", "f"]), []);
        assert_eq!(t("tee", &["-a", "log"]), [(Effect::Write, "log".into())]);
    }

    #[test]
    fn patches_name_their_files() {
        let git = "diff --git a/src/a.rs b/src/a.rs\n--- a/src/a.rs\n+++ b/src/a.rs\n@@ -1 +1 @@\n-x\n+y\n\
                   diff --git a/old.rs b/old.rs\ndeleted file mode 100644\n--- a/old.rs\n+++ /dev/null\n";
        assert_eq!(patch_targets(git, 1), ["src/a.rs", "old.rs"]);
        assert_eq!(default_strip(git), 1);
        let plain = "--- notes.txt\t2024-01-01\n+++ notes.txt\t2024-01-02\n@@ -1 +1 @@\n";
        assert_eq!(patch_targets(plain, 0), ["notes.txt"]);
        assert_eq!(default_strip(plain), 0);
        assert_eq!(patch_targets("rename from a\nrename to b/c\n", 1), ["b/c"]);
        let codex = "*** Begin Patch\n*** Add File: docs/n.md\n+APPROVED\n*** Update File: src/x.rs\n*** Move to: src/y.rs\n@@\n-a\n+b\n*** Delete File: z\n*** End Patch\n";
        let files = codex_patch(codex).unwrap();
        let got: Vec<(Effect, &str, &str)> =
            files.iter().map(|f| (f.effect, f.path.as_str(), f.added.as_str())).collect();
        assert_eq!(
            got,
            [
                (Effect::Write, "docs/n.md", "APPROVED\n"),
                (Effect::Remove, "src/x.rs", ""),
                (Effect::Write, "src/y.rs", "b\n"),
                (Effect::Remove, "z", "")
            ]
        );
        assert_eq!(codex_patch("just text"), None);
    }

    #[test]
    fn paths() {
        assert_eq!(normalize(Path::new("/a/b/../c/./d")), PathBuf::from("/a/c/d"));
        assert!(in_temp(Path::new("/tmp/x/y")));
        assert_eq!(existing_ancestor(Path::new("/tmp/no/such/dir")), Some(PathBuf::from("/tmp")));
        assert!(!in_temp(Path::new("/tmp")));
        assert!(!in_temp(Path::new("/home/u")));
    }
}
