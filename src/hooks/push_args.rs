//! What the `git push` that runs `pre-push` asks for, read from its command line: whether it
//! forces, mirrors or only pretends. git tells the hook none of this (a forced and an unforced
//! update give the same stdin line), so `pre-push` reads its parent's arguments as git's option
//! parser does, and errs towards "forced": an option that could abbreviate `--force…` or
//! `--mirror` counts as one (git refuses an ambiguous one itself), and no argument is taken as
//! an option's value, so a `+` anywhere after the command counts as a forcing refspec.

/// What a push command line asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PushArgs {
    /// `--force`/`-f`, `--force-with-lease`, `--force-if-includes`, or a `+refspec`.
    pub force: bool,
    /// `--mirror`.
    pub mirror: bool,
    /// `--dry-run`/`-n`.
    pub dry_run: bool,
}

/// Whether `name` (a long option without its dashes and `=value`) is `full` or a prefix of it.
fn abbreviates(name: &str, full: &str) -> bool {
    !name.is_empty() && full.starts_with(name)
}

/// Read the command line of a git process; `None` when it is not a `git push`.
pub fn read(argv: &[String]) -> Option<PushArgs> {
    let (start, command) = super::process::subcommand_at(argv)?;
    if command != "push" {
        return None;
    }
    let mut out = PushArgs::default();
    let mut options = true;
    for a in &argv[start..] {
        if options && (a == "--" || a == "--end-of-options") {
            options = false;
        } else if options && a.starts_with("--") {
            let name = a[2..].split('=').next().unwrap_or_default();
            out.force |= ["force", "force-with-lease", "force-if-includes"].iter().any(|f| abbreviates(name, f))
                || name.starts_with("force");
            out.mirror |= abbreviates(name, "mirror");
            out.dry_run |= abbreviates(name, "dry-run");
        } else if options && a.len() > 1 && a.starts_with('-') {
            // A cluster of short options (`-uf`); `-o<value>` ends it.
            let cluster = a[1..].split('o').next().unwrap_or_default();
            out.force |= cluster.contains('f');
            out.dry_run |= cluster.contains('n');
        }
        out.force |= a.starts_with('+');
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Option<PushArgs> {
        read(&line.split(' ').map(str::to_string).collect::<Vec<_>>())
    }

    #[test]
    fn forcing_in_every_spelling() {
        for line in [
            "git push --force origin x",
            "git push -f origin x",
            "git push -uf origin x",
            "git push origin +x",
            "git push origin x +y:z",
            "git push --force-with-lease origin x",
            "git push --force-w=x:abc origin x",
            "git push --forc origin x",
            "git push --force-if-includes --force-with-lease origin x",
            "git push origin -- +x",
            "git -C dir -c a=b push -f",
            "/usr/libexec/git-core/git-push -f origin x",
        ] {
            assert!(args(line).unwrap().force, "{line}");
        }
        for line in ["git push origin x", "git push -u origin x", "git push --no-force origin x", "git push -o ci.skip"]
        {
            assert!(!args(line).unwrap().force, "{line}");
        }
    }

    #[test]
    fn mirror_and_dry_run() {
        assert!(args("git push --mirror origin").unwrap().mirror);
        assert!(args("git push --mirr origin").unwrap().mirror);
        assert!(!args("git push origin -- --mirror").unwrap().mirror, "after -- it is a refspec");
        assert!(args("git push --dry-run origin x").unwrap().dry_run);
        assert!(args("git push -nu origin x").unwrap().dry_run);
        assert!(!args("git push -u origin x").unwrap().dry_run);
        assert_eq!(args("git commit -n"), None);
        assert_eq!(args("sh -c push"), None);
    }
}
