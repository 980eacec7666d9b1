//! Word expansion as bash would do it, as far as it can be known before the command runs:
//! parameters the script itself set (`R=main; … $R`), `~` and `$HOME`, the current branch
//! idioms (`"$(git branch --show-current)"`), field splitting of unquoted values, and globs.
//! Whatever depends on the run stays marked: an [`Arg`] that is not `exact` says so, and
//! whether it could turn into an option, so a rule can refuse it where it decides the verdict.

use std::collections::HashMap;

use super::shell::{Part, Word};
use super::Context;

/// One argument as the program will receive it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arg {
    /// The text; where a part is only known at run time, that part as written (`$REFSPEC`).
    pub text: String,
    /// The text is exactly what the program receives.
    pub exact: bool,
    /// Unknown text could make this an option (or split it into several words).
    pub can_be_option: bool,
    /// An unquoted pattern that files in the folder could turn into other words.
    pub glob: bool,
    /// Every value a loop variable takes, when the word is just that variable.
    pub alts: Vec<String>,
}

impl Arg {
    pub fn lit(text: impl Into<String>) -> Arg {
        Arg { text: text.into(), exact: true, can_be_option: false, glob: false, alts: Vec::new() }
    }

    /// An argument nobody can know before the run (appended by `xargs`, say).
    pub fn unknown(text: impl Into<String>) -> Arg {
        Arg { text: text.into(), exact: false, can_be_option: true, glob: false, alts: Vec::new() }
    }

    /// The exact text, if known.
    pub fn known(&self) -> Option<&str> {
        self.exact.then_some(self.text.as_str())
    }

    /// Whether the word is (or may be) an option: it starts with `-`, or unknown text could.
    pub fn option_like(&self) -> bool {
        self.can_be_option || self.text.starts_with('-')
    }
}

/// What a shell variable holds, as far as the script shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Var {
    Known(String),
    /// A loop variable: each of these in turn.
    Alts(Vec<String>),
    Unknown,
}

/// The script's variables: those it set, plus the few the guard can know (`HOME`, `TMPDIR`).
#[derive(Debug, Clone, Default)]
pub struct Vars {
    map: HashMap<String, Var>,
}

impl Vars {
    pub fn new() -> Vars {
        let mut map = HashMap::new();
        for name in ["HOME", "USER", "OKSTRA_HOME"] {
            if let Some(v) = std::env::var_os(name).and_then(|v| v.into_string().ok()) {
                map.insert(name.to_string(), Var::Known(v));
            }
        }
        map.insert("TMPDIR".into(), Var::Known(temp_dir()));
        Vars { map }
    }

    pub fn get(&self, name: &str) -> Var {
        self.map.get(name).cloned().unwrap_or(Var::Unknown)
    }

    /// A second, different value makes the variable unknown: either may be in force.
    pub fn set(&mut self, name: &str, value: Var) {
        let merged = match (self.map.get(name), &value) {
            (Some(old), new) if old != new && self.assigned(name) => Var::Unknown,
            _ => value,
        };
        self.map.insert(name.to_string(), merged);
        self.map.insert(format!("\0{name}"), Var::Known(String::new()));
    }

    pub fn assigned(&self, name: &str) -> bool {
        self.map.contains_key(&format!("\0{name}"))
    }

    /// `unset NAME`: empty from here on.
    pub fn unset(&mut self, name: &str) {
        self.map.insert(name.to_string(), Var::Known(String::new()));
    }
}

/// The temporary folder as programs see it.
pub fn temp_dir() -> String {
    std::env::var("TMPDIR").ok().filter(|t| !t.is_empty()).unwrap_or_else(|| "/tmp".into())
}

/// One piece of a word after parameter expansion.
struct Piece {
    text: String,
    quoted: bool,
    /// `None`: the value is only known at run time.
    known: bool,
    /// A literal from the source (not the value of an expansion).
    literal: bool,
}

/// Expand one word into the arguments it becomes (none, one, or several after splitting).
pub fn word(w: &Word, ctx: &mut Context) -> Vec<Arg> {
    if let Some(alts) = loop_values(w, ctx) {
        let text = w.source();
        return vec![Arg {
            text,
            exact: false,
            can_be_option: alts.iter().any(|a| a.starts_with('-')),
            glob: false,
            alts,
        }];
    }
    split(pieces(w, ctx), w)
}

/// The value of an assignment's right-hand side (no splitting, no globbing).
pub fn assignment(w: &Word, ctx: &mut Context) -> (String, Arg) {
    let source = w.source();
    let eq = source.find('=').unwrap_or(source.len());
    let name = source[..eq].trim_end_matches('+').to_string();
    let mut pieces = pieces(w, ctx);
    // Drop `NAME=` from the first literal piece.
    let mut skip = eq + 1;
    for p in &mut pieces {
        let n = skip.min(p.text.len());
        p.text.drain(..n);
        skip -= n;
        if skip == 0 {
            break;
        }
    }
    let exact = pieces.iter().all(|p| p.known);
    let text: String = pieces.iter().map(|p| p.text.as_str()).collect();
    let lead = pieces.iter().find(|p| !p.text.is_empty() || !p.known);
    let can_be_option = !exact && !lead.is_some_and(|p| p.known && !p.text.starts_with('-'));
    (name, Arg { text, exact, can_be_option, glob: false, alts: Vec::new() })
}

fn loop_values(w: &Word, ctx: &Context) -> Option<Vec<String>> {
    match w.parts.as_slice() {
        [Part::Param { name, default: None, .. }] | [Part::Lit { .. }, Part::Param { name, default: None, .. }] => {
            match ctx.vars.get(name) {
                Var::Alts(v) => Some(v),
                _ => None,
            }
        }
        _ => None,
    }
}

fn pieces(w: &Word, ctx: &mut Context) -> Vec<Piece> {
    // A script that changes IFS splits unquoted values where the guard does not: unknown.
    let ifs_default = matches!(ctx.vars.get("IFS"), Var::Unknown) || ctx.vars.get("IFS") == Var::Known(" \t\n".into());
    let ifs_changed = ctx.vars.assigned("IFS") && !ifs_default;
    let mut out = Vec::new();
    for p in &w.parts {
        let (text, quoted, known, literal) = match p {
            Part::Lit { text, quoted } => (text.clone(), *quoted, true, true),
            Part::Brace(c) => (c.to_string(), false, true, true),
            Part::Param { name, default, quoted } => match (ctx.vars.get(name), default) {
                (Var::Known(v), Some(d)) if v.is_empty() => (d.clone(), *quoted, true, false),
                (Var::Known(v), _) => (v, *quoted, true, false),
                (_, _) => (format!("${name}"), *quoted, false, false),
            },
            Part::Command { source, quoted } => match ctx.command_value(source) {
                Some(v) => (v, *quoted, true, false),
                None => (format!("$({source})"), *quoted, false, false),
            },
            Part::Unknown { source, quoted } => (source.clone(), *quoted, false, false),
        };
        let known = known && (quoted || literal || !ifs_changed);
        out.push(Piece { text, quoted, known, literal });
    }
    out
}

fn is_glob_char(c: char) -> bool {
    matches!(c, '*' | '?' | '[')
}

/// Whether unquoted text holds a pattern: `*`, `?`, or a `[` closed by a later `]`
/// (a lone `[`, as in `[ -n x ]` or `[[`, is literal).
fn has_glob(text: &str) -> bool {
    text.contains(['*', '?']) || text.find('[').is_some_and(|i| text[i + 1..].contains(']'))
}

/// Field splitting and globbing of the expanded pieces.
fn split(pieces: Vec<Piece>, w: &Word) -> Vec<Arg> {
    let mut fields: Vec<Arg> = Vec::new();
    let mut cur = Arg::lit("");
    let mut started = false;
    let mut lead_known = None::<bool>;
    let mut split_risk = false;
    for p in pieces {
        if !p.known {
            cur.exact = false;
            cur.text.push_str(&p.text);
            if lead_known.is_none() {
                lead_known = Some(false);
            }
            split_risk |= !p.quoted;
            started = true;
            continue;
        }
        if p.quoted || p.literal {
            if !p.quoted && has_glob(&p.text) {
                cur.glob = true;
            }
            if lead_known.is_none() && !p.text.is_empty() {
                lead_known = Some(true);
            }
            cur.text.push_str(&p.text);
            started |= p.quoted || !p.text.is_empty();
            continue;
        }
        // An unquoted known value: split on blanks.
        let mut parts = p.text.split([' ', '\t', '\n']).peekable();
        let leading_blank = p.text.starts_with([' ', '\t', '\n']);
        if leading_blank && started {
            fields.push(finish(std::mem::replace(&mut cur, Arg::lit("")), lead_known, split_risk));
            lead_known = None;
            started = false;
        }
        while let Some(s) = parts.next() {
            if !s.is_empty() {
                if lead_known.is_none() {
                    lead_known = Some(true);
                }
                cur.glob |= has_glob(s);
                cur.text.push_str(s);
                started = true;
            }
            if parts.peek().is_some() && started {
                fields.push(finish(std::mem::replace(&mut cur, Arg::lit("")), lead_known, split_risk));
                lead_known = None;
                started = false;
            }
        }
    }
    if started {
        fields.push(finish(cur, lead_known, split_risk));
    }
    if fields.is_empty() && w.parts.is_empty() {
        fields.push(Arg::lit(""));
    }
    fields
}

fn finish(mut a: Arg, lead_known: Option<bool>, split_risk: bool) -> Arg {
    if a.glob {
        a.exact = false;
        let first = a.text.chars().next();
        a.can_be_option = first.map_or(true, |c| c == '-' || is_glob_char(c));
    }
    if !a.exact && !a.glob {
        a.can_be_option = split_risk || lead_known != Some(true) || a.text.starts_with('-');
    }
    a
}

/// Whether a glob pattern (`*`, `?`, `[…]`) matches a name, as the shell matches a file name.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some('*') => (0..=n.len()).any(|k| go(&p[1..], &n[k..])),
            Some('?') => !n.is_empty() && go(&p[1..], &n[1..]),
            Some('[') => {
                let Some(end) = p.iter().skip(2).position(|c| *c == ']').map(|e| e + 2) else {
                    return n.first() == Some(&'[') && go(&p[1..], &n[1..]);
                };
                let Some(c) = n.first() else { return false };
                let set = &p[1..end];
                let (neg, set) = match set.first() {
                    Some('!' | '^') => (true, &set[1..]),
                    _ => (false, set),
                };
                let mut hit = false;
                let mut k = 0;
                while k < set.len() {
                    if k + 2 < set.len() && set[k + 1] == '-' {
                        hit |= set[k] <= *c && *c <= set[k + 2];
                        k += 3;
                    } else {
                        hit |= set[k] == *c;
                        k += 1;
                    }
                }
                hit != neg && go(&p[end + 1..], &n[1..])
            }
            Some(c) => n.first() == Some(c) && go(&p[1..], &n[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guard::shell;

    fn args(text: &str, ctx: &mut Context) -> Vec<Arg> {
        let cmd = shell::parse(text).unwrap().pop().unwrap();
        cmd.words.iter().flat_map(|w| word(w, ctx)).collect()
    }

    #[test]
    fn known_values_expand_and_split() {
        let mut ctx = Context::new(std::env::temp_dir());
        ctx.vars.set("F", Var::Known("--force origin".into()));
        ctx.vars.set("R", Var::Known("main".into()));
        let a = args("git push $F \"$R\" ${R}x \"$F\"", &mut ctx);
        let texts: Vec<&str> = a.iter().map(|a| a.text.as_str()).collect();
        assert_eq!(texts, ["git", "push", "--force", "origin", "main", "mainx", "--force origin"]);
        assert!(a.iter().all(|a| a.exact));
    }

    #[test]
    fn unknown_values_say_whether_they_can_be_options() {
        let mut ctx = Context::new(std::env::temp_dir());
        let a = args("x \"$R\" \"a$R\" a$R ${P}main --no-verif[y] src/*.rs * \"\"", &mut ctx);
        let flags: Vec<(bool, bool)> = a.iter().map(|a| (a.exact, a.can_be_option)).collect();
        assert_eq!(
            flags,
            [
                (true, false),
                (false, true),
                (false, false),
                (false, true),
                (false, true),
                (false, true),
                (false, false),
                (false, true),
                (true, false)
            ]
        );
    }

    #[test]
    fn globs() {
        assert!(glob_match("--no-verif[y]", "--no-verify"));
        assert!(glob_match("*", "--no-verify"));
        assert!(glob_match("settings*.json", "settings.local.json"));
        assert!(!glob_match("[!a]x", "ax"));
        assert!(glob_match("[a-c]?", "bz"));
    }
}
