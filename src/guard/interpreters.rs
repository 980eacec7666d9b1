//! Inline interpreter code — `python -c`, `node -e`/`--eval`/`-p`, `deno eval`, `bun -e`,
//! `perl -e`, `ruby -e`, `php -r` — that runs commands, deletes trees or writes the guard's
//! files. The code is not parsed as its language; its string literals are: the arguments of
//! a process call (`subprocess.run([...])`, `os.system("…")`, `execSync('…')`, `system(…)`,
//! backticks) are judged as the command they form, and a call whose command is built at run
//! time is refused. Code that writes files (a write mode, `write…`, `unlink`, `rename`, …)
//! has its path literals judged as written by the task contract. Scripts in files are not read.

use super::expand::Arg;
use super::files::Effect;
use super::git_command::run_time;
use super::rules::{contract, discard, self_protect};
use super::{walk, Context};
use crate::policy::Violation;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Lang {
    Python,
    Js,
    Perl,
    Ruby,
    Php,
}

fn lang(prog: &str) -> Option<Lang> {
    Some(match prog {
        p if p.starts_with("python") || p.starts_with("pypy") => Lang::Python,
        "node" | "nodejs" | "deno" | "bun" => Lang::Js,
        "perl" => Lang::Perl,
        "ruby" => Lang::Ruby,
        "php" => Lang::Php,
        _ => return None,
    })
}

/// The inline code of an interpreter's command line (`None`: it runs a file, or nothing).
fn code(prog: &str, l: Lang, args: &[Arg]) -> Option<Vec<Arg>> {
    let flags: &[&str] = match l {
        Lang::Python => &["-c"],
        Lang::Js => &["-e", "--eval", "-p", "--print"],
        Lang::Perl => &["-e", "-E"],
        Lang::Ruby => &["-e"],
        Lang::Php => &["-r"],
    };
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(a) = args.get(i) {
        let t = a.text.as_str();
        if prog == "deno" && i == 0 && t == "eval" {
            return args.get(1).map(|c| vec![c.clone()]);
        }
        // `-e CODE`, `-ne CODE` (perl/ruby clusters end in the code flag), `-cCODE`.
        let cluster_ends_in_flag = t.len() > 2
            && t.starts_with('-')
            && !t.starts_with("--")
            && matches!(l, Lang::Perl | Lang::Ruby)
            && t.ends_with(['e', 'E']);
        if flags.contains(&t) || cluster_ends_in_flag {
            out.extend(args.get(i + 1).cloned());
            i += 2;
            continue;
        }
        if l == Lang::Python && t.starts_with("-c") && t.len() > 2 {
            out.push(Arg { text: t[2..].to_string(), ..a.clone() });
            return Some(out);
        }
        if !t.starts_with('-') && l != Lang::Perl && l != Lang::Ruby {
            break; // a script file: what follows are its arguments
        }
        if l == Lang::Python && out.len() == 1 {
            break; // after `-c CODE` come the code's own arguments
        }
        i += 1;
    }
    (!out.is_empty()).then_some(out)
}

pub fn is_interpreter(prog: &str) -> bool {
    lang(prog).is_some()
}

/// Judge an interpreter's inline code.
pub fn check(
    prog: &str,
    args: &[Arg],
    stdin: &[String],
    subject: &str,
    depth: usize,
    ctx: &mut Context,
) -> Option<Violation> {
    let l = lang(prog)?;
    let Some(code) = code(prog, l, args) else {
        // No code on the command line and no script file: the code comes on stdin (a heredoc,
        // a pipe), judged like inline code when the guard knows it.
        let reads_stdin = args.iter().all(|a| a.text.starts_with('-')) || args.iter().any(|a| a.text == "-");
        if !reads_stdin {
            return None;
        }
        if stdin.is_empty() && ctx.stdin_unknown {
            return Some(run_time(subject, &Arg::unknown("(its stdin)"), &format!("is the code `{prog}` reads")));
        }
        return stdin.iter().find_map(|text| judge(l, text, subject, depth, ctx));
    };
    for c in code {
        if !c.exact {
            return Some(run_time(subject, &c, &format!("is the code `{prog}` runs")));
        }
        if let Some(v) = judge(l, &c.text, subject, depth, ctx) {
            return Some(v);
        }
    }
    None
}

/// A string literal of the code, or a run-time value.
#[derive(Debug, Clone)]
struct Lit {
    text: String,
    /// An f-string or a template with `${…}`: only known at run time.
    dynamic: bool,
    backtick: bool,
    start: usize,
    end: usize,
}

fn literals(code: &str, l: Lang) -> Vec<Lit> {
    let b = code.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i] as char;
        if c == '#' && matches!(l, Lang::Python | Lang::Ruby | Lang::Perl) && (i == 0 || b[i - 1].is_ascii_whitespace())
        {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if !matches!(c, '\'' | '"' | '`') {
            i += 1;
            continue;
        }
        let fstring = l == Lang::Python && i > 0 && matches!(b[i - 1], b'f' | b'F');
        let triple = l == Lang::Python && code[i..].starts_with(&c.to_string().repeat(3));
        let q = if triple { c.to_string().repeat(3) } else { c.to_string() };
        let start = i;
        i += q.len();
        let mut text = String::new();
        while i < b.len() && !code[i..].starts_with(&q) {
            if b[i] == b'\\' && i + 1 < b.len() {
                text.push(b[i + 1] as char);
                i += 2;
                continue;
            }
            let ch = code[i..].chars().next().unwrap_or(' ');
            text.push(ch);
            i += ch.len_utf8();
        }
        i += q.len();
        let dynamic = (fstring && text.contains('{'))
            || (c == '`' && text.contains("${"))
            || (c == '"'
                && matches!(l, Lang::Perl | Lang::Ruby | Lang::Php)
                && (text.contains('$') || text.contains("#{")));
        out.push(Lit { text, dynamic, backtick: c == '`', start, end: i.min(b.len()) });
    }
    out
}

/// A call the code makes: a name (`subprocess.` ends in a dot: any function of it) and
/// whether its arguments may follow without parentheses (`system "…"` in perl and ruby).
type Callee = (&'static str, bool);

/// Calls that start a process, per language.
fn process_calls(l: Lang) -> &'static [Callee] {
    match l {
        Lang::Python => &[
            ("subprocess.", false),
            ("os.system", false),
            ("os.popen", false),
            ("os.exec", false),
            ("os.spawn", false),
            ("pty.spawn", false),
            ("run", false),
            ("call", false),
            ("check_call", false),
            ("check_output", false),
            ("Popen", false),
            ("getoutput", false),
            ("getstatusoutput", false),
            ("system", false),
            ("popen", false),
        ],
        Lang::Js => &[
            ("execSync", false),
            ("exec", false),
            ("execFileSync", false),
            ("execFile", false),
            ("spawnSync", false),
            ("spawn", false),
            ("fork", false),
            ("Bun.spawn", false),
            ("Deno.run", false),
            ("Deno.Command", false),
        ],
        Lang::Perl => &[("system", true), ("exec", true), ("qx", true), ("open", true)],
        Lang::Ruby => &[
            ("system", true),
            ("exec", true),
            ("spawn", true),
            ("IO.popen", true),
            ("Process.spawn", true),
            ("Open3.", true),
            ("%x", true),
        ],
        Lang::Php => &[
            ("shell_exec", false),
            ("exec", false),
            ("system", false),
            ("passthru", false),
            ("proc_open", false),
            ("popen", false),
        ],
    }
}

/// Calls that delete a folder tree.
const TREE_DELETES: &[Callee] = &[
    ("rmtree", false),
    ("rmSync", false),
    ("rm_rf", false),
    ("rm_r", false),
    ("remove_tree", false),
    ("rimraf", false),
    ("rmdirSync", false),
];

/// Where the arguments of each call of `callees` start, outside string literals.
fn call_sites(code: &str, lits: &[Lit], callees: &[Callee]) -> Vec<usize> {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = Vec::new();
    for (name, bare) in callees {
        for (at, _) in code.match_indices(name) {
            if lits.iter().any(|l| l.start <= at && at < l.end) || code[..at].chars().next_back().is_some_and(ident) {
                continue;
            }
            let mut rest = &code[at + name.len()..];
            if name.ends_with('.') {
                rest = rest.trim_start_matches(ident);
            } else if rest.starts_with(ident) {
                continue; // `runner(`, not `run(`
            }
            let after = rest.trim_start();
            let start = code.len() - after.len();
            match after.chars().next() {
                Some('(') => out.push(start + 1),
                Some(_) if *bare && rest.starts_with([' ', '\t']) => out.push(start),
                _ => {}
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

fn judge(l: Lang, code: &str, subject: &str, depth: usize, ctx: &mut Context) -> Option<Violation> {
    let lits = literals(code, l);
    let writes = [
        "open(", "write", "unlink", "remove", "rename", "rmtree", "chmod", "copy", "move", "replace", "truncate",
        "symlink",
    ];
    if writes.iter().any(|w| code.contains(w)) {
        for lit in lits.iter().filter(|x| !x.dynamic && (x.text.contains('/') || x.text.starts_with('.'))) {
            if let Some(v) = self_protect::path(Effect::Write, &Arg::lit(&lit.text), subject, ctx) {
                return Some(v);
            }
        }
    }
    if let Some(v) = contract_writes(l, code, &lits, subject, ctx) {
        return Some(v);
    }
    if let Some(v) = calls(code, &lits, TREE_DELETES, subject, ctx, |args, s, ctx| {
        args.first().and_then(|a| discard::removal(a, s, ctx))
    }) {
        return Some(v);
    }
    for lit in lits.iter().filter(|x| x.backtick && l != Lang::Js) {
        let v = if lit.dynamic {
            Some(run_time(subject, &Arg::unknown(&lit.text), "is a command the code runs"))
        } else {
            walk::check_script(&lit.text, depth + 1, ctx)
        };
        if v.is_some() {
            return v;
        }
    }
    calls(code, &lits, process_calls(l), subject, ctx, |args, s, ctx| process(args, s, depth, ctx))
}

/// Calls that change files, beyond an `open` with a write mode. Only names that change files
/// whatever their receiver: `write` alone is also `sys.stdout.write`, `copy` also `dict.copy()`,
/// and a read must never be refused.
const FILE_CHANGES: &[&str] = &[
    "write_text",
    "write_bytes",
    "writeFile",
    "appendFile",
    "copyFile",
    "writelines",
    "unlink",
    "remove(",
    "os.replace",
    "rename(",
    "shutil",
    "rmtree",
    "truncate",
    "symlink",
    "chmod",
    "rmSync",
    "file_put_contents",
    "File.write",
    "IO.write",
    "FileUtils.",
    "Deno.write",
    "Bun.write",
    "touch(",
];

/// An open mode that writes: `'w'`, `'a'`, `'x'`, `'r+'`, `'wb'`…; perl's `'>'`, `'>>'`, `'+<'`.
fn write_mode(t: &str) -> bool {
    let python_like = !t.is_empty() && t.len() <= 3 && t.chars().all(|c| "rwaxbtU+".contains(c));
    (python_like && t.contains(['w', 'a', 'x', '+'])) || matches!(t, ">" | ">>" | "+<" | "+>" | "+>>")
}

/// The task contract for code that writes files: each literal that names a path (perl's
/// `">file"` too) is judged as a file the code writes. Over-reading (a copy's source) errs on
/// the side of refusing, as everywhere in the guard.
fn contract_writes(l: Lang, code: &str, lits: &[Lit], subject: &str, ctx: &mut Context) -> Option<Violation> {
    let writes = FILE_CHANGES.iter().any(|w| code.contains(w))
        || (code.contains("open") && lits.iter().any(|x| !x.dynamic && write_mode(&x.text)))
        || (l == Lang::Perl && lits.iter().any(|x| x.text.starts_with('>')));
    if !writes {
        return None;
    }
    for lit in lits.iter().filter(|x| !x.dynamic && !write_mode(&x.text)) {
        let mut t = lit.text.as_str();
        if l == Lang::Perl {
            t = t.trim_start_matches(['+', '>', '<']).trim_start();
        }
        let path_like = !t.is_empty()
            && t.len() < 4096
            && !t.contains(char::is_whitespace)
            && (t.contains('/')
                || (t.contains('.') && t.starts_with(|c: char| c.is_alphanumeric() || c == '.' || c == '_')));
        if !path_like {
            continue;
        }
        if let Some(p) = ctx.resolve(t) {
            if let Some(v) = contract::write(Effect::Write, &p, None, subject, ctx) {
                return Some(v);
            }
        }
    }
    None
}

/// Each call of `callees`: its arguments (literals, or run-time values) handed to `f`.
fn calls(
    code: &str,
    lits: &[Lit],
    callees: &[Callee],
    subject: &str,
    ctx: &mut Context,
    mut f: impl FnMut(&[Arg], &str, &mut Context) -> Option<Violation>,
) -> Option<Violation> {
    for at in call_sites(code, lits, callees) {
        let args = call_args(code, at, lits);
        if let Some(v) = f(&args, subject, ctx) {
            return Some(v);
        }
    }
    None
}

/// The arguments after a call's opening: literals in order up to the end of the call (its
/// `)` or, without one, the line or `;`), a run-time value for anything else that is a
/// name or expression.
fn call_args(code: &str, from: usize, lits: &[Lit]) -> Vec<Arg> {
    let mut depth = 1i32;
    let mut end = code.len();
    let mut i = from;
    let b = code.as_bytes();
    while i < b.len() {
        if let Some(l) = lits.iter().find(|l| l.start == i) {
            i = l.end;
            continue;
        }
        match b[i] {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                depth -= 1;
                if depth == 0 {
                    end = i;
                    break;
                }
            }
            b';' | b'\n' if depth <= 1 => {
                end = i;
                break;
            }
            _ => {}
        }
        i += 1;
    }
    let span = &code[from..end];
    let inside: Vec<&Lit> = lits.iter().filter(|l| l.start >= from && l.end <= end).collect();
    let mut rest = span.to_string();
    for l in inside.iter().rev() {
        rest.replace_range(l.start - from..l.end - from, "");
    }
    let expression = rest.split([',', '[', ']', '(', ')', ' ', '\t', '\n']).any(|t| {
        let t = t.trim();
        // Keyword arguments (`check=True`, `cwd=root`) and option objects (`{stdio: …}`) are not the command.
        let keyword = t.contains('=') && !t.starts_with('=');
        !t.is_empty() && !matches!(t, "=" | "=>" | "{" | "}" | "true" | "false") && !keyword && !t.contains(':')
    });
    let mut args: Vec<Arg> =
        inside.iter().map(|l| if l.dynamic { Arg::unknown(&l.text) } else { Arg::lit(&l.text) }).collect();
    if expression || args.is_empty() {
        args.push(Arg::unknown("(an expression of the code)"));
    }
    args
}

/// A process call: one literal is a shell command; several are an argument vector.
fn process(args: &[Arg], subject: &str, depth: usize, ctx: &mut Context) -> Option<Violation> {
    match args {
        [first, ..] if !first.exact => Some(run_time(subject, first, "is a command the code builds at run time")),
        // `os.system("git push")`, `execSync('git push', {…})`: the first string is a command line.
        [first, ..] if args.len() == 1 || first.text.contains(' ') => walk::check_script(&first.text, depth + 1, ctx),
        _ => walk::run(args, &[], subject, depth + 1, ctx),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_calls() {
        let code = r#"import subprocess; subprocess.run(['git', 'push', '-f'], check=True)"#;
        let lits = literals(code, Lang::Python);
        assert_eq!(lits.iter().map(|l| l.text.as_str()).collect::<Vec<_>>(), ["git", "push", "-f"]);
        let at = code.find("run(").unwrap() + 4;
        let args = call_args(code, at, &lits);
        assert_eq!(
            args.iter().map(|a| (a.text.as_str(), a.exact)).collect::<Vec<_>>(),
            [("git", true), ("push", true), ("-f", true)]
        );
        let code = r#"subprocess.run(['git', 'push', flag])"#;
        let lits = literals(code, Lang::Python);
        let args = call_args(code, code.find("run(").unwrap() + 4, &lits);
        assert!(!args.last().unwrap().exact);
        assert!(literals(r#"f"git {x}""#, Lang::Python)[0].dynamic);
    }
}
