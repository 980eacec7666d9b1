//! git's option grammar (parse-options), applied to the arguments of a subcommand: short
//! clusters (`-am msg`, `-x'cmd'`), `--long[=value]`, long options abbreviated to any unique
//! prefix (`--mirr`, `--force-w`, `--no-veri`), `--no-<opt>` cancelling `<opt>`, `--` and
//! `--end-of-options`. The options of each subcommand come from git itself: the table in
//! [`super::git_options`] is what `git <cmd> --git-completion-helper-all` and `git <cmd> -h`
//! print, and a test compares it with the installed git.
//!
//! A prefix that fits several options (git refuses it as ambiguous) counts as all of them;
//! an option git does not know is ignored (git refuses the command): both err on the safe side.

use super::expand::Arg;
use super::git_options::{Spec, SPECS};

/// One long spelling git accepts: `force-with-lease`, `no-verify`, `verify`, `repo=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Spelling {
    text: &'static str,
    /// The option it sets, without `no-`.
    base: &'static str,
    /// `false` for the `no-` form.
    set: bool,
    /// Takes a value (attached with `=`, or the next word).
    required: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    None,
    Required,
    /// Only ever attached (`-S<key>`).
    Optional,
}

#[derive(Debug, Clone, Copy)]
struct Short {
    letter: char,
    /// The long option it stands for (`None` for short-only options such as `branch -D`).
    spelling: Option<Spelling>,
    shape: Shape,
}

/// The options of one subcommand.
pub struct Grammar {
    pub cmd: &'static str,
    longs: Vec<Spelling>,
    shorts: Vec<Short>,
}

/// One option as used on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opt {
    /// The option's name without `no-` (`verify` for `--no-verify`, `dry-run` for `-n` on push).
    pub base: &'static str,
    /// `false` for the `--no-` form.
    pub set: bool,
    pub value: Option<Arg>,
    /// As written (`--no-veri`, `-n`), for messages and `--explain`.
    pub written: String,
}

/// A subcommand's arguments read with its grammar.
#[derive(Debug, Default)]
pub struct Parsed {
    pub opts: Vec<Opt>,
    pub operands: Vec<Arg>,
    /// Index into `operands` where those after `--` start.
    pub dashdash: Option<usize>,
    /// Words only known at run time where an option could stand (also among `operands`).
    pub unknown: Vec<Arg>,
    /// `-h`, `--help`: git prints usage and does nothing else.
    pub help: bool,
}

impl Parsed {
    /// The last use of an option: `Some(true)` set, `Some(false)` negated, `None` not given.
    pub fn last(&self, base: &str) -> Option<bool> {
        self.opts.iter().rev().find(|o| o.base == base).map(|o| o.set)
    }

    /// Whether the option is in force at the end.
    pub fn on(&self, base: &str) -> bool {
        self.last(base) == Some(true)
    }

    /// The option as last written, if it is in force.
    pub fn written(&self, base: &str) -> Option<&str> {
        self.opts.iter().rev().find(|o| o.base == base).filter(|o| o.set).map(|o| o.written.as_str())
    }

    /// Every value given to an option (in order).
    pub fn values(&self, base: &str) -> Vec<&Arg> {
        self.opts.iter().filter(|o| o.base == base && o.set).filter_map(|o| o.value.as_ref()).collect()
    }

    /// The operands before `--`, and after.
    pub fn split_operands(&self) -> (&[Arg], &[Arg]) {
        self.operands.split_at(self.dashdash.unwrap_or(self.operands.len()))
    }
}

fn spelling(token: &'static str) -> Spelling {
    let (text, required) = match token.strip_suffix('=') {
        Some(t) => (t, true),
        None => (token, false),
    };
    let (base, set) = match text.strip_prefix("no-") {
        Some(b) => (b, false),
        None => (text, true),
    };
    Spelling { text, base, set, required }
}

impl Grammar {
    /// The grammar of `cmd` (`push`, `stash drop`, …), if the table has it.
    pub fn of(cmd: &str) -> Option<Grammar> {
        SPECS.iter().find(|s| s.cmd == cmd).map(Grammar::from_spec)
    }

    fn from_spec(spec: &Spec) -> Grammar {
        let longs: Vec<Spelling> =
            spec.long.split(' ').filter_map(|t| t.strip_prefix("--")).filter(|t| !t.is_empty()).map(spelling).collect();
        let find = |t: &str| longs.iter().copied().find(|s| s.text == t);
        let shorts = spec
            .short
            .split(' ')
            .filter(|t| !t.is_empty())
            .filter_map(|t| {
                let mut chars = t.chars();
                let letter = chars.next()?;
                let rest = chars.as_str();
                let (kind, name) = rest.split_at(rest.len().min(1));
                let (spelling, shape) = match kind {
                    ":" => {
                        let s = find(name);
                        (s, if s.is_some_and(|s| s.required) { Shape::Required } else { Shape::None })
                    }
                    "?" if !name.is_empty() => (find(name), Shape::Optional),
                    "?" => (None, Shape::Optional),
                    "=" => (None, Shape::Required),
                    _ => (None, Shape::None),
                };
                Some(Short { letter, spelling, shape })
            })
            .collect();
        Grammar { cmd: spec.cmd, longs, shorts }
    }

    /// The spellings a long option word (without `--` and `=value`) stands for: the exact one,
    /// else every one it is a prefix of.
    fn long(&self, name: &str) -> Vec<Spelling> {
        if let Some(s) = self.longs.iter().find(|s| s.text == name) {
            return vec![*s];
        }
        let mut hits: Vec<Spelling> = self.longs.iter().copied().filter(|s| s.text.starts_with(name)).collect();
        hits.dedup_by_key(|s| (s.base, s.set));
        hits
    }

    /// Read `args` as git reads this subcommand's arguments.
    pub fn parse(&self, args: &[Arg]) -> Parsed {
        let mut p = Parsed::default();
        let mut i = 0;
        while i < args.len() {
            let a = &args[i];
            i += 1;
            if p.dashdash.is_some() {
                p.operands.push(a.clone());
                continue;
            }
            if !a.exact && a.can_be_option {
                // Kept in place among the operands too: it may be one.
                p.unknown.push(a.clone());
                p.operands.push(a.clone());
                continue;
            }
            let t = a.text.as_str();
            if t == "--" || t == "--end-of-options" {
                p.dashdash = Some(p.operands.len());
            } else if let Some(long) = t.strip_prefix("--") {
                i += self.long_option(long, a, args.get(i), &mut p);
            } else if t.len() > 1 && t.starts_with('-') {
                i += self.short_cluster(&t[1..], a, args.get(i), &mut p);
            } else {
                p.operands.push(a.clone());
            }
        }
        p
    }

    /// `--name[=value]`; how many following words it took.
    fn long_option(&self, long: &str, word: &Arg, next: Option<&Arg>, p: &mut Parsed) -> usize {
        let (name, attached) = match long.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (long, None),
        };
        if name == "help" || name == "help-all" {
            p.help = true;
            return 0;
        }
        let hits = self.long(name);
        let takes = hits.iter().any(|s| s.required && s.set) && attached.is_none();
        let value = match attached {
            Some(v) => Some(Arg { text: v.to_string(), ..word.clone() }),
            None if takes => next.cloned(),
            None => None,
        };
        for s in &hits {
            p.opts.push(Opt { base: s.base, set: s.set, value: value.clone(), written: format!("--{long}") });
        }
        usize::from(takes && next.is_some())
    }

    /// `-abc`, `-mmsg`, `-m msg`; how many following words it took.
    fn short_cluster(&self, cluster: &str, word: &Arg, next: Option<&Arg>, p: &mut Parsed) -> usize {
        for (k, c) in cluster.char_indices() {
            let rest = &cluster[k + c.len_utf8()..];
            let Some(s) = self.shorts.iter().find(|s| s.letter == c) else {
                if c == 'h' {
                    p.help = true;
                }
                continue; // git refuses an unknown option; read on to err on the safe side
            };
            let (base, set) = s.spelling.map_or((short_name(c), true), |sp| (sp.base, sp.set));
            let written = format!("-{c}");
            let (value, took) = match s.shape {
                Shape::None => (None, 0),
                Shape::Optional if rest.is_empty() => (None, 0),
                Shape::Required if rest.is_empty() => (next.cloned(), usize::from(next.is_some())),
                _ => (Some(Arg { text: rest.to_string(), ..word.clone() }), 0),
            };
            let ends = s.shape != Shape::None;
            p.opts.push(Opt { base, set, value, written });
            if ends {
                return took;
            }
        }
        0
    }
}

/// Short options without a long name are known by their letter (`-D` on `branch`).
fn short_name(c: char) -> &'static str {
    const LETTERS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    LETTERS.find(c).map(|i| &LETTERS[i..i + 1]).unwrap_or("?")
}

/// The subcommands (and sub-subcommands) whose options the guard reads, in the table's order.
pub const GUARDED: &[&str] = &[
    "am",
    "apply",
    "branch",
    "checkout",
    "cherry-pick",
    "clean",
    "clone",
    "commit",
    "config",
    "config set",
    "config unset",
    "config rename-section",
    "config remove-section",
    "config edit",
    "difftool",
    "fetch",
    "gc",
    "ls-remote",
    "merge",
    "mv",
    "prune",
    "pull",
    "push",
    "rebase",
    "reflog delete",
    "reflog expire",
    "reset",
    "restore",
    "revert",
    "rm",
    "send-pack",
    "switch",
    "update-ref",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn lits(words: &[&str]) -> Vec<Arg> {
        words.iter().map(|w| Arg::lit(*w)).collect()
    }

    fn opts(cmd: &str, words: &[&str]) -> Vec<(String, bool, Option<String>)> {
        let p = Grammar::of(cmd).unwrap().parse(&lits(words));
        p.opts.into_iter().map(|o| (o.base.to_string(), o.set, o.value.map(|v| v.text))).collect()
    }

    fn o(base: &str, set: bool, v: Option<&str>) -> (String, bool, Option<String>) {
        (base.to_string(), set, v.map(str::to_string))
    }

    #[test]
    fn unique_prefixes_and_negations() {
        assert_eq!(opts("push", &["--mirr"]), vec![o("mirror", true, None)]);
        assert_eq!(opts("push", &["--force-w"]), vec![o("force-with-lease", true, None)]);
        assert_eq!(opts("push", &["--force"]), vec![o("force", true, None)], "an exact name wins over longer ones");
        assert_eq!(opts("push", &["--no-veri"]), vec![o("verify", false, None)]);
        assert_eq!(opts("push", &["--verif"]), vec![o("verify", true, None)]);
        assert_eq!(opts("push", &["-n", "--no-dry-run"]), vec![o("dry-run", true, None), o("dry-run", false, None)]);
        assert_eq!(opts("commit", &["--no-verif"]), vec![o("verify", false, None)]);
        // Ambiguous for git (it refuses): every candidate counts.
        let amb = opts("push", &["--no-ver"]);
        assert!(amb.contains(&o("verify", false, None)) && amb.contains(&o("verbose", false, None)), "{amb:?}");
    }

    #[test]
    fn values_attach_or_take_the_next_word() {
        assert_eq!(opts("commit", &["-am", "msg"]), vec![o("all", true, None), o("message", true, Some("msg"))]);
        assert_eq!(opts("commit", &["-mn"]), vec![o("message", true, Some("n"))]);
        assert_eq!(opts("commit", &["-m", "-n"]), vec![o("message", true, Some("-n"))]);
        assert_eq!(
            opts("commit", &["-anm", "x"]),
            vec![o("all", true, None), o("verify", false, None), o("message", true, Some("x"))]
        );
        assert_eq!(
            opts("rebase", &["-ix", "git push -f"]),
            vec![o("interactive", true, None), o("exec", true, Some("git push -f"))]
        );
        assert_eq!(opts("rebase", &["-xmake"]), vec![o("exec", true, Some("make"))]);
        assert_eq!(opts("rebase", &["--exe", "cmd"]), vec![o("exec", true, Some("cmd"))]);
        assert_eq!(opts("rebase", &["--exec=cmd"]), vec![o("exec", true, Some("cmd"))]);
        assert_eq!(opts("commit", &["-Skey", "-n"]), vec![o("gpg-sign", true, Some("key")), o("verify", false, None)]);
        assert_eq!(opts("push", &["--force-with-lease", "origin"]), vec![o("force-with-lease", true, None)]);
        assert_eq!(opts("branch", &["-D", "x"]), vec![o("D", true, None)]);
    }

    #[test]
    fn operands_help_and_unknown_words() {
        let p = Grammar::of("commit").unwrap().parse(&lits(&["-m", "x", "--", "-n", "a"]));
        assert_eq!(p.operands.iter().map(|a| a.text.as_str()).collect::<Vec<_>>(), ["-n", "a"]);
        assert_eq!(p.dashdash, Some(0));
        assert!(!p.on("verify") && p.last("verify").is_none());
        assert!(Grammar::of("push").unwrap().parse(&lits(&["-f", "--help"])).help);
        assert!(Grammar::of("push").unwrap().parse(&lits(&["-fh"])).help);
        let p = Grammar::of("push").unwrap().parse(&[Arg::lit("origin"), Arg::unknown("$R")]);
        assert_eq!(p.unknown.len(), 1);
    }

    /// Run git in a fresh repository with a neutral environment.
    fn git(dir: &std::path::Path, args: &[&str]) -> String {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("LC_ALL", "C")
            .env("HOME", dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env_remove("GIT_DIR")
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run git");
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        text
    }

    /// `--name`/`--name=`/`--no-name` from `-h` lines (for `git config`'s action options,
    /// which `--git-completion-helper` does not list).
    fn longs_from_usage(usage: &str) -> String {
        let mut out = Vec::new();
        for line in usage.lines() {
            let t = line.trim_start();
            if !line.starts_with("    -") {
                continue;
            }
            let Some(at) = t.find("--") else { continue };
            let after = &t[at + 2..];
            let (neg, after) = match after.strip_prefix("[no-]") {
                Some(a) => (true, a),
                None => (false, after),
            };
            let name: String = after.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
            let rest = &after[name.len()..];
            let required = rest.starts_with(" <") || rest.starts_with(" (");
            out.push(format!("--{name}{}", if required { "=" } else { "" }));
            if neg {
                out.push(format!("--no-{name}"));
            }
        }
        out.join(" ")
    }

    /// `X:long`, `X?long`, `X=`, `X?`, `X` tokens from the `-h` lines that start with a letter.
    fn shorts_from_usage(usage: &str) -> String {
        let mut out = Vec::new();
        for line in usage.lines() {
            let Some(t) = line.strip_prefix("    -") else { continue };
            let mut chars = t.chars();
            let Some(letter) = chars.next().filter(|c| *c != '-') else { continue };
            let rest = chars.as_str();
            if let Some(long) = rest.strip_prefix(", --") {
                let long = long.strip_prefix("[no-]").unwrap_or(long);
                let name: String = long.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
                let optional = long[name.len()..].starts_with("[=");
                out.push(format!("{letter}{}{name}", if optional { '?' } else { ':' }));
            } else if rest.starts_with(" <") || rest.starts_with(" (") {
                out.push(format!("{letter}="));
            } else if rest.starts_with('[') {
                out.push(format!("{letter}?"));
            } else {
                out.push(letter.to_string());
            }
        }
        out.join(" ")
    }

    fn quote(s: &str) -> String {
        format!("{s:?}")
    }

    /// The text of `src/guard/git_options.rs` for the installed git.
    fn generate(cmds: &[&str]) -> String {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        git(dir, &["init", "-q"]);
        let version = git(dir, &["--version"]).trim().trim_start_matches("git version ").to_string();
        let mut out = String::new();
        out.push_str("//! git's options for each subcommand the guard reads, as the installed git prints them\n");
        out.push_str("//! (`git <cmd> --git-completion-helper-all` for the long ones, `git <cmd> -h` for the short\n");
        out.push_str("//! letters), and git's own command names. Generated — do not edit: a test in\n");
        out.push_str("//! `git_grammar` compares it with the installed git, and\n");
        out.push_str("//! `OKSTRA_REGEN_GIT_OPTIONS=1 cargo test --lib guard::git_grammar` rewrites it.\n\n");
        out.push_str(&format!("pub const GIT_VERSION: &str = {};\n\n", quote(&version)));
        out.push_str("/// One subcommand: its long spellings (`=`: takes a value) and short letters\n");
        out.push_str("/// (`X:long` the same as `--long`, `X?long` with a value only attached, `X=` short-only\n");
        out.push_str("/// with a value, `X` short-only without).\n");
        out.push_str("pub struct Spec {\n    pub cmd: &'static str,\n    pub long: &'static str,\n    pub short: &'static str,\n}\n\n");
        out.push_str("pub const SPECS: &[Spec] = &[\n");
        for cmd in cmds {
            let words: Vec<&str> = cmd.split(' ').collect();
            let mut helper_args = words.clone();
            helper_args.push("--git-completion-helper-all");
            let helper = git(dir, &helper_args);
            let mut usage_args = words.clone();
            if *cmd == "config" {
                usage_args.push("--get"); // the action options are listed only once one is given
            }
            usage_args.push("-h");
            let usage = git(dir, &usage_args);
            let helper = helper.trim();
            let long = if helper.split(' ').any(|t| t.starts_with("--") && t.len() > 2) {
                helper.to_string()
            } else {
                longs_from_usage(&usage)
            };
            out.push_str(&format!(
                "    Spec {{\n        cmd: {},\n        long: {},\n        short: {},\n    }},\n",
                quote(cmd),
                quote(&long),
                quote(&shorts_from_usage(&usage))
            ));
        }
        out.push_str("];\n\n");
        for (name, list) in [("BUILTINS", "builtins"), ("COMMANDS", "main")] {
            let mut names: Vec<String> =
                git(dir, &[&format!("--list-cmds={list}")]).lines().map(str::to_string).collect();
            names.sort();
            let doc = if list == "builtins" {
                "/// git's builtin commands (`git --list-cmds=builtins`), sorted."
            } else {
                "/// Every command git finds in its exec-path (`git --list-cmds=main`), sorted: no alias shadows them."
            };
            out.push_str(&format!("{doc}\npub const {name}: &[&str] = &[\n"));
            for n in names {
                out.push_str(&format!("    {},\n", quote(&n)));
            }
            out.push_str("];\n");
            if list == "builtins" {
                out.push('\n');
            }
        }
        out
    }

    /// The table must be what the installed git prints. `OKSTRA_REGEN_GIT_OPTIONS=1` rewrites it.
    #[test]
    fn the_option_table_is_what_the_installed_git_prints() {
        let generated = generate(GUARDED);
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/guard/git_options.rs");
        if std::env::var_os("OKSTRA_REGEN_GIT_OPTIONS").is_some() {
            std::fs::write(&path, &generated).unwrap();
            return;
        }
        let current = std::fs::read_to_string(&path).unwrap();
        assert!(
            current == generated,
            "src/guard/git_options.rs differs from what the installed git prints; regenerate it with \
             `OKSTRA_REGEN_GIT_OPTIONS=1 cargo test --lib guard::git_grammar` and review the diff"
        );
    }
}
