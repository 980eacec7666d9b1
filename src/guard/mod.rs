//! The agent guard: reads the command an agent host is about to run (Claude Code, Gemini CLI,
//! Cursor, or plain text), finds every git, gh and publishing invocation in it with
//! [`crate::guard::shell`], and judges it with the rules of [`crate::policy`].
//!
//! Pure decisions; the only outside read is the repository's protected-branch list and current
//! branch (through gix), and only when the command pushes to an explicit ref.

pub mod agents;
pub mod contract;
pub mod shell;

use std::path::PathBuf;

use crate::policy::{self, Protected, Rule, Violation};
use shell::SimpleCommand;

/// The agent host whose hook called us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    Claude,
    Gemini,
    Cursor,
    /// A command given as plain text (argument or stdin).
    Plain,
}

impl Host {
    pub fn name(self) -> &'static str {
        match self {
            Host::Claude => "claude",
            Host::Gemini => "gemini",
            Host::Cursor => "cursor",
            Host::Plain => "plain",
        }
    }
}

/// What the host asked about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// A shell command to judge, the host, and the folder it runs in (if the host said).
    Shell { host: Host, command: String, cwd: Option<PathBuf> },
    /// A tool call that runs no shell command (a host hook matched more than the shell tool).
    NotShell { host: Host, tool: String },
}

/// Tool names that run a shell command.
const SHELL_TOOLS: &[&str] = &["Bash", "run_shell_command", "Shell", "shell", "bash"];

/// Read the hook input: one of the three host JSON shapes, else the text is the command.
/// Input that looks like JSON but cannot be read is an error (the caller blocks).
pub fn read_request(input: &str) -> Result<Request, String> {
    let trimmed = input.trim_start();
    // A JSON object starts `{"` or `{}`; a shell group `{ cmd; }` does not.
    let json =
        trimmed.strip_prefix('{').is_some_and(|r| matches!(r.trim_start().chars().next(), Some('"' | '}') | None));
    if !json {
        return Ok(plain(input));
    }
    let v: serde_json::Value =
        serde_json::from_str(trimmed).map_err(|e| format!("the hook input is not valid JSON ({e})"))?;
    let obj = v.as_object().ok_or("the hook input is not a JSON object")?;
    let event = obj.get("hook_event_name").and_then(|e| e.as_str()).unwrap_or("");
    let cwd = obj.get("cwd").and_then(|c| c.as_str()).filter(|c| !c.is_empty()).map(PathBuf::from);
    if let Some(input) = obj.get("tool_input") {
        let tool = obj.get("tool_name").and_then(|t| t.as_str()).unwrap_or("");
        let host = match (event, tool) {
            ("BeforeTool", _) | (_, "run_shell_command") => Host::Gemini,
            _ => Host::Claude,
        };
        if !tool.is_empty() && !SHELL_TOOLS.contains(&tool) {
            return Ok(Request::NotShell { host, tool: tool.to_string() });
        }
        let command = input
            .get("command")
            .and_then(|c| c.as_str())
            .ok_or_else(|| format!("the {} hook input has no tool_input.command string", host.name()))?;
        return Ok(Request::Shell { host, command: command.to_string(), cwd });
    }
    if let Some(command) = obj.get("command").and_then(|c| c.as_str()) {
        return Ok(Request::Shell { host: Host::Cursor, command: command.to_string(), cwd });
    }
    Err(format!(
        "the hook input has neither tool_input.command (Claude Code, Gemini CLI) nor command (Cursor){}",
        if event.is_empty() { String::new() } else { format!("; event {event:?}") }
    ))
}

/// A command given as text (an argument, or stdin that is not JSON).
pub fn plain(command: &str) -> Request {
    Request::Shell { host: Host::Plain, command: command.to_string(), cwd: None }
}

/// Where the command runs: the protected branches and the current branch are read from
/// there, lazily, the first time a push names a ref.
pub struct Context {
    pub cwd: PathBuf,
    repo: Option<Option<RepoFacts>>,
}

struct RepoFacts {
    protected: Protected,
    current_branch: Option<String>,
    /// `alias.<name>` from the repository's config (every level), last value wins.
    aliases: Vec<(String, String)>,
}

impl Context {
    pub fn new(cwd: PathBuf) -> Context {
        Context { cwd, repo: None }
    }

    /// A context with a fixed protected list and current branch (no repository is read).
    pub fn with(protected: Protected, current_branch: Option<&str>) -> Context {
        let facts = RepoFacts { protected, current_branch: current_branch.map(str::to_string), aliases: Vec::new() };
        Context { cwd: PathBuf::from("."), repo: Some(Some(facts)) }
    }

    fn facts(&mut self) -> Option<&RepoFacts> {
        if self.repo.is_none() {
            let facts = crate::git::Repo::discover(&self.cwd).ok().flatten().map(|repo| RepoFacts {
                protected: Protected::from_repo(&repo),
                current_branch: current_branch(&repo),
                aliases: aliases(&repo),
            });
            self.repo = Some(facts);
        }
        self.repo.as_ref().and_then(|r| r.as_ref())
    }

    fn protected(&mut self) -> Protected {
        self.facts().map(|f| f.protected.clone()).unwrap_or_default()
    }

    fn current_branch(&mut self) -> Option<String> {
        self.facts().and_then(|f| f.current_branch.clone())
    }

    fn alias(&mut self, name: &str) -> Option<String> {
        let facts = self.facts()?;
        facts.aliases.iter().rev().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
    }
}

fn aliases(repo: &crate::git::Repo) -> Vec<(String, String)> {
    let config = repo.gix().config_snapshot();
    let Some(sections) = config.plumbing().sections_by_name("alias") else { return Vec::new() };
    let mut out = Vec::new();
    for section in sections.filter(|s| s.header().subsection_name().is_none()) {
        for name in section.value_names() {
            if let Some(value) = section.value(&name) {
                out.push((name, value.to_string()));
            }
        }
    }
    out
}

fn current_branch(repo: &crate::git::Repo) -> Option<String> {
    let name = repo.gix().head_name().ok()??;
    Some(name.shorten().to_string())
}

/// Judge a whole shell command; the first violation found, if any.
pub fn check(command: &str, ctx: &mut Context) -> Option<Violation> {
    check_script(command, 0, ctx)
}

fn check_script(text: &str, depth: usize, ctx: &mut Context) -> Option<Violation> {
    let commands = match shell::parse_at_depth(text, depth) {
        Ok(c) => c,
        Err(e) => {
            return Some(violation(
                Rule::Malformed,
                &clip(text),
                format!("{e}, so it cannot be checked with certainty"),
            ))
        }
    };
    let mut previous: Option<&SimpleCommand> = None;
    for c in &commands {
        // `echo 'git push -f' | sh`: the text a shell reads from a pipe, when we can see it.
        let fed = previous.filter(|_| c.piped).and_then(echoed_text);
        if let Some(v) = check_command(c, fed, depth, ctx) {
            return Some(v);
        }
        previous = Some(c);
    }
    None
}

/// What `echo …` / `printf …` writes, roughly (enough to read it as a script).
fn echoed_text(cmd: &SimpleCommand) -> Option<String> {
    let (first, args) = cmd.words.split_first()?;
    match basename(first) {
        "echo" => Some(args.iter().skip_while(|a| a.starts_with('-')).cloned().collect::<Vec<_>>().join(" ")),
        "printf" => Some(args.join(" ").replace("\\n", "\n")),
        _ => None,
    }
}

fn violation(rule: Rule, subject: &str, message: impl Into<String>) -> Violation {
    Violation::new(rule, subject, message, policy::command_fix(rule))
}

/// At most 160 characters of a command, for messages.
fn clip(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(160) {
        Some((i, _)) => format!("{}…", &one_line[..i]),
        None => one_line,
    }
}

/// Words that open or close a compound command; the command proper follows them.
const RESERVED: &[&str] = &["!", "{", "}", "then", "do", "else", "elif", "if", "while", "until", "fi", "done", "esac"];
const SHELLS: &[&str] = &["sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "yash", "fish"];

fn basename(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
}

fn check_command(cmd: &SimpleCommand, fed: Option<String>, depth: usize, ctx: &mut Context) -> Option<Violation> {
    let mut words: &[String] = &cmd.words;
    while let Some(first) = words.first() {
        if RESERVED.contains(&first.as_str()) {
            words = &words[1..];
        } else {
            break;
        }
    }
    let subject = clip(&shell::join(&[cmd.assigns.clone(), words.to_vec()].concat()));
    for a in &cmd.assigns {
        if let Some(v) = check_assignment(a, &subject) {
            return Some(v);
        }
    }
    let mut stdin = cmd.stdin.clone();
    stdin.extend(fed);
    check_argv(words, &stdin, &subject, depth, ctx)
}

/// `NAME=value` set for a command or exported: the override and the hook switches.
fn check_assignment(assign: &str, subject: &str) -> Option<Violation> {
    let (name, value) = assign.split_once('=').unwrap_or((assign, ""));
    let name = name.trim_end_matches('+');
    if name == crate::config::ENV_ALLOW {
        return Some(violation(
            Rule::Override,
            subject,
            "setting OKSTRA_ALLOW is the user's override, never an agent's",
        ));
    }
    let off = |v: &str| matches!(v.trim().to_ascii_lowercase().as_str(), "0" | "false" | "no" | "off");
    let bypass = match name {
        "HUSKY" | "LEFTHOOK" => off(value),
        "HUSKY_SKIP_HOOKS" | "SKIP" | "PRE_COMMIT_ALLOW_NO_CONFIG" | "LEFTHOOK_EXCLUDE" => !value.is_empty(),
        "GIT_CONFIG_PARAMETERS" => value.to_ascii_lowercase().contains("core.hookspath"),
        n if n.starts_with("GIT_CONFIG_KEY_") => value.eq_ignore_ascii_case("core.hooksPath"),
        _ => false,
    };
    bypass.then(|| violation(Rule::HookBypass, subject, format!("{name}={value} switches the git hooks off")))
}

fn check_argv(words: &[String], stdin: &[String], subject: &str, depth: usize, ctx: &mut Context) -> Option<Violation> {
    let first = words.first()?;
    let prog = basename(first);
    let args = &words[1..];
    let nested = |text: &str, ctx: &mut Context| check_script(text, depth + 1, ctx);
    if depth >= shell::MAX_DEPTH {
        return Some(violation(Rule::Malformed, subject, "the command nests shells too deeply to read"));
    }
    match prog {
        "env" => {
            let mut i = 0;
            while let Some(a) = args.get(i) {
                match a.as_str() {
                    "-u" | "--unset" | "-C" | "--chdir" => i += 2,
                    "-S" | "--split-string" => return args.get(i + 1).and_then(|s| nested(s, ctx)),
                    "--" => {
                        i += 1;
                        break;
                    }
                    s if s.starts_with("--split-string=") => return nested(&s["--split-string=".len()..], ctx),
                    s if s.starts_with('-') => i += 1,
                    s if s.contains('=') && is_assignment(s) => {
                        if let Some(v) = check_assignment(s, subject) {
                            return Some(v);
                        }
                        i += 1;
                    }
                    _ => break,
                }
            }
            while let Some(a) = args.get(i).filter(|a| is_assignment(a)) {
                if let Some(v) = check_assignment(a, subject) {
                    return Some(v);
                }
                i += 1;
            }
            check_argv(&args[i.min(args.len())..], stdin, subject, depth, ctx)
        }
        "command" | "builtin" | "exec" | "nohup" | "time" | "nice" | "sudo" | "doas" | "timeout" | "stdbuf"
        | "xargs" | "caffeinate" | "chronic" | "unbuffer" => {
            let rest = skip_wrapper_options(prog, args);
            check_argv(rest, stdin, subject, depth, ctx)
        }
        "eval" => nested(&args.join(" "), ctx),
        "watch" => {
            let mut i = 0;
            while let Some(a) = args.get(i).filter(|a| a.starts_with('-')) {
                i += if matches!(a.as_str(), "-n" | "--interval") { 2 } else { 1 };
            }
            nested(&args[i.min(args.len())..].join(" "), ctx)
        }
        "find" | "fd" => {
            let mut i = 0;
            while i < args.len() {
                if matches!(
                    args[i].as_str(),
                    "-exec" | "-execdir" | "-ok" | "-okdir" | "-x" | "--exec" | "-X" | "--exec-batch"
                ) {
                    let end = args[i + 1..].iter().position(|a| a == ";" || a == "+").map_or(args.len(), |p| i + 1 + p);
                    if let Some(v) = check_argv(&args[i + 1..end], &[], subject, depth, ctx) {
                        return Some(v);
                    }
                    i = end;
                }
                i += 1;
            }
            None
        }
        p if SHELLS.contains(&p) => {
            // `sh -c 'script'`, `bash -lc '…'`; without -c, a script on stdin (heredoc).
            let mut i = 0;
            let mut has_c = false;
            while let Some(a) = args.get(i) {
                if a == "--" {
                    i += 1;
                    break;
                }
                if a.starts_with('-') && a.len() > 1 && !a.starts_with("--") {
                    has_c |= a[1..].contains('c');
                    // `-o opt` / `-O opt` take a value.
                    if a == "-o" || a == "-O" {
                        i += 1;
                    }
                    i += 1;
                } else if a == "--rcfile" || a == "--init-file" {
                    i += 2;
                } else if a.starts_with("--") || a.starts_with('+') {
                    i += 1;
                } else {
                    break;
                }
            }
            if has_c {
                return args.get(i).and_then(|s| nested(s, ctx));
            }
            stdin.iter().find_map(|s| nested(s, ctx))
        }
        "export" | "declare" | "typeset" | "local" | "readonly" => args
            .iter()
            .filter(|a| !a.starts_with('-'))
            .find_map(|a| if a.contains('=') { check_assignment(a, subject) } else { export_name(a, subject) }),
        "git" => check_git(args, subject, depth, ctx),
        "gh" => check_gh(args, subject),
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

fn is_assignment(word: &str) -> bool {
    let Some((name, _)) = word.split_once('=') else { return false };
    let name = name.trim_end_matches('+');
    name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `export OKSTRA_ALLOW` (no value) exports a value set earlier: the same use.
fn export_name(name: &str, subject: &str) -> Option<Violation> {
    (name == crate::config::ENV_ALLOW)
        .then(|| violation(Rule::Override, subject, "exporting OKSTRA_ALLOW is the user's override, never an agent's"))
}

/// The command a wrapper (`sudo`, `timeout 5`, `nice -n 5`, `xargs -I{}` …) runs.
fn skip_wrapper_options<'a>(prog: &str, args: &'a [String]) -> &'a [String] {
    let with_value: &[&str] = match prog {
        "sudo" => &["-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U", "-T", "-R"],
        "doas" => &["-u", "-C"],
        "nice" => &["-n", "--adjustment"],
        "timeout" => &["-s", "--signal", "-k", "--kill-after"],
        "xargs" => {
            &["-I", "-L", "-n", "-P", "-s", "-d", "-E", "-a", "--max-args", "--max-procs", "--delimiter", "--arg-file"]
        }
        "stdbuf" => &["-i", "-o", "-e"],
        "exec" => &["-a"],
        _ => &[],
    };
    let mut i = 0;
    while let Some(a) = args.get(i) {
        if a == "--" {
            i += 1;
            break;
        }
        if !a.starts_with('-') || a.len() == 1 {
            break;
        }
        i += if with_value.contains(&a.as_str()) { 2 } else { 1 };
    }
    if prog == "timeout" && i < args.len() {
        i += 1; // the duration
    }
    &args[i.min(args.len())..]
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

/// One parsed option or operand of a git subcommand.
#[derive(Debug, PartialEq, Eq)]
enum Arg<'a> {
    Short(char),
    Long(&'a str, Option<&'a str>),
    Operand(&'a str),
}

/// Parse git-style options: short clusters (`-am msg`), `--long[=value]`, `--`.
/// `short_value`: short options whose value is the rest of the cluster or the next word;
/// `short_attached`: short options whose optional value can only be attached;
/// `long_value`: long options that take the next word when no `=` is given.
fn git_args<'a>(args: &'a [String], short_value: &str, short_attached: &str, long_value: &[&str]) -> Vec<Arg<'a>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        i += 1;
        if a == "--" {
            out.extend(args[i..].iter().map(|s| Arg::Operand(s.as_str())));
            break;
        }
        if let Some(long) = a.strip_prefix("--") {
            match long.split_once('=') {
                Some((n, v)) => out.push(Arg::Long(n, Some(v))),
                None if long_value.contains(&long) => {
                    out.push(Arg::Long(long, args.get(i).map(String::as_str)));
                    i += 1;
                }
                None => out.push(Arg::Long(long, None)),
            }
        } else if a.len() > 1 && a.starts_with('-') {
            for (k, c) in a[1..].char_indices() {
                out.push(Arg::Short(c));
                if short_attached.contains(c) {
                    break;
                }
                if short_value.contains(c) {
                    if k + c.len_utf8() == a.len() - 1 {
                        i += 1; // value is the next word
                    }
                    break;
                }
            }
        } else {
            out.push(Arg::Operand(a));
        }
    }
    out
}

/// `--no-verify`, as git also accepts it abbreviated (`--no-verif`, `--no-veri`).
fn is_no_verify(name: &str) -> bool {
    name.len() >= "no-veri".len() && "no-verify".starts_with(name)
}

fn is_verify(name: &str) -> bool {
    name.len() >= "veri".len() && "verify".starts_with(name)
}

/// Whether the options ask to skip hooks; the last of `--no-verify`/`--verify` wins.
fn skips_hooks(parsed: &[Arg], short_n_is_no_verify: bool) -> bool {
    let mut skip = false;
    for a in parsed {
        match a {
            Arg::Short('n') if short_n_is_no_verify => skip = true,
            Arg::Long(n, _) if is_no_verify(n) => skip = true,
            Arg::Long(n, _) if is_verify(n) => skip = false,
            _ => {}
        }
    }
    skip
}

fn check_git(args: &[String], subject: &str, depth: usize, ctx: &mut Context) -> Option<Violation> {
    // Global options before the subcommand.
    let mut i = 0;
    let mut dir: Option<PathBuf> = None;
    let mut inline_aliases: Vec<(&str, &str)> = Vec::new();
    while let Some(a) = args.get(i) {
        let a = a.as_str();
        match a {
            "-C" => {
                dir = args.get(i + 1).map(PathBuf::from);
                i += 2;
            }
            "-c" => {
                if let Some(v) = args.get(i + 1).and_then(|kv| hooks_path_override(kv, subject)) {
                    return Some(v);
                }
                let kv = args.get(i + 1).and_then(|kv| kv.split_once('='));
                if let Some(((section, name), value)) = kv.and_then(|(k, v)| Some((k.split_once('.')?, v))) {
                    if section.eq_ignore_ascii_case("alias") {
                        inline_aliases.push((name, value));
                    }
                }
                i += 2;
            }
            "--config-env" | "--git-dir" | "--work-tree" | "--namespace" | "--super-prefix" | "--attr-source" => {
                if a == "--config-env" {
                    if let Some(v) = args.get(i + 1).and_then(|kv| hooks_path_override(kv, subject)) {
                        return Some(v);
                    }
                }
                i += 2;
            }
            _ if a.starts_with("--config-env=") => {
                if let Some(v) = hooks_path_override(&a["--config-env=".len()..], subject) {
                    return Some(v);
                }
                i += 1;
            }
            _ if a.starts_with('-') => i += 1,
            _ => break,
        }
    }
    let sub = args.get(i)?;
    let rest = &args[i + 1..];
    if let Some(d) = dir {
        ctx.cwd = ctx.cwd.join(d);
    }
    let no_verify = |what: &str| {
        violation(Rule::NoVerify, subject, format!("`git {what} --no-verify` skips the hooks that check this change"))
    };
    match sub.as_str() {
        "commit" => {
            let parsed = git_args(
                rest,
                "mFcCt",
                "uS",
                &[
                    "message",
                    "file",
                    "reuse-message",
                    "reedit-message",
                    "template",
                    "author",
                    "date",
                    "fixup",
                    "squash",
                    "trailer",
                    "pathspec-from-file",
                ],
            );
            skips_hooks(&parsed, true).then(|| no_verify("commit"))
        }
        "am" => {
            let parsed = git_args(rest, "", "pCS", &[]);
            skips_hooks(&parsed, true).then(|| no_verify("am"))
        }
        "merge" | "pull" | "rebase" | "cherry-pick" | "revert" => {
            let parsed = git_args(
                rest,
                "msFXxo",
                "S",
                &["message", "file", "strategy", "strategy-option", "into-name", "onto", "exec", "upstream"],
            );
            if skips_hooks(&parsed, false) {
                return Some(no_verify(sub));
            }
            // `rebase -x/--exec <cmd>` runs a shell command after each commit.
            let execs = rest.iter().enumerate().filter_map(|(k, a)| match a.as_str() {
                "-x" | "--exec" => rest.get(k + 1).map(String::as_str),
                s => s.strip_prefix("--exec="),
            });
            let scripts: Vec<&str> = if sub == "rebase" { execs.collect() } else { Vec::new() };
            scripts.into_iter().find_map(|s| check_script(s, depth + 1, ctx))
        }
        // `git submodule foreach '<cmd>'` and `git bisect run <cmd…>` run commands too.
        "submodule" => {
            let at = rest.iter().position(|a| a == "foreach")?;
            let cmd: Vec<&String> = rest[at + 1..].iter().skip_while(|a| a.starts_with('-')).collect();
            let text = cmd.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ");
            check_script(&text, depth + 1, ctx)
        }
        "bisect" if rest.first().map(String::as_str) == Some("run") => {
            check_argv(&rest[1..], &[], subject, depth + 1, ctx)
        }
        "push" => check_push(rest, subject, ctx),
        "config" => check_git_config(rest, subject),
        _ if GIT_BUILTINS.binary_search(&sub.as_str()).is_ok() => None,
        _ => {
            let inline =
                inline_aliases.iter().rev().find(|(k, _)| k.eq_ignore_ascii_case(sub)).map(|(_, v)| v.to_string());
            let value = inline.or_else(|| ctx.alias(sub))?;
            let mut v = check_alias(&value, rest, depth, ctx)?;
            v.subject = format!("{subject}, alias `{sub}` = `{}`", clip(&value));
            Some(v)
        }
    }
}

/// A git alias, judged as what git runs for it: `!<shell text>` runs in a shell with the
/// arguments appended, anything else is more git words in front of the arguments.
fn check_alias(value: &str, rest: &[String], depth: usize, ctx: &mut Context) -> Option<Violation> {
    let args: Vec<String> = rest.iter().map(|a| shell::quote(a)).collect();
    let text = match value.trim_start().strip_prefix('!') {
        Some(script) => format!("{script} {}", args.join(" ")),
        None => format!("git {value} {}", args.join(" ")),
    };
    check_script(&text, depth + 1, ctx)
}

/// git's builtin commands (`git --list-cmds=builtins`, git 2.47): no alias can shadow them,
/// so they are never looked up as one. Sorted for the binary search.
const GIT_BUILTINS: &[&str] = &[
    "add",
    "am",
    "annotate",
    "apply",
    "archive",
    "bisect",
    "blame",
    "branch",
    "bugreport",
    "bundle",
    "cat-file",
    "check-attr",
    "check-ignore",
    "check-mailmap",
    "check-ref-format",
    "checkout",
    "checkout--worker",
    "checkout-index",
    "cherry",
    "cherry-pick",
    "clean",
    "clone",
    "column",
    "commit",
    "commit-graph",
    "commit-tree",
    "config",
    "count-objects",
    "credential",
    "credential-cache",
    "credential-cache--daemon",
    "credential-store",
    "describe",
    "diagnose",
    "diff",
    "diff-files",
    "diff-index",
    "diff-tree",
    "difftool",
    "fast-export",
    "fast-import",
    "fetch",
    "fetch-pack",
    "fmt-merge-msg",
    "for-each-ref",
    "for-each-repo",
    "format-patch",
    "fsck",
    "fsck-objects",
    "fsmonitor--daemon",
    "gc",
    "get-tar-commit-id",
    "grep",
    "hash-object",
    "help",
    "hook",
    "index-pack",
    "init",
    "init-db",
    "interpret-trailers",
    "log",
    "ls-files",
    "ls-remote",
    "ls-tree",
    "mailinfo",
    "mailsplit",
    "maintenance",
    "merge",
    "merge-base",
    "merge-file",
    "merge-index",
    "merge-ours",
    "merge-recursive",
    "merge-recursive-ours",
    "merge-recursive-theirs",
    "merge-subtree",
    "merge-tree",
    "mktag",
    "mktree",
    "multi-pack-index",
    "mv",
    "name-rev",
    "notes",
    "pack-objects",
    "pack-redundant",
    "pack-refs",
    "patch-id",
    "pickaxe",
    "prune",
    "prune-packed",
    "pull",
    "push",
    "range-diff",
    "read-tree",
    "rebase",
    "receive-pack",
    "reflog",
    "refs",
    "remote",
    "remote-ext",
    "remote-fd",
    "repack",
    "replace",
    "replay",
    "rerere",
    "reset",
    "restore",
    "rev-list",
    "rev-parse",
    "revert",
    "rm",
    "send-pack",
    "shortlog",
    "show",
    "show-branch",
    "show-index",
    "show-ref",
    "sparse-checkout",
    "stage",
    "stash",
    "status",
    "stripspace",
    "submodule--helper",
    "switch",
    "symbolic-ref",
    "tag",
    "unpack-file",
    "unpack-objects",
    "update-index",
    "update-ref",
    "update-server-info",
    "upload-archive",
    "upload-archive--writer",
    "upload-pack",
    "var",
    "verify-commit",
    "verify-pack",
    "verify-tag",
    "version",
    "whatchanged",
    "worktree",
    "write-tree",
];

/// `core.hooksPath=…` given to `git -c` / `--config-env`.
fn hooks_path_override(kv: &str, subject: &str) -> Option<Violation> {
    let key = kv.split_once('=').map_or(kv, |(k, _)| k);
    key.eq_ignore_ascii_case("core.hooksPath")
        .then(|| violation(Rule::HookBypass, subject, "overriding core.hooksPath switches the git hooks off"))
}

/// `git config core.hooksPath <value>` (or `--unset`, `set`, `unset`): writing the key.
fn check_git_config(args: &[String], subject: &str) -> Option<Violation> {
    let k = args.iter().position(|a| a.eq_ignore_ascii_case("core.hooksPath"))?;
    let reads = ["--get", "--get-all", "--get-regexp", "--list", "-l", "get", "list", "--show-origin", "--show-scope"];
    if args.iter().any(|a| reads.contains(&a.as_str())) && !args.iter().any(|a| a == "set" || a.starts_with("--unset"))
    {
        return None;
    }
    let writes = ["--unset", "--unset-all", "--add", "--replace-all", "set", "unset"];
    let writing =
        args.iter().any(|a| writes.contains(&a.as_str())) || args[k + 1..].iter().any(|a| !a.starts_with('-'));
    writing.then(|| violation(Rule::HookBypass, subject, "changing core.hooksPath switches the git hooks off"))
}

fn check_push(args: &[String], subject: &str, ctx: &mut Context) -> Option<Violation> {
    let parsed = git_args(args, "o", "", &["repo", "receive-pack", "exec", "push-option"]);
    let mut dry_run = false;
    let mut force = None::<String>;
    let mut delete = false;
    let mut all = None::<String>;
    let mut tags_only = false;
    let mut operands = Vec::new();
    for a in &parsed {
        match a {
            Arg::Short('n') => dry_run = true,
            Arg::Long("dry-run", _) => dry_run = true,
            Arg::Short('f') => force = Some("-f".into()),
            Arg::Long(n, _)
                if *n == "force" || n.starts_with("force-with") || n.starts_with("force-if") || *n == "mirror" =>
            {
                force = Some(format!("--{n}"))
            }
            Arg::Short('d') | Arg::Long("delete", _) => delete = true,
            Arg::Long(n @ ("all" | "branches"), _) => all = Some(format!("--{n}")),
            Arg::Long("tags", _) => tags_only = true,
            Arg::Operand(o) => operands.push(*o),
            _ => {}
        }
    }
    if dry_run {
        return None; // a dry run changes nothing
    }
    if skips_hooks(&parsed, false) {
        return Some(violation(Rule::NoVerify, subject, "`git push --no-verify` skips the pre-push hook"));
    }
    if let Some(f) = force {
        return Some(violation(
            Rule::NonFastForward,
            subject,
            format!("`git push {f}` can rewrite history on the remote"),
        ));
    }
    if let Some(a) = all {
        return Some(violation(
            Rule::ProtectedUpdate,
            subject,
            format!("`git push {a}` pushes every branch, the protected base branches included"),
        ));
    }
    // The first operand is the remote; the rest are refspecs (`tag <name>` is a tag).
    let mut specs = operands.iter().skip(1).peekable();
    while let Some(spec) = specs.next() {
        if *spec == "tag" {
            specs.next();
            continue;
        }
        if let Some(v) = judge_refspec(spec, delete, subject, ctx) {
            return Some(v);
        }
    }
    if operands.len() <= 1 && !tags_only && !delete {
        // No refspec: git pushes the current branch (push.default), so judge that one.
        let branch = ctx.current_branch()?;
        if ctx.protected().contains(&branch) {
            return Some(violation(
                Rule::ProtectedUpdate,
                subject,
                format!("this push updates the protected branch '{branch}' (the current branch) directly"),
            ));
        }
    }
    None
}

fn judge_refspec(spec: &str, delete: bool, subject: &str, ctx: &mut Context) -> Option<Violation> {
    if spec.starts_with('+') {
        return Some(violation(
            Rule::NonFastForward,
            subject,
            format!("the refspec `{spec}` forces the update and can rewrite history on the remote"),
        ));
    }
    let (src, dst) = match spec.split_once(':') {
        Some((s, d)) => (s, d),
        None => (spec, spec),
    };
    let deleting = delete || (src.is_empty() && !dst.is_empty());
    let dst = if dst == "HEAD" || dst == "@" { ctx.current_branch()? } else { dst.to_string() };
    let branch = match dst.strip_prefix("refs/") {
        Some(r) => match r.strip_prefix("heads/") {
            Some(b) => b.to_string(),
            None => return None, // tags, notes, …: not branches
        },
        None => dst,
    };
    let protected = ctx.protected();
    let hits = if branch.contains('*') {
        protected.names().iter().find(|p| glob_match(&branch, p)).cloned()
    } else {
        protected.contains(&branch).then(|| branch.clone())
    };
    let name = hits?;
    Some(if deleting {
        violation(Rule::ProtectedDelete, subject, format!("this push deletes the protected branch '{name}'"))
    } else {
        violation(Rule::ProtectedUpdate, subject, format!("this push updates the protected branch '{name}' directly"))
    })
}

/// A refspec glob (one `*`) against a branch name.
fn glob_match(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        Some((pre, post)) => name.len() >= pre.len() + post.len() && name.starts_with(pre) && name.ends_with(post),
        None => pattern == name,
    }
}

/// `gh pr merge`, `gh release …` (but its reads), and `gh api` calls that merge or release.
fn check_gh(args: &[String], subject: &str) -> Option<Violation> {
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

#[cfg(test)]
mod tests {
    #[test]
    fn git_builtins_are_sorted_for_the_binary_search() {
        assert!(super::GIT_BUILTINS.windows(2).all(|w| w[0] < w[1]));
        assert!(super::GIT_BUILTINS.binary_search(&"status").is_ok());
    }

    use super::*;

    fn rule(cmd: &str) -> Option<Rule> {
        let mut ctx = Context::with(Protected::default(), Some("feat-x"));
        check(cmd, &mut ctx).map(|v| v.rule)
    }

    #[test]
    fn short_clusters_and_values() {
        assert_eq!(rule("git commit -am msg"), None);
        assert_eq!(rule("git commit -anm msg"), Some(Rule::NoVerify));
        assert_eq!(rule("git commit -mn"), None, "-m takes the rest of the cluster");
        assert_eq!(rule("git commit -m -n"), None, "-m takes the next word");
        assert_eq!(rule("git commit -n --verify -m x"), None, "the last of the two wins");
        assert_eq!(rule("git commit --no-verif -m x"), Some(Rule::NoVerify));
        assert_eq!(rule("git commit -m x -- -n"), None, "after -- it is a path");
    }

    #[test]
    fn refspecs() {
        assert_eq!(rule("git push origin HEAD"), None, "current branch is feat-x");
        assert_eq!(rule("git push origin HEAD:main"), Some(Rule::ProtectedUpdate));
        assert_eq!(rule("git push origin 'refs/heads/*:refs/heads/*'"), Some(Rule::ProtectedUpdate));
        assert_eq!(rule("git push origin tag v1"), None);
        assert_eq!(rule("git push origin refs/tags/v1"), None);
        assert_eq!(rule("git push origin main:feat-y"), None);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(text in "(git |push |commit |-f |-n |-m |--no-verify |sh |-c |' |\" |\\$\\( |\\) |; |&& |env |A=1 |main |:dev |\\+x |-C |-c |find |-exec |\\\\; |gh |api |-X |<<E\n|E\n)*") {
            let mut ctx = Context::with(Protected::default(), Some("feat-x"));
            let _ = check(&text, &mut ctx);
        }
    }

    #[test]
    fn host_shapes() {
        let r = read_request(
            r#"{"hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"ls"},"cwd":"/x"}"#,
        );
        assert_eq!(r, Ok(Request::Shell { host: Host::Claude, command: "ls".into(), cwd: Some("/x".into()) }));
        let r = read_request(
            r#"{"hook_event_name":"BeforeTool","tool_name":"run_shell_command","tool_input":{"command":"ls"}}"#,
        );
        assert!(matches!(r, Ok(Request::Shell { host: Host::Gemini, .. })));
        let r = read_request(r#"{"hook_event_name":"beforeShellExecution","command":"ls","cwd":""}"#);
        assert_eq!(r, Ok(Request::Shell { host: Host::Cursor, command: "ls".into(), cwd: None }));
        let r = read_request(r#"{"tool_name":"Read","tool_input":{"file_path":"x"}}"#);
        assert!(matches!(r, Ok(Request::NotShell { .. })));
        assert!(read_request(r#"{"tool_name":"Bash","tool_input":{}}"#).is_err());
        assert!(read_request("{\"not json").is_err());
        assert!(read_request(r#"{"hello":1}"#).is_err());
        assert!(matches!(read_request("git status"), Ok(Request::Shell { host: Host::Plain, .. })));
        assert_eq!(read_request("{ git push -f; }"), Ok(plain("{ git push -f; }")));
        assert!(read_request("{\n  \"tool_input\": ").is_err());
    }
}
