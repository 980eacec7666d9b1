//! The walk over a script: each simple command in order, looked through the wrappers that
//! run another command (`env`, `sudo`, `sh -c`, `eval`, `find -exec`, …), then handed to the
//! rule family of the program it runs.

use super::git_command::check_git;
use super::rules::{hooks, publish, self_protect};
use super::shell::{self, SimpleCommand};
use super::{clip, violation, Context};
use crate::policy::{Rule, Violation};

pub(crate) fn check_script(text: &str, depth: usize, ctx: &mut Context) -> Option<Violation> {
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

/// Words that open or close a compound command; the command proper follows them.
const RESERVED: &[&str] = &["!", "{", "}", "then", "do", "else", "elif", "if", "while", "until", "fi", "done", "esac"];
const SHELLS: &[&str] = &["sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "yash", "fish"];

pub(crate) fn basename(word: &str) -> &str {
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
pub(crate) fn check_assignment(assign: &str, subject: &str) -> Option<Violation> {
    self_protect::assignment(assign, subject).or_else(|| hooks::assignment(assign, subject))
}

pub(crate) fn check_argv(
    words: &[String],
    stdin: &[String],
    subject: &str,
    depth: usize,
    ctx: &mut Context,
) -> Option<Violation> {
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
        "export" | "declare" | "typeset" | "local" | "readonly" => {
            args.iter().filter(|a| !a.starts_with('-')).find_map(|a| {
                if a.contains('=') {
                    check_assignment(a, subject)
                } else {
                    self_protect::export_name(a, subject)
                }
            })
        }
        "git" => check_git(args, subject, depth, ctx),
        "gh" => publish::check_gh(args, subject),
        _ => publish::check(prog, args, subject),
    }
}

pub(crate) fn is_assignment(word: &str) -> bool {
    let Some((name, _)) = word.split_once('=') else { return false };
    let name = name.trim_end_matches('+');
    name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
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
