//! One git invocation, read as git reads it: its global options (`-C`, `-c`, `--config-env`,
//! `--git-dir`), the config and environment it runs with, and its subcommand — a builtin, a
//! dashed name (`git-push`, `…/git-core/git-push`), an alias (expanded as git expands it), or
//! a typo that `help.autocorrect` would run. The subcommand's arguments are then read with
//! git's own option grammar and handed to the rule families.

use super::expand::Arg;
use super::git_grammar::{Grammar, Parsed};
use super::git_options::{BUILTINS, COMMANDS};
use super::rules::{block, contract, discard, hooks, push, self_protect};
use super::{git_runs, shell, walk, BranchNow, Context, Here};
use crate::policy::Violation;

/// A git invocation after its global options.
pub struct Call<'a> {
    pub sub: String,
    pub args: Vec<Arg>,
    pub here: Here,
    /// `-c` / `--config-env` / `GIT_CONFIG_*` settings, keys as written.
    pub config: Vec<(String, Arg)>,
    pub subject: &'a str,
    pub depth: usize,
}

impl Call<'_> {
    /// A config value as git would see it: inline settings first (the last wins), then the
    /// repository's config (every level).
    pub fn config_value(&self, key: &str, ctx: &mut Context) -> Option<String> {
        if let Some((_, v)) = self.config.iter().rev().find(|(k, _)| config_key_eq(k, key)) {
            return Some(v.text.clone());
        }
        ctx.repo_for(&self.here)?.config_string(key)
    }

    pub fn config_values(&self, key: &str, ctx: &mut Context) -> Vec<String> {
        let mut out: Vec<String> = ctx.repo_for(&self.here).and_then(|r| r.config_strings(key)).unwrap_or_default();
        out.extend(self.config.iter().filter(|(k, _)| config_key_eq(k, key)).map(|(_, v)| v.text.clone()));
        out
    }
}

/// Config keys compare case-insensitively in section and name, exactly in the subsection.
pub fn config_key_eq(a: &str, b: &str) -> bool {
    let split = |k: &str| -> (String, String, String) {
        let first = k.find('.').unwrap_or(k.len());
        let last = k.rfind('.').unwrap_or(k.len());
        let sub = if last > first { k[first + 1..last].to_string() } else { String::new() };
        (k[..first].to_ascii_lowercase(), sub, k[last.min(k.len())..].to_ascii_lowercase())
    };
    split(a) == split(b)
}

#[derive(Default)]
struct Globals {
    dirs: Vec<Arg>,
    git_dir: Option<Arg>,
    work_tree: Option<Arg>,
    config: Vec<(String, Arg)>,
    /// `--help`, `--version`, `--exec-path` and the like: git prints and exits.
    prints: bool,
}

/// git's global options (`git [opts] <sub>`): exact names only, git does not abbreviate them.
fn globals(args: &[Arg], subject: &str) -> Result<(Globals, usize), Violation> {
    let mut g = Globals::default();
    let mut i = 0;
    while let Some(a) = args.get(i) {
        if !a.exact && a.option_like() {
            return Err(run_time(subject, a, "could be a git option (`-c core.hooksPath=…`)"));
        }
        let t = a.text.as_str();
        let next = args.get(i + 1);
        let (name, attached) = match t.split_once('=') {
            Some((n, v)) if t.starts_with("--") => (n, Some(v)),
            _ => (t, None),
        };
        let value =
            |n: usize| attached.map(|v| Arg { text: v.to_string(), ..a.clone() }).or_else(|| args.get(n).cloned());
        let took = match name {
            "-C" => {
                g.dirs.extend(next.cloned());
                2
            }
            "-c" => {
                let kv = next.cloned().unwrap_or_else(|| Arg::lit(""));
                g.config.push(split_kv(&kv, subject)?);
                2
            }
            "--config-env" => {
                let kv = value(i + 1).unwrap_or_else(|| Arg::lit(""));
                let key = kv.text.split_once('=').map_or(kv.text.as_str(), |(k, _)| k).to_string();
                g.config.push((key, Arg::unknown("$(environment)")));
                if attached.is_some() {
                    1
                } else {
                    2
                }
            }
            "--git-dir" => {
                g.git_dir = value(i + 1);
                if attached.is_some() {
                    1
                } else {
                    2
                }
            }
            "--work-tree" => {
                g.work_tree = value(i + 1);
                if attached.is_some() {
                    1
                } else {
                    2
                }
            }
            "--namespace" | "--super-prefix" | "--attr-source" => {
                if attached.is_some() {
                    1
                } else {
                    2
                }
            }
            "--bare" => {
                g.git_dir = Some(Arg::lit("."));
                1
            }
            "-h" | "--help" | "-v" | "--version" | "--html-path" | "--man-path" | "--info-path" | "--list-cmds" => {
                g.prints = true;
                return Ok((g, args.len()));
            }
            "--exec-path" if attached.is_none() => {
                g.prints = true;
                return Ok((g, args.len()));
            }
            _ if t.starts_with('-') => 1,
            _ => break,
        };
        i += took;
    }
    Ok((g, i.min(args.len())))
}

/// `key=value` of `-c` (a bare `key` is `true`); the key must be known.
fn split_kv(kv: &Arg, subject: &str) -> Result<(String, Arg), Violation> {
    let (k, v) = kv.text.split_once('=').unwrap_or((kv.text.as_str(), "true"));
    if !kv.exact && (k.contains('$') || k.contains('*') || !kv.text.contains('=')) {
        return Err(run_time(subject, kv, "names a config key only known at run time"));
    }
    let value = Arg { text: v.to_string(), exact: kv.exact, can_be_option: false, glob: false, alts: Vec::new() };
    Ok((k.to_string(), value))
}

pub(crate) fn run_time(subject: &str, a: &Arg, what: &str) -> Violation {
    block("malformed:run-time-value", subject, format!("`{}` is only known at run time and {what}", a.text))
}

/// The settings git gets from the environment (`GIT_CONFIG_PARAMETERS`, `GIT_CONFIG_KEY_n`).
fn env_config(ctx: &Context) -> Vec<(String, Arg)> {
    let mut out = Vec::new();
    for (name, value) in &ctx.env {
        if name == "GIT_CONFIG_PARAMETERS" {
            // `'key'='value' 'key2'='v2'`: read as shell words, then split at the first `=`.
            let words = shell::parse(&value.text).ok().and_then(|c| c.into_iter().next()).map(|c| c.words);
            for w in words.unwrap_or_default() {
                let t = w.source();
                let (k, v) = t.split_once('=').unwrap_or((t.as_str(), "true"));
                out.push((k.to_string(), Arg { text: v.to_string(), ..value.clone() }));
            }
        } else if let Some(n) = name.strip_prefix("GIT_CONFIG_KEY_") {
            let v = ctx.env.iter().rev().find(|(k, _)| *k == format!("GIT_CONFIG_VALUE_{n}")).map(|(_, v)| v.clone());
            out.push((value.text.clone(), v.unwrap_or_else(|| Arg::unknown("$GIT_CONFIG_VALUE"))));
        }
    }
    out
}

/// Judge `git <args>` (or `git-<dashed> <args>`).
pub fn check(args: &[Arg], dashed: Option<&str>, subject: &str, depth: usize, ctx: &mut Context) -> Option<Violation> {
    let (g, at) = match dashed {
        Some(_) => (Globals::default(), 0),
        None => match globals(args, subject) {
            Ok(x) => x,
            Err(v) => return Some(v),
        },
    };
    if g.prints {
        return None;
    }
    let here = match where_git_runs(&g, subject, ctx) {
        Ok(h) => h,
        Err(v) => return Some(v),
    };
    let mut config = env_config(ctx);
    config.extend(g.config);
    let (sub, rest) = match dashed {
        Some(s) => (Arg::lit(s), args),
        None => (args.get(at)?.clone(), &args[at + 1..]),
    };
    let mut call = Call { sub: sub.text.clone(), args: rest.to_vec(), here, config, subject, depth };
    if let Some(v) = environment(&call, ctx) {
        return Some(v);
    }
    if !sub.exact {
        return Some(run_time(subject, &sub, "names the git subcommand"));
    }
    resolve(&mut call, ctx, true)
}

/// `-C`, `--git-dir`/`GIT_DIR` and `--work-tree`/`GIT_WORK_TREE`: the folder and repository
/// git works on.
fn where_git_runs(g: &Globals, subject: &str, ctx: &mut Context) -> Result<Here, Violation> {
    let mut dir = ctx.cwd.clone();
    for d in &g.dirs {
        dir = match (d.known(), dir) {
            (Some(t), Some(base)) => Some(super::files::normalize(&base.join(t))),
            _ => None,
        };
    }
    let env = |name: &str| ctx.env.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let under = |a: Option<Arg>, what: &str| match a {
        Some(a) if a.exact => Ok(dir.as_ref().map(|d| super::files::normalize(&d.join(&a.text)))),
        Some(a) => Err(run_time(subject, &a, what)),
        None => Ok(None),
    };
    let git_dir = under(g.git_dir.clone().or_else(|| env("GIT_DIR")), "names the repository git works on")?;
    let work_tree =
        under(g.work_tree.clone().or_else(|| env("GIT_WORK_TREE")), "names the folder git checks out into")?;
    Ok(Here { dir, git_dir, work_tree })
}

/// Rules on what git runs with: inline config and environment.
fn environment(call: &Call, ctx: &mut Context) -> Option<Violation> {
    for (key, value) in &call.config {
        if key.to_ascii_lowercase().starts_with("alias.") {
            continue; // an inline alias is judged where it is used, with its arguments
        }
        let v = hooks::inline_config(key, value, call.subject)
            .or_else(|| self_protect::inline_config(key, call.subject))
            .or_else(|| git_runs::config(key, value, call.subject, call.depth, ctx));
        if v.is_some() {
            return v;
        }
    }
    hooks::git_environment(&ctx.env, call.subject)
}

/// Find what the subcommand is and judge it.
fn resolve(call: &mut Call, ctx: &mut Context, may_correct: bool) -> Option<Violation> {
    let sub = call.sub.clone();
    if BUILTINS.binary_search(&sub.as_str()).is_ok() || COMMANDS.binary_search(&sub.as_str()).is_ok() {
        return judge(call, ctx);
    }
    if let Some(value) = alias(call, &sub, ctx) {
        return expand_alias(call, &sub, &value, ctx);
    }
    if matches!(sub.as_str(), "filter-repo") {
        return judge(call, ctx);
    }
    if sub == "okstra" {
        return self_protect::okstra(&call.args, call.subject)
            .or_else(|| contract::okstra(&call.args, call.subject, ctx));
    }
    if may_correct && autocorrect_on(call, ctx) {
        return autocorrect(call, ctx);
    }
    None // an external `git-<sub>`, or an error
}

fn alias(call: &Call, name: &str, ctx: &mut Context) -> Option<String> {
    let inline = call.config.iter().rev().find(|(k, _)| {
        k.split_once('.').is_some_and(|(s, n)| s.eq_ignore_ascii_case("alias") && n.eq_ignore_ascii_case(name))
    });
    if let Some((_, v)) = inline {
        return Some(v.text.clone());
    }
    let repo = ctx.repo_for(&call.here)?;
    repo.aliases().into_iter().rev().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

/// An alias, judged as what git runs for it: `!<shell text>` runs in a shell with the
/// arguments appended; anything else is more git words in front of the arguments.
fn expand_alias(call: &mut Call, name: &str, value: &str, ctx: &mut Context) -> Option<Violation> {
    if ctx.aliases_seen.iter().any(|a| a == name) {
        return Some(block(
            "malformed:alias-loop",
            call.subject,
            format!("the git alias `{name}` expands into itself"),
        ));
    }
    let subject = format!("{}, alias `{name}` = `{}`", call.subject, super::clip(value));
    let v = match value.trim_start().strip_prefix('!') {
        Some(script) => {
            let args: Vec<String> = call.args.iter().map(|a| shell::quote(&a.text)).collect();
            walk::check_script(&format!("{script} {}", args.join(" ")), call.depth + 1, ctx)
        }
        None => {
            let mut words: Vec<Arg> = split_cmdline(value).into_iter().map(Arg::lit).collect();
            let first = (!words.is_empty()).then(|| words.remove(0))?;
            words.extend(call.args.iter().cloned());
            let mut inner = Call {
                sub: first.text,
                args: words,
                here: call.here.clone(),
                config: call.config.clone(),
                subject: &subject,
                depth: call.depth + 1,
            };
            ctx.aliases_seen.push(name.to_string());
            let v = if inner.depth >= shell::MAX_DEPTH {
                Some(block("malformed:too-deep", &subject, "git aliases nest too deeply to read"))
            } else {
                resolve(&mut inner, ctx, false)
            };
            ctx.aliases_seen.pop();
            v
        }
    };
    v.map(|mut v| {
        if !v.subject.contains("alias `") {
            v.subject = subject.clone();
        }
        v
    })
}

/// git's `split_cmdline`: words split at blanks, `'…'`, `"…"` and backslash quoting.
fn split_cmdline(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote = None::<char>;
    let mut started = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (c, quote) {
            ('\\', q) if q != Some('\'') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                started = true;
            }
            ('\'' | '"', None) => {
                quote = Some(c);
                started = true;
            }
            (c, Some(q)) if c == q => quote = None,
            (' ' | '\t' | '\n', None) => {
                if started {
                    out.push(std::mem::take(&mut cur));
                    started = false;
                }
            }
            (c, _) => {
                cur.push(c);
                started = true;
            }
        }
    }
    if started {
        out.push(cur);
    }
    out
}

/// `help.autocorrect` set to anything that runs a guess (`immediate`, a delay, `prompt`).
fn autocorrect_on(call: &Call, ctx: &mut Context) -> bool {
    let value = call
        .config_value("help.autocorrect", ctx)
        .or_else(|| crate::git::user_config_strings("help.autocorrect").pop());
    value.is_some_and(|v| {
        !matches!(v.trim().to_ascii_lowercase().as_str(), "" | "0" | "false" | "no" | "off" | "never" | "show")
    })
}

/// A typo git would correct: judge it as every command it could be corrected to.
fn autocorrect(call: &mut Call, ctx: &mut Context) -> Option<Violation> {
    let typed = call.sub.clone();
    let mut names: Vec<String> = COMMANDS.iter().map(|c| c.to_string()).collect();
    if let Some(repo) = ctx.repo_for(&call.here) {
        names.extend(repo.aliases().into_iter().map(|(k, _)| k));
    }
    let score = |n: &str| if n.starts_with(&typed) { 0 } else { git_levenshtein(&typed, n) + 1 };
    let mut close: Vec<(usize, String)> = names.into_iter().map(|n| (score(&n), n)).filter(|(s, _)| *s < 7).collect();
    close.sort();
    // git runs the best one; judging the closest first names it in the message.
    for (_, name) in close {
        call.sub = name.clone();
        if let Some(mut v) = resolve(call, ctx, false) {
            v.subject = format!("{} (help.autocorrect runs `{typed}` as `{name}`)", v.subject);
            return Some(v);
        }
    }
    None
}

/// git's `levenshtein(s1, s2, 0, 2, 1, 3)` (swap free, substitution 2, insertion 1,
/// deletion 3), as `help.autocorrect` scores candidates.
pub fn git_levenshtein(a: &str, b: &str) -> usize {
    let (s1, s2): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let (w, s, ins, d) = (0, 2, 1, 3);
    let mut row0 = vec![0usize; s2.len() + 1];
    let mut row1: Vec<usize> = (0..=s2.len()).map(|j| j * ins).collect();
    let mut row2 = vec![0usize; s2.len() + 1];
    for i in 0..s1.len() {
        row2[0] = (i + 1) * d;
        for j in 0..s2.len() {
            row2[j + 1] = row1[j] + s * usize::from(s1[i] != s2[j]);
            if i > 0 && j > 0 && s1[i - 1] == s2[j] && s1[i] == s2[j - 1] && row2[j + 1] > row0[j - 1] + w {
                row2[j + 1] = row0[j - 1] + w;
            }
            if row2[j + 1] > row1[j + 1] + d {
                row2[j + 1] = row1[j + 1] + d;
            }
            if row2[j + 1] > row2[j] + ins {
                row2[j + 1] = row2[j] + ins;
            }
        }
        std::mem::swap(&mut row0, &mut row1);
        std::mem::swap(&mut row1, &mut row2);
    }
    row1[s2.len()]
}

/// The grammar key: `config set`, `reflog expire`, or the subcommand itself.
fn grammar_key(sub: &str, args: &[Arg]) -> String {
    let first = args.first().and_then(Arg::known).unwrap_or("");
    match sub {
        "config" if ["set", "unset", "rename-section", "remove-section", "edit"].contains(&first) => {
            format!("config {first}")
        }
        "reflog" if ["expire", "delete"].contains(&first) => format!("reflog {first}"),
        _ => sub.to_string(),
    }
}

/// Read the arguments with git's grammar and apply every rule family; a loop variable's
/// word is judged with each value it takes.
fn judge(call: &Call, ctx: &mut Context) -> Option<Violation> {
    if let Some(at) = call.args.iter().position(|a| !a.alts.is_empty()) {
        for alt in call.args[at].alts.clone().into_iter().take(64) {
            let glob = alt.contains(['*', '?', '[']);
            let mut args = call.args.clone();
            args[at] = Arg { text: alt, exact: !glob, can_be_option: false, glob, alts: Vec::new() };
            let one = Call {
                sub: call.sub.clone(),
                args,
                here: call.here.clone(),
                config: call.config.clone(),
                subject: call.subject,
                depth: call.depth,
            };
            if let Some(v) = judge(&one, ctx) {
                return Some(v);
            }
        }
        return None;
    }
    let key = grammar_key(&call.sub, &call.args);
    let sub_args = if key.contains(' ') { &call.args[1..] } else { &call.args[..] };
    let parsed = Grammar::of(&key).map(|g| g.parse(sub_args)).unwrap_or_else(|| positional(sub_args));
    ctx.note(|t| t.git(&call.sub, &parsed));
    if parsed.help {
        return None;
    }
    if let Some(a) = parsed.unknown.first().filter(|_| call.sub != "config") {
        return Some(run_time(call.subject, a, &format!("could be an option of `git {}`", call.sub)));
    }
    let v = git_runs::options(call, &parsed, ctx)
        .or_else(|| push::check(call, &parsed, ctx))
        .or_else(|| hooks::check(call, &parsed))
        .or_else(|| discard::check(call, &key, &parsed, ctx))
        .or_else(|| self_protect::git_config(call, &key, &parsed, ctx))
        .or_else(|| contract::git(call, &parsed, ctx));
    if v.is_none() {
        track(call, &parsed, ctx);
    }
    v
}

/// What an allowed command changes for the commands after it: the current branch
/// (`checkout`, `switch`, `branch -m`) and repositories that do not exist yet (`clone`, `init`,
/// `worktree add`).
fn track(call: &Call, p: &Parsed, ctx: &mut Context) {
    let value = |o: &str| {
        p.values(o).last().map(|a| if a.exact { BranchNow::Branch(a.text.clone()) } else { BranchNow::Unknown })
    };
    let lone = p.split_operands().0.first();
    let now = match call.sub.as_str() {
        "checkout" | "switch" => {
            let created = ["b", "B", "orphan", "create", "force-create"].iter().find_map(|o| value(o));
            if let Some(b) = created {
                b
            } else if p.on("detach") {
                BranchNow::Detached
            } else {
                match lone.and_then(Arg::known) {
                    None | Some("-") => BranchNow::Unknown,
                    Some(name) => branch_now(call, name, ctx),
                }
            }
        }
        "branch" if ["move", "M", "copy", "C"].iter().any(|o| p.on(o)) => BranchNow::Unknown,
        // `rebase <upstream> <branch>` and `stash branch <name>` check a branch out first.
        "rebase" if p.operands.len() >= 2 => named(&p.operands[1]),
        "stash" if p.operands.first().and_then(Arg::known) == Some("branch") => {
            p.operands.get(1).map_or(BranchNow::Unknown, named)
        }
        "symbolic-ref" if p.operands.len() >= 2 => {
            match p.operands[1].known().and_then(|r| r.strip_prefix("refs/heads/")) {
                Some(b) => BranchNow::Branch(b.to_string()),
                None => BranchNow::Unknown,
            }
        }
        "update-ref" if p.operands.first().and_then(Arg::known) == Some("HEAD") => BranchNow::Unknown,
        "bisect" if matches!(p.operands.first().and_then(Arg::known), Some("start" | "reset")) => BranchNow::Unknown,
        "clone" | "init" | "worktree" => return new_repository(call, p, ctx),
        _ => return,
    };
    ctx.set_branch(&call.here, now);
}

fn named(a: &Arg) -> BranchNow {
    a.known().map_or(BranchNow::Unknown, |b| BranchNow::Branch(b.to_string()))
}

/// `git checkout <name>` leaves HEAD on that branch when it is one (or a remote one git
/// creates locally), detached otherwise.
fn branch_now(call: &Call, name: &str, ctx: &mut Context) -> BranchNow {
    match ctx.repo_for(&call.here) {
        Some(r) if r.branch_exists(name) || r.remote_branch_named(name) => BranchNow::Branch(name.to_string()),
        Some(_) => BranchNow::Detached,
        None => BranchNow::Unknown,
    }
}

fn new_repository(call: &Call, p: &Parsed, ctx: &mut Context) {
    let ops: Vec<&Arg> = p.operands.iter().collect();
    let dir = match call.sub.as_str() {
        "clone" => match ops.as_slice() {
            [_, dir, ..] => dir.known().map(str::to_string),
            [url] => url.known().map(|u| {
                u.trim_end_matches('/').rsplit(['/', ':']).next().unwrap_or(u).trim_end_matches(".git").to_string()
            }),
            [] => None,
        },
        "init" => Some(ops.first().and_then(|a| a.known()).unwrap_or(".").to_string()),
        _ if ops.first().and_then(|a| a.known()) == Some("add") => {
            ops.get(1).and_then(|a| a.known()).map(str::to_string)
        }
        _ => return,
    };
    let base = call.here.dir.clone();
    if let (Some(d), Some(base)) = (dir, base) {
        let path = super::files::normalize(&base.join(d));
        if call.sub == "init" && ctx.repo(&path).is_some_and(|r| r.current_worktree.as_deref() == Some(path.as_path()))
        {
            return; // re-initialising an existing repository changes nothing here
        }
        ctx.new_repos.push(path);
    }
}

/// Arguments of a subcommand without a grammar in the table: all operands; git turns
/// `git <cmd> --help` into `git help <cmd>`.
fn positional(args: &[Arg]) -> Parsed {
    let help = args.first().is_some_and(|a| a.exact && matches!(a.text.as_str(), "--help" | "-h"));
    Parsed { operands: args.to_vec(), help, ..Parsed::default() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_builtins_are_sorted_for_the_binary_search() {
        assert!(BUILTINS.windows(2).all(|w| w[0] < w[1]));
        assert!(COMMANDS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn autocorrect_scores_like_git() {
        assert_eq!(git_levenshtein("psuh", "push"), 0, "a swap is free");
        assert!(git_levenshtein("comit", "commit") + 1 < 7);
        assert!(git_levenshtein("xyzzy", "push") + 1 >= 7);
    }

    #[test]
    fn cmdline_splits_like_git() {
        assert_eq!(split_cmdline(r#"push --force "a b" 'c d' e\ f"#), ["push", "--force", "a b", "c d", "e f"]);
    }

    #[test]
    fn config_keys() {
        assert!(config_key_eq("Core.HooksPath", "core.hooksPath"));
        assert!(config_key_eq("remote.Origin.push", "REMOTE.Origin.PUSH"));
        assert!(!config_key_eq("remote.Origin.push", "remote.origin.push"));
    }
}
