//! The walk over a script: each simple command in order, with what the script changes as it
//! goes (variables, the folder, shell aliases; undone when a subshell ends), looked through
//! the programs that run another command — wrappers (`env`, `sudo`, `setsid`, `flock`,
//! `timeout`, `xargs`, `tmux`, `parallel`, …), shells (`sh -c`, scripts fed on stdin),
//! `eval`, `trap`, shell aliases and inline interpreter code — and handed to the rule family
//! of the program it runs.

use super::expand::{self, Arg, Var};
use super::files::{self, Effect};
use super::git_command::{self, run_time};
use super::rules::{block, contract, discard, hooks, publish, self_protect};
use super::shell::{self, ParseError, SimpleCommand};
use super::{clip, git_runs, interpreters, Context};
use crate::policy::Violation;

/// Words that open or close a compound command; the command proper follows them.
const RESERVED: &[&str] = &["!", "{", "}", "then", "do", "else", "elif", "if", "while", "until", "fi", "done", "esac"];
const SHELLS: &[&str] = &["sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "yash", "fish", "busybox-sh"];

/// Judge a script (a command line, `sh -c` text, a heredoc fed to a shell, …).
pub fn check_script(text: &str, depth: usize, ctx: &mut Context) -> Option<Violation> {
    let commands = match shell::parse_at_depth(text, depth) {
        Ok(c) => c,
        Err(_) if ctx.in_file => return None,
        Err(ParseError::TooDeep) => {
            return Some(block("malformed:too-deep", &clip(text), "the command nests shells too deeply to read"))
        }
        Err(e) => {
            return Some(block("malformed:syntax", &clip(text), format!("{e}, so it cannot be checked with certainty")))
        }
    };
    let mut saved: Vec<(u32, super::State)> = Vec::new();
    let mut previous: Option<&SimpleCommand> = None;
    let mut verdict = None;
    for c in &commands {
        // Leave the subshells this command is not in: what they changed does not last.
        while saved.last().is_some_and(|(g, _)| !c.groups.contains(g)) {
            let (_, s) = saved.pop().expect("checked");
            ctx.restore(s);
        }
        for g in &c.groups {
            if !saved.iter().any(|(s, _)| s == g) {
                saved.push((*g, ctx.state()));
            }
        }
        let fed = previous.filter(|_| c.piped).and_then(|p| echoed_text(p, ctx));
        let unknown_input = c.piped && fed.is_none();
        let outer = std::mem::replace(&mut ctx.stdin_unknown, unknown_input);
        verdict = command(c, fed, depth, ctx);
        ctx.stdin_unknown = outer;
        if ctx.in_file && verdict.as_ref().is_some_and(|v| v.rule == crate::policy::Rule::Malformed) {
            verdict = None; // a script file's unknowns are not the agent's to write out
        }
        if verdict.is_some() {
            break;
        }
        previous = Some(c);
    }
    if let Some((_, s)) = saved.into_iter().next() {
        ctx.restore(s);
    }
    verdict
}

/// What `echo …`, `printf …` or `cat` (of its heredoc, or of a file) writes, roughly
/// (enough to read it as a script); `None` when it cannot be known.
fn echoed_text(cmd: &SimpleCommand, ctx: &mut Context) -> Option<String> {
    let words: Vec<Arg> = cmd.words.iter().flat_map(|w| expand::word(w, ctx)).collect();
    let (first, args) = words.split_first()?;
    if args.iter().any(|a| !a.exact) {
        return None;
    }
    let joined = || args.iter().map(|a| a.text.as_str()).collect::<Vec<_>>();
    match first.text.as_str() {
        "echo" => Some(
            args.iter().skip_while(|a| a.text.starts_with('-')).map(|a| a.text.as_str()).collect::<Vec<_>>().join(" "),
        ),
        // The format (after any `--`) and its arguments, roughly.
        "printf" => Some(
            joined().iter().skip_while(|a| **a == "--").copied().collect::<Vec<_>>().join(" ").replace("\\n", "\n"),
        ),
        "cat" if args.is_empty() => (!cmd.stdin.is_empty()).then(|| cmd.stdin.join("")),
        "cat" => {
            let mut text = String::new();
            for a in args.iter().filter(|a| !a.text.starts_with('-')) {
                let p = ctx.resolve(&a.text)?;
                let big = std::fs::metadata(&p).ok()?.len() > MAX_SCRIPT;
                if p.starts_with("/dev") || p.starts_with("/proc") || ctx.written.contains(&p) || big {
                    return None;
                }
                text.push_str(&std::fs::read_to_string(p).ok()?);
            }
            Some(text)
        }
        _ => None,
    }
}

fn subject_of(assigns: &[(String, Arg)], words: &[Arg]) -> String {
    let mut parts: Vec<String> = assigns.iter().map(|(n, v)| format!("{n}={}", shell::quote(&v.text))).collect();
    parts.extend(words.iter().map(|w| shell::quote(&w.text)));
    clip(&parts.join(" "))
}

/// One simple command: its assignments, redirections and program.
fn command(cmd: &SimpleCommand, fed: Option<String>, depth: usize, ctx: &mut Context) -> Option<Violation> {
    let mut words: Vec<Arg> = cmd.words.iter().flat_map(|w| expand::word(w, ctx)).collect();
    let lead = words.iter().take_while(|w| w.exact && RESERVED.contains(&w.text.as_str())).count();
    words.drain(..lead);
    let assigns: Vec<(String, Arg)> = cmd.assigns.iter().map(|w| expand::assignment(w, ctx)).collect();
    let subject = subject_of(&assigns, &words);
    let mut stdin = cmd.stdin.clone();
    stdin.extend(fed);
    let written = cmd.redirects.iter().any(|r| r.writes()).then(|| echoed_text(cmd, ctx)).flatten();
    for r in &cmd.redirects {
        let target = expand::word(&r.target, ctx).into_iter().next().unwrap_or_else(|| Arg::unknown(r.target.source()));
        if !r.writes() {
            read_into(r.op, &target, &mut stdin, ctx);
            continue;
        }
        if let Some(v) = changed(Effect::Write, &target, written.as_deref(), &subject, ctx) {
            return Some(v);
        }
    }
    let standalone = words.is_empty();
    for (name, value) in &assigns {
        let v = self_protect::assignment(name, &subject)
            .or_else(|| hooks::assignment(name, value, standalone, &subject))
            .or_else(|| git_runs::assignment(name, value, &subject, depth, ctx));
        if v.is_some() {
            return v;
        }
    }
    if standalone {
        for (name, value) in assigns {
            ctx.vars.set(&name, var_of(&value));
            ctx.env.push((name, value));
        }
        return None;
    }
    let mark = ctx.env.len();
    ctx.env.extend(assigns);
    let v = run(&words, &stdin, &subject, depth, ctx);
    ctx.env.truncate(mark);
    v
}

/// The text a command reads on stdin, when the guard knows all of it.
fn known_stdin(stdin: &[String], ctx: &Context) -> Option<String> {
    (!(stdin.is_empty() && ctx.stdin_unknown)).then(|| stdin.concat())
}

fn var_of(a: &Arg) -> Var {
    if a.exact {
        Var::Known(a.text.clone())
    } else {
        Var::Unknown
    }
}

/// The program a word runs, by name: `/usr/bin/git` → `git`, `pnpm.cmd` → `pnpm`,
/// `"$VENV/bin/python"` → `python`. `Err` when the name itself is only known at run time.
fn program(first: &Arg) -> Result<String, ()> {
    let base = first.text.rsplit('/').next().unwrap_or(&first.text);
    if (!first.exact && (base.contains('$') || first.text == base)) || first.glob {
        return Err(());
    }
    let base = base.to_ascii_lowercase();
    let base =
        [".exe", ".cmd", ".bat", ".ps1"].iter().find_map(|e| base.strip_suffix(e)).map(str::to_string).unwrap_or(base);
    Ok(base)
}

/// Run the command `argv` (already expanded) would start.
pub fn run(argv: &[Arg], stdin: &[String], subject: &str, depth: usize, ctx: &mut Context) -> Option<Violation> {
    if depth >= shell::MAX_DEPTH {
        return Some(block("malformed:too-deep", subject, "the command nests shells and wrappers too deeply to read"));
    }
    let (first, args) = argv.split_first()?;
    let Ok(prog) = program(first) else {
        return Some(run_time(subject, first, "is the program this runs"));
    };
    ctx.note(|t| t.command(depth, argv));
    if let Some(v) = shell_alias(&prog, first, args, depth, ctx) {
        return v;
    }
    if first.exact && first.text.contains('/') && shell_script(&first.text, ctx) {
        let saved = ctx.state();
        let v = script_file(first, subject, depth, ctx);
        ctx.restore(saved);
        return v;
    }
    if let Some(w) = WRAPPERS.iter().find(|w| w.names.contains(&prog.as_str())) {
        return wrapped(w, args, stdin, subject, depth, ctx);
    }
    match prog.as_str() {
        "env" => env_command(args, stdin, subject, depth, ctx),
        "source" | "." => args.first().and_then(|f| script_file(f, subject, depth, ctx)),
        // `function f { …; }`: the body's commands.
        "function" => match args {
            [_, open, rest @ ..] if open.text == "{" || open.text == "(" => run(rest, stdin, subject, depth, ctx),
            _ => None,
        },
        // `coproc cmd…`, `coproc NAME { cmds; }` (the body's commands are judged where they stand).
        "coproc" => match args {
            [_, brace, rest @ ..] if brace.text == "{" => run(rest, stdin, subject, depth + 1, ctx),
            _ => run(args, stdin, subject, depth + 1, ctx),
        },
        "eval" => match joined(args, subject) {
            Ok(text) => check_script(&text, depth + 1, ctx),
            Err(v) => Some(v),
        },
        "trap" => args.iter().find(|a| !a.text.starts_with('-')).and_then(|a| script_arg(a, subject, depth, ctx)),
        "alias" => define_aliases(args, subject, depth, ctx),
        "watch" => watch(args, subject, depth, ctx),
        "find" | "fd" => find(args, subject, depth, ctx),
        "xargs" => xargs(args, subject, depth, ctx),
        "parallel" => parallel(args, stdin, subject, depth, ctx),
        "tmux" => tmux(args, subject, depth, ctx),
        "sudo" => sudo(args, stdin, subject, depth, ctx),
        "su" | "runuser" | "script" | "flock" => command_option(&prog, args, stdin, subject, depth, ctx),
        "export" | "declare" | "typeset" | "local" | "readonly" => declare(args, subject, ctx),
        "cd" | "pushd" | "popd" => change_dir(&prog, args, ctx),
        "for" | "select" => loop_var(args, ctx),
        "read" | "mapfile" | "readarray" | "getopts" => unknown_vars(args, ctx),
        "unset" => {
            for a in args.iter().filter(|a| !a.text.starts_with('-')) {
                if matches!(a.text.as_str(), "HOME" | "XDG_CONFIG_HOME") {
                    return Some(hooks::config_source(&a.text, "", subject));
                }
                ctx.vars.unset(&a.text);
            }
            None
        }
        "rm" => files_changed("rm", args, subject, ctx).or_else(|| discard::rm(args, subject, ctx)),
        "patch" => patch(args, stdin, subject, ctx),
        // Codex's patch tool run from its shell, the patch on stdin.
        "apply_patch" | "applypatch" => match known_stdin(stdin, ctx) {
            Some(text) => super::hosts::apply_patch(&text, subject, ctx),
            None => Some(run_time(subject, &Arg::unknown("(stdin)"), "is the patch `apply_patch` applies")),
        },
        "git" | "git-okstra" => {
            ctx.stdin_text = known_stdin(stdin, ctx);
            let dashed = (prog == "git-okstra").then_some("okstra");
            git_command::check(args, dashed, subject, depth, ctx)
        }
        p if p.starts_with("git-") => {
            ctx.stdin_text = known_stdin(stdin, ctx);
            git_command::check(args, Some(&p[4..]), subject, depth, ctx)
        }
        p if matches!(p, "npm" | "pnpm" | "yarn" | "bun") && runs_package(args) => {
            let at = args.iter().position(|a| matches!(a.text.as_str(), "exec" | "dlx" | "x")).map_or(0, |i| i + 1);
            let rest: Vec<Arg> = args[at..].iter().skip_while(|a| a.text.starts_with('-')).cloned().collect();
            run(&rest, stdin, subject, depth + 1, ctx)
        }
        p if SHELLS.contains(&p) => shell_command(args, stdin, subject, depth, ctx),
        p if interpreters::is_interpreter(p) => interpreters::check(p, args, stdin, subject, depth, ctx)
            .or_else(|| files_changed(p, args, subject, ctx))
            .or_else(|| publish::check(p, args, subject, ctx)),
        p => files_changed(p, args, subject, ctx)
            .or_else(|| publish::check(p, args, subject, ctx))
            .or_else(|| contract::program(p, args, subject, ctx)),
    }
}

fn files_changed(prog: &str, args: &[Arg], subject: &str, ctx: &mut Context) -> Option<Violation> {
    if prog == "ln" {
        let targets = files::link_targets(args);
        if let Some(v) = targets.iter().find_map(|a| each_path(a, ctx, |p, ctx| contract::link_target(p, subject, ctx)))
        {
            return Some(v);
        }
    }
    let in_place = matches!(prog, "sed" | "gsed" | "perl");
    files::targets(prog, args).into_iter().find_map(|(e, a)| {
        if in_place {
            self_protect::path(e, &a, subject, ctx)
                .or_else(|| each_path(&a, ctx, |p, ctx| contract::in_place(p, subject, ctx)))
        } else {
            changed(e, &a, None, subject, ctx)
        }
    })
}

/// A file a command changes, judged by the guard's own files first, then by the task contract
/// (with the text written, when it is known).
fn changed(effect: Effect, a: &Arg, text: Option<&str>, subject: &str, ctx: &mut Context) -> Option<Violation> {
    self_protect::path(effect, a, subject, ctx)
        .or_else(|| each_path(a, ctx, |p, ctx| contract::write(effect, p, text, subject, ctx)))
}

/// Apply `judge` to each path a word can name: every value of a loop variable; a pattern is
/// judged as its literal name (its folder decides where it writes). self-protect has refused
/// what is only known at run time already.
fn each_path(
    a: &Arg,
    ctx: &mut Context,
    mut judge: impl FnMut(&std::path::Path, &mut Context) -> Option<Violation>,
) -> Option<Violation> {
    if a.text.is_empty() && a.exact {
        return None;
    }
    let texts: Vec<String> = if a.alts.is_empty() { vec![a.text.clone()] } else { a.alts.clone() };
    texts.iter().find_map(|t| ctx.resolve(t).and_then(|p| judge(&p, ctx)))
}

/// `< file`: the command reads the file on stdin; what cannot be read makes its stdin unknown.
fn read_into(op: &str, target: &Arg, stdin: &mut Vec<String>, ctx: &mut Context) {
    if op != "<" {
        return;
    }
    let text = target.known().and_then(|t| ctx.resolve(t)).filter(|p| !ctx.written.contains(p)).and_then(|p| {
        let small = std::fs::metadata(&p).is_ok_and(|m| m.len() <= MAX_SCRIPT);
        small.then(|| std::fs::read_to_string(&p).ok()).flatten()
    });
    match text {
        Some(t) => stdin.push(t),
        None => ctx.stdin_unknown = true,
    }
}

/// `patch [opts] [file [patchfile]]`, `-i patchfile`, or the patch on stdin: the files it
/// names, each judged as a write; a patch that cannot be read leaves its files unknown.
fn patch(args: &[Arg], stdin: &[String], subject: &str, ctx: &mut Context) -> Option<Violation> {
    const VALUES: &[&str] =
        &["-i", "--input", "-p", "-d", "--directory", "-o", "--output", "-D", "-F", "-B", "-r", "-V", "-z", "-Y"];
    let mut i = 0;
    let (mut input, mut strip, mut dir, mut out) = (None, None::<usize>, None, None);
    let mut operands = Vec::new();
    while let Some(a) = args.get(i) {
        let t = a.text.as_str();
        let value = || args.get(i + 1).cloned();
        match t {
            "-i" | "--input" => input = value(),
            "-o" | "--output" => out = value(),
            "-d" | "--directory" => dir = value(),
            "-p" => strip = value().and_then(|v| v.text.parse().ok()),
            _ if t.starts_with("-p") && t.len() > 2 => strip = t[2..].parse().ok(),
            _ if t.starts_with("--strip=") => strip = t[8..].parse().ok(),
            _ if t.starts_with("-i") && t.len() > 2 => input = Some(Arg { text: t[2..].to_string(), ..a.clone() }),
            _ if t.starts_with('-') => {}
            _ => operands.push(a.clone()),
        }
        i += if VALUES.contains(&t) { 2 } else { 1 };
    }
    if let Some(o) = out.as_ref() {
        return changed(Effect::Write, o, None, subject, ctx);
    }
    let base = |rel: &str| match &dir {
        Some(d) => format!("{}/{rel}", d.text.trim_end_matches('/')),
        None => rel.to_string(),
    };
    if let Some(file) = operands.first() {
        return changed(Effect::Write, &Arg { text: base(&file.text), ..file.clone() }, None, subject, ctx);
    }
    let text = match input.or_else(|| operands.get(1).cloned()) {
        Some(f) => f.known().and_then(|t| ctx.resolve(t)).and_then(|p| std::fs::read_to_string(p).ok()),
        None if stdin.is_empty() && ctx.stdin_unknown => None,
        None => Some(stdin.concat()),
    };
    let Some(text) = text else {
        let folder = Arg::lit(base("."));
        return each_path(&folder, ctx, |p, ctx| {
            contract::unlisted_write(p, "`patch` writes the files of a patch that cannot be read now", subject, ctx)
        });
    };
    let strip = strip.unwrap_or_else(|| files::default_strip(&text));
    files::patch_targets(&text, strip)
        .into_iter()
        .find_map(|rel| changed(Effect::Write, &Arg::lit(base(&rel)), None, subject, ctx))
}

/// `npm exec`, `pnpm exec`/`dlx`, `yarn exec`/`dlx`, `bun x`: they run another command.
fn runs_package(args: &[Arg]) -> bool {
    args.iter().find(|a| !a.text.starts_with('-')).is_some_and(|a| matches!(a.text.as_str(), "exec" | "dlx" | "x"))
}

/// Words joined back into script text; a run-time word makes the text unknowable.
fn joined(args: &[Arg], subject: &str) -> Result<String, Violation> {
    match args.iter().find(|a| !a.exact) {
        Some(a) => Err(run_time(subject, a, "is part of a command this runs")),
        None => Ok(args.iter().map(|a| a.text.as_str()).collect::<Vec<_>>().join(" ")),
    }
}

/// A word that is script text (`trap 'cmd' EXIT`, `sh -c 'cmd'`).
fn script_arg(a: &Arg, subject: &str, depth: usize, ctx: &mut Context) -> Option<Violation> {
    if !a.exact {
        return Some(run_time(subject, a, "is a script this runs"));
    }
    check_script(&a.text, depth + 1, ctx)
}

/// A program that runs the command given after its own options (and `skip` operands).
struct Wrapper {
    names: &'static [&'static str],
    value_opts: &'static [&'static str],
    skip: usize,
    /// What follows is appended with one argument only known at run time (`xargs`).
    appends: bool,
}

const WRAPPERS: &[Wrapper] = &[
    Wrapper {
        names: &[
            "command",
            "builtin",
            "exec",
            "nohup",
            "time",
            "caffeinate",
            "chronic",
            "unbuffer",
            "setsid",
            "busybox",
            "dbus-run-session",
            "catchsegv",
            "nocache",
            "pkexec",
            "firejail",
        ],
        value_opts: &["-a", "--user"],
        skip: 0,
        appends: false,
    },
    Wrapper {
        names: &["npx", "bunx", "pnpx"],
        value_opts: &["-p", "--package", "-c", "--call"],
        skip: 0,
        appends: false,
    },
    Wrapper {
        names: &["systemd-run"],
        value_opts: &["-u", "--unit", "-E", "--setenv", "-p", "--property", "-M", "--machine"],
        skip: 0,
        appends: false,
    },
    Wrapper { names: &["nice"], value_opts: &["-n", "--adjustment"], skip: 0, appends: false },
    Wrapper { names: &["timeout"], value_opts: &["-s", "--signal", "-k", "--kill-after"], skip: 1, appends: false },
    Wrapper { names: &["stdbuf"], value_opts: &["-i", "-o", "-e"], skip: 0, appends: false },
    Wrapper { names: &["doas"], value_opts: &["-u", "-C"], skip: 0, appends: false },
    Wrapper {
        names: &["ionice"],
        value_opts: &["-c", "--class", "-n", "--classdata", "-p", "--pid", "-P", "--pgid", "-u", "--uid"],
        skip: 0,
        appends: false,
    },
    Wrapper { names: &["taskset"], value_opts: &[], skip: 1, appends: false },
    Wrapper {
        names: &["chrt"],
        value_opts: &["-T", "--sched-runtime", "-P", "--sched-period", "-D", "--sched-deadline"],
        skip: 1,
        appends: false,
    },
    Wrapper {
        names: &["unshare"],
        value_opts: &["-S", "--setuid", "-G", "--setgid", "-R", "--root", "-w", "--wd"],
        skip: 0,
        appends: false,
    },
    Wrapper {
        names: &["strace", "ltrace"],
        value_opts: &["-e", "-o", "-p", "-s", "-u", "-E", "-a", "-b", "-I", "-O", "-S", "-X", "-P", "-U"],
        skip: 0,
        appends: false,
    },
    Wrapper { names: &["chroot"], value_opts: &["--userspec", "--groups"], skip: 1, appends: false },
];

fn wrapped(
    w: &Wrapper,
    args: &[Arg],
    stdin: &[String],
    subject: &str,
    depth: usize,
    ctx: &mut Context,
) -> Option<Violation> {
    let mut i = 0;
    while let Some(a) = args.get(i) {
        if !a.exact && a.option_like() {
            return Some(run_time(subject, a, "could be an option or the command this wrapper runs"));
        }
        if a.text == "--" {
            i += 1;
            break;
        }
        if !a.text.starts_with('-') || a.text.len() == 1 {
            break;
        }
        i += if w.value_opts.contains(&a.text.as_str()) { 2 } else { 1 };
    }
    let mut rest: Vec<Arg> = args[(i + w.skip).min(args.len())..].to_vec();
    if w.appends {
        rest.push(Arg::unknown("(input)"));
    }
    run(&rest, stdin, subject, depth + 1, ctx)
}

/// `env [-i] [-u N] [-C DIR] [-S TEXT] [NAME=v…] [cmd…]`.
fn env_command(args: &[Arg], stdin: &[String], subject: &str, depth: usize, ctx: &mut Context) -> Option<Violation> {
    let mut i = 0;
    let saved_cwd = ctx.cwd.clone();
    let mark = ctx.env.len();
    let v = loop {
        let Some(a) = args.get(i) else { break None };
        let t = a.text.as_str();
        match t {
            "-u" | "--unset" => i += 2,
            // No HOME for git: no global config, so hooks configured there do not run.
            "-i" | "--ignore-environment" | "-" => {
                ctx.env.push(("HOME".into(), Arg::lit("")));
                i += 1;
            }
            "-C" | "--chdir" => {
                ctx.cwd = args.get(i + 1).and_then(|d| d.known()).and_then(|d| ctx.resolve(d));
                i += 2;
            }
            "-S" | "--split-string" => break args.get(i + 1).and_then(|s| script_arg(s, subject, depth, ctx)),
            "--" => {
                i += 1;
            }
            s if s.starts_with("--split-string=") => {
                break script_arg(
                    &Arg { text: s["--split-string=".len()..].to_string(), ..a.clone() },
                    subject,
                    depth,
                    ctx,
                )
            }
            s if s.starts_with("--chdir=") => {
                ctx.cwd = ctx.resolve(&s["--chdir=".len()..]);
                i += 1;
            }
            s if s.starts_with('-') && a.exact => i += 1,
            s if is_assignment(s) => {
                let (name, value) = s.split_once('=').unwrap_or((s, ""));
                let value = Arg { text: value.to_string(), ..a.clone() };
                let hit = self_protect::assignment(name, subject)
                    .or_else(|| hooks::assignment(name, &value, false, subject))
                    .or_else(|| git_runs::assignment(name, &value, subject, depth, ctx));
                if hit.is_some() {
                    break hit;
                }
                ctx.env.push((name.to_string(), value));
                i += 1;
            }
            _ => break run(&args[i..], stdin, subject, depth + 1, ctx),
        }
    };
    ctx.env.truncate(mark);
    ctx.cwd = saved_cwd;
    v
}

pub(crate) fn is_assignment(word: &str) -> bool {
    let Some((name, _)) = word.split_once('=') else { return false };
    let name = name.trim_end_matches('+');
    name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `sh -c 'script'`, `bash -lc '…'`, `fish --command=…`; without `-c`, a script on stdin.
/// The script runs in a new shell: what it changes does not come back.
fn shell_command(args: &[Arg], stdin: &[String], subject: &str, depth: usize, ctx: &mut Context) -> Option<Violation> {
    let mut i = 0;
    let mut has_c = false;
    while let Some(a) = args.get(i) {
        let t = a.text.as_str();
        if !a.exact && a.option_like() {
            return Some(run_time(subject, a, "could be an option of the shell"));
        }
        if t == "--" || t == "-" {
            i += 1;
            break;
        }
        if let Some(text) = t.strip_prefix("--command=") {
            return nested(&Arg { text: text.to_string(), ..a.clone() }, subject, depth, ctx);
        }
        if t.starts_with('-') && t.len() > 1 && !t.starts_with("--") {
            has_c |= t[1..].contains('c');
            i += if matches!(t, "-o" | "-O") { 2 } else { 1 };
        } else if matches!(t, "--rcfile" | "--init-file") {
            i += 2;
        } else if t == "--command" {
            has_c = true;
            i += 1;
        } else if t.starts_with("--") || t.starts_with('+') {
            i += 1;
        } else {
            break;
        }
    }
    if has_c {
        return nested(args.get(i)?, subject, depth, ctx);
    }
    if let Some(file) = args.get(i) {
        let saved = ctx.state();
        let v = script_file(file, subject, depth, ctx);
        ctx.restore(saved);
        return v;
    }
    if stdin.is_empty() && ctx.stdin_unknown {
        return Some(run_time(subject, &Arg::unknown("(its stdin)"), "is the script this shell reads"));
    }
    let saved = ctx.state();
    let v = stdin.iter().find_map(|s| check_script(s, depth + 1, ctx));
    ctx.restore(saved);
    v
}

/// Largest script file read (a larger one is not judged: a documented limit).
const MAX_SCRIPT: u64 = 256 * 1024;

/// Whether `./x.sh` is a shell script (a `#!` line naming a shell).
fn shell_script(path: &str, ctx: &Context) -> bool {
    use std::io::Read;
    let Some(p) = ctx.resolve(path) else { return false };
    let mut head = [0u8; 128];
    let n = std::fs::File::open(p).and_then(|mut f| f.read(&mut head)).unwrap_or(0);
    let line = String::from_utf8_lossy(&head[..n]);
    let Some(shebang) = line.strip_prefix("#!").and_then(|l| l.lines().next()) else { return false };
    let mut words = shebang.split_whitespace();
    let interp = words.next().map(|w| w.rsplit('/').next().unwrap_or(w)).unwrap_or("");
    let interp = if interp == "env" { words.find(|w| !w.starts_with('-')).unwrap_or("") } else { interp };
    SHELLS.contains(&interp)
}

/// A script file a shell runs (`sh x.sh`, `source x`, `./x.sh`), judged as the script it
/// holds: what it surely does (its own run-time values and syntax the reader does not follow
/// are not refused: the agent cannot write them out). One this same command writes, or one
/// only known at run time (a variable, a process substitution), is refused; a missing one
/// runs nothing.
fn script_file(a: &Arg, subject: &str, depth: usize, ctx: &mut Context) -> Option<Violation> {
    if !a.exact || a.text.starts_with("/dev/") || a.text.starts_with("/proc/") {
        return Some(run_time(subject, a, "is the script this runs"));
    }
    let Some(p) = ctx.resolve(&a.text) else {
        return Some(run_time(subject, a, "is a script relative to a folder only known at run time"));
    };
    if ctx.written.iter().any(|w| *w == p || files::real(&p, false) == *w) {
        return Some(run_time(subject, a, "is a script this same command writes first"));
    }
    let meta = std::fs::metadata(&p).ok()?;
    if meta.len() > MAX_SCRIPT {
        return None;
    }
    let bytes = std::fs::read(&p).ok()?;
    if bytes.contains(&0) {
        return None;
    }
    let outer = std::mem::replace(&mut ctx.in_file, true);
    let v = check_script(&String::from_utf8_lossy(&bytes), depth + 1, ctx);
    ctx.in_file = outer;
    v
}

/// A script run by a new shell.
fn nested(a: &Arg, subject: &str, depth: usize, ctx: &mut Context) -> Option<Violation> {
    let saved = ctx.state();
    let v = script_arg(a, subject, depth, ctx);
    ctx.restore(saved);
    v
}

/// `sudo [opts] cmd…`; with `-i`/`-s` the words are run by a shell.
fn sudo(args: &[Arg], stdin: &[String], subject: &str, depth: usize, ctx: &mut Context) -> Option<Violation> {
    const VALUES: &[&str] = &[
        "-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U", "-T", "-R", "--user", "--group", "--host", "--prompt",
        "--chdir",
    ];
    let mut i = 0;
    let mut via_shell = false;
    while let Some(a) = args.get(i) {
        let t = a.text.as_str();
        if t == "--" {
            i += 1;
            break;
        }
        if !t.starts_with('-') || t.len() == 1 {
            break;
        }
        via_shell |=
            matches!(t, "--login" | "--shell") || (!t.starts_with("--") && (t.contains('i') || t.contains('s')));
        i += if VALUES.contains(&t) { 2 } else { 1 };
    }
    let rest = &args[i.min(args.len())..];
    if via_shell && !rest.is_empty() {
        let text = match joined(rest, subject) {
            Ok(t) => t,
            Err(v) => return Some(v),
        };
        return check_script(&text, depth + 1, ctx);
    }
    run(rest, stdin, subject, depth + 1, ctx)
}

/// `su [user] -c CMD`, `runuser -u U -- cmd` / `-c CMD`, `script -c CMD`, `flock FILE -c CMD`
/// or `flock FILE cmd…`.
fn command_option(
    prog: &str,
    args: &[Arg],
    stdin: &[String],
    subject: &str,
    depth: usize,
    ctx: &mut Context,
) -> Option<Violation> {
    for (i, a) in args.iter().enumerate() {
        let t = a.text.as_str();
        // `-c CMD`, and a cluster ending in it (`-lc CMD`, `-qc CMD`).
        let cluster_c = t.len() > 2 && t.starts_with('-') && !t.starts_with("--") && t.ends_with('c');
        if matches!(t, "-c" | "--command" | "--session-command") || cluster_c {
            return nested(args.get(i + 1)?, subject, depth, ctx);
        }
        if let Some(text) = t.strip_prefix("--command=") {
            return nested(&Arg { text: text.to_string(), ..a.clone() }, subject, depth, ctx);
        }
    }
    let values: &[&str] = match prog {
        "flock" => &["-w", "--timeout", "-E", "--conflict-exit-code"],
        "runuser" => &["-u", "--user", "-g", "--group", "-G", "--supp-group"],
        _ => return None,
    };
    let w = Wrapper { names: &[], value_opts: values, skip: usize::from(prog == "flock"), appends: false };
    wrapped(&w, args, stdin, subject, depth, ctx)
}

/// `watch [-n N] cmd…`: the words are run by `sh -c`.
fn watch(args: &[Arg], subject: &str, depth: usize, ctx: &mut Context) -> Option<Violation> {
    let mut i = 0;
    while let Some(a) = args.get(i).filter(|a| a.text.starts_with('-')) {
        i += if matches!(a.text.as_str(), "-n" | "--interval" | "-d" | "--differences" | "-q" | "--equexit") {
            2
        } else {
            1
        };
    }
    match joined(&args[i.min(args.len())..], subject) {
        Ok(t) => check_script(&t, depth + 1, ctx),
        Err(v) => Some(v),
    }
}

/// `find DIR… -exec cmd {} \;`, `-execdir`, `-ok`, `fd -x`, and `-delete` (like `rm -r`).
fn find(args: &[Arg], subject: &str, depth: usize, ctx: &mut Context) -> Option<Violation> {
    let starts: Vec<Arg> =
        args.iter().take_while(|a| !a.text.starts_with('-') && a.text != "!" && a.text != "(").cloned().collect();
    let starts = if starts.is_empty() { vec![Arg::lit(".")] } else { starts };
    let mut i = 0;
    while i < args.len() {
        let t = args[i].text.as_str();
        if t == "-delete" {
            // What it deletes is under the start folders (find never deletes `.` itself).
            let under = |s: &Arg| Arg { text: format!("{}/x", s.text.trim_end_matches('/')), ..s.clone() };
            if let Some(v) = starts.iter().find_map(|s| discard::removal(&under(s), subject, ctx)) {
                return Some(v);
            }
        }
        if matches!(t, "-exec" | "-execdir" | "-ok" | "-okdir" | "-x" | "--exec" | "-X" | "--exec-batch") {
            let end =
                args[i + 1..].iter().position(|a| a.text == ";" || a.text == "+").map_or(args.len(), |p| i + 1 + p);
            for s in &starts {
                // `{}` is a path under the start folder.
                let cmd: Vec<Arg> = args[i + 1..end]
                    .iter()
                    .map(|a| {
                        if a.text == "{}" {
                            Arg { text: format!("{}/x", s.text.trim_end_matches('/')), ..s.clone() }
                        } else {
                            a.clone()
                        }
                    })
                    .collect();
                if let Some(v) = run(&cmd, &[], subject, depth + 1, ctx) {
                    return Some(v);
                }
            }
            i = end;
        }
        i += 1;
    }
    None
}

/// `xargs [opts] cmd…`: the command gets arguments only known at run time.
fn xargs(args: &[Arg], subject: &str, depth: usize, ctx: &mut Context) -> Option<Violation> {
    const VALUES: &[&str] = &[
        "-I",
        "-L",
        "-n",
        "-P",
        "-s",
        "-d",
        "-E",
        "-a",
        "--max-args",
        "--max-procs",
        "--delimiter",
        "--arg-file",
        "--max-lines",
        "--replace",
        "--eof",
    ];
    let mut i = 0;
    let mut replace = None::<String>;
    while let Some(a) = args.get(i).filter(|a| a.text.starts_with('-')) {
        if a.text == "-I" || a.text == "--replace" {
            replace = args.get(i + 1).map(|r| r.text.clone());
        } else if a.text.len() > 2 && a.text.starts_with("-I") {
            replace = Some(a.text[2..].to_string());
        } else if a.text == "-i" || a.text.starts_with("--replace=") {
            replace = Some(a.text.split_once('=').map_or("{}".into(), |(_, r)| r.to_string()));
        }
        i += if VALUES.contains(&a.text.as_str()) { 2 } else { 1 };
    }
    let mut cmd: Vec<Arg> = args[i.min(args.len())..].to_vec();
    match &replace {
        Some(r) => cmd.iter_mut().filter(|a| a.text.contains(r.as_str())).for_each(|a| *a = Arg::unknown(&a.text)),
        None => cmd.push(Arg::unknown("(arguments from stdin)")),
    }
    if cmd.len() == 1 && replace.is_none() {
        return None; // plain `xargs`: echo
    }
    run(&cmd, &[], subject, depth + 1, ctx)
}

/// `parallel [opts] cmd ::: args…`, or commands given after `:::` (or fed on stdin).
fn parallel(args: &[Arg], stdin: &[String], subject: &str, depth: usize, ctx: &mut Context) -> Option<Violation> {
    const VALUES: &[&str] = &[
        "-j",
        "--jobs",
        "-S",
        "--sshlogin",
        "-a",
        "--arg-file",
        "-d",
        "--delimiter",
        "-I",
        "-n",
        "--max-args",
        "-N",
        "--colsep",
        "-C",
        "--workdir",
        "--wd",
        "-E",
        "--tmpdir",
        "--results",
        "--joblog",
        "--timeout",
        "--delay",
        "--retries",
    ];
    let mut i = 0;
    while let Some(a) = args.get(i).filter(|a| a.text.starts_with('-') && a.text != ":::") {
        i += if VALUES.contains(&a.text.as_str()) { 2 } else { 1 };
    }
    let rest = &args[i.min(args.len())..];
    let sep = rest.iter().position(|a| a.text == ":::" || a.text == "::::");
    let (template, inputs) = match sep {
        Some(p) => (&rest[..p], &rest[p + 1..]),
        None => (rest, &[][..]),
    };
    if template.is_empty() {
        let lines: Vec<String> =
            if sep.is_some() { inputs.iter().map(|a| a.text.clone()).collect() } else { stdin.to_vec() };
        if sep.is_none() && stdin.is_empty() {
            return Some(run_time(subject, &Arg::unknown("(stdin)"), "holds the commands `parallel` runs"));
        }
        return lines.iter().find_map(|l| check_script(l, depth + 1, ctx));
    }
    let values: Vec<Arg> = if sep.is_some() { inputs.to_vec() } else { vec![Arg::unknown("(arguments from stdin)")] };
    for v in values {
        let mut cmd: Vec<Arg> = template
            .iter()
            .map(|a| {
                if a.text.contains("{}") {
                    Arg { text: a.text.replace("{}", &v.text), ..v.clone() }
                } else {
                    a.clone()
                }
            })
            .collect();
        if !template.iter().any(|a| a.text.contains("{}")) {
            cmd.push(v.clone());
        }
        if let Some(x) = run(&cmd, &[], subject, depth + 1, ctx) {
            return Some(x);
        }
    }
    None
}

/// `tmux [-c cmd] new-session|new-window|split-window|respawn-pane|run-shell|display-popup … [cmd]`,
/// `tmux send-keys … 'cmd' Enter`, `tmux if-shell …`.
fn tmux(args: &[Arg], subject: &str, depth: usize, ctx: &mut Context) -> Option<Violation> {
    let mut i = 0;
    while let Some(a) = args.get(i).filter(|a| a.text.starts_with('-')) {
        if a.text == "-c" {
            return nested(args.get(i + 1)?, subject, depth, ctx);
        }
        i += if matches!(a.text.as_str(), "-L" | "-S" | "-f" | "-T") { 2 } else { 1 };
    }
    let sub = args.get(i)?.text.clone();
    let rest = &args[i + 1..];
    // Each command's options that take a value (its flags are skipped one word at a time).
    let (values, keys): (&[&str], bool) = match sub.as_str() {
        "new-session" | "new" => (&["-c", "-e", "-F", "-f", "-n", "-s", "-t", "-x", "-y"], false),
        "new-window" | "neww" => (&["-c", "-e", "-F", "-n", "-t"], false),
        "split-window" | "splitw" => (&["-c", "-e", "-F", "-l", "-t"], false),
        "respawn-pane" | "respawnp" | "respawn-window" | "respawnw" => (&["-c", "-e", "-t"], false),
        "display-popup" | "popup" => (&["-b", "-c", "-d", "-e", "-h", "-s", "-S", "-t", "-T", "-w", "-x", "-y"], false),
        "pipe-pane" | "pipep" | "if-shell" | "if" => (&["-t"], false),
        "run-shell" | "run" => (&["-c", "-d", "-t"], false),
        "send-keys" | "send" => (&["-N", "-t"], true),
        _ => return None,
    };
    let mut j = 0;
    while let Some(a) = rest.get(j).filter(|a| a.text.starts_with('-')) {
        j += if values.contains(&a.text.as_str()) { 2 } else { 1 };
    }
    let words = &rest[j.min(rest.len())..];
    if let Some(a) = words.iter().find(|a| !a.exact) {
        return Some(run_time(subject, a, "is part of what tmux runs"));
    }
    let text = if keys {
        words
            .iter()
            .map(|a| match a.text.as_str() {
                "Enter" | "C-m" | "KPEnter" | "C-j" => "\n".to_string(),
                "Space" => " ".to_string(),
                "Tab" => "\t".to_string(),
                t => t.to_string(),
            })
            .collect::<String>()
    } else {
        words.iter().map(|a| a.text.as_str()).collect::<Vec<_>>().join(" ")
    };
    let saved = ctx.state();
    let v = check_script(&text, depth + 1, ctx);
    ctx.restore(saved);
    v
}

/// `export`, `declare`, `local`, …: assignments that last, and the override exported.
fn declare(args: &[Arg], subject: &str, ctx: &mut Context) -> Option<Violation> {
    for a in args.iter().filter(|a| !a.text.starts_with('-')) {
        let Some((name, value)) = a.text.split_once('=') else {
            if let Some(v) = self_protect::export_name(&a.text, subject) {
                return Some(v);
            }
            continue;
        };
        let name = name.trim_end_matches('+');
        let value = Arg { text: value.to_string(), ..a.clone() };
        let v = self_protect::assignment(name, subject).or_else(|| hooks::assignment(name, &value, true, subject));
        if v.is_some() {
            return v;
        }
        if let Some(v) = git_runs::assignment(name, &value, subject, 0, ctx) {
            return Some(v);
        }
        ctx.vars.set(name, var_of(&value));
        ctx.env.push((name.to_string(), value));
    }
    None
}

/// `cd DIR`, `pushd DIR`, `popd`: where the following commands run.
fn change_dir(prog: &str, args: &[Arg], ctx: &mut Context) -> Option<Violation> {
    let target = args.iter().find(|a| !a.text.starts_with('-') || a.text == "-");
    ctx.cwd = match (prog, target) {
        ("popd", _) => None,
        (_, None) => expand::Vars::new().get("HOME").known_path(),
        (_, Some(a)) if a.text == "-" => None,
        (_, Some(a)) => a.known().and_then(|d| ctx.resolve(d)),
    };
    if let Some(c) = ctx.cwd.clone() {
        ctx.vars.set("PWD", Var::Known(c.to_string_lossy().into_owned()));
    }
    None
}

/// `for NAME in words…` (the parser reads it as one simple command): NAME takes each word.
fn loop_var(args: &[Arg], ctx: &mut Context) -> Option<Violation> {
    let name = args.first()?.text.clone();
    let values: Vec<Arg> = match args.get(1) {
        Some(a) if a.text == "in" => args[2..].to_vec(),
        _ => Vec::new(),
    };
    let var = if !values.is_empty() && values.iter().all(|v| v.exact || v.glob) {
        Var::Alts(values.into_iter().map(|v| v.text).collect())
    } else {
        Var::Unknown
    };
    ctx.vars.set(&name, var);
    None
}

/// `read a b`, `mapfile arr`: values only known at run time.
fn unknown_vars(args: &[Arg], ctx: &mut Context) -> Option<Violation> {
    args.iter()
        .filter(|a| !a.text.starts_with('-') && is_assignment(&format!("{}=", a.text)))
        .for_each(|a| ctx.vars.set(&a.text, Var::Unknown));
    None
}

/// `alias name='value'`: the value is judged as the command it stands for, and later uses
/// of `name` are expanded.
fn define_aliases(args: &[Arg], subject: &str, depth: usize, ctx: &mut Context) -> Option<Violation> {
    for a in args.iter().filter(|a| !a.text.starts_with('-')) {
        let Some((name, value)) = a.text.split_once('=') else { continue };
        if !a.exact {
            return Some(run_time(subject, a, "is what a shell alias runs"));
        }
        let saved = ctx.state();
        let v = check_script(value, depth + 1, ctx);
        ctx.restore(saved);
        if v.is_some() {
            return v;
        }
        ctx.shell_aliases.push((name.to_string(), value.to_string()));
    }
    None
}

/// A command word that is a shell alias defined earlier: run what it stands for.
fn shell_alias(prog: &str, first: &Arg, args: &[Arg], depth: usize, ctx: &mut Context) -> Option<Option<Violation>> {
    if !first.exact || first.text.contains('/') {
        return None;
    }
    let (_, value) = ctx.shell_aliases.iter().rev().find(|(n, _)| n == prog)?.clone();
    let rest: Vec<String> = args.iter().map(|a| shell::quote(&a.text)).collect();
    ctx.shell_aliases.retain(|(n, _)| n != prog); // an alias is not expanded inside itself
    let v = check_script(&format!("{value} {}", rest.join(" ")), depth + 1, ctx);
    Some(v)
}

trait KnownPath {
    fn known_path(self) -> Option<std::path::PathBuf>;
}

impl KnownPath for Var {
    fn known_path(self) -> Option<std::path::PathBuf> {
        match self {
            Var::Known(p) => Some(std::path::PathBuf::from(p)),
            _ => None,
        }
    }
}
