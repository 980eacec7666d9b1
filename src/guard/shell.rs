//! The shell reader for the agent guard: turns one line (or script) of POSIX/bash shell into
//! the simple commands it would run. It runs nothing and expands nothing that depends on the
//! run: each word keeps its parts (literal text, quoted or not; `$NAME`; `$(…)`; the rest),
//! so [`super::expand`] can expand what bash would and say when a value is only known at run
//! time. Brace expansion, which bash does on the text alone, happens here.
//!
//! It understands quotes (`'…'`, `"…"`, `$'…'`), backslash escapes and line continuations,
//! the separators `&&`, `||`, `;`, `&`, `|`, `|&`, newlines, `( … )` subshells (each command
//! knows the groups it runs in), function definitions, redirections (their targets are kept
//! apart from the arguments), heredocs and here-strings (kept as the command's stdin text),
//! comments, arrays `a=(…)`, and command substitutions `$( … )`, backticks and `<( … )`, whose
//! inner commands are returned too. Input a shell would refuse to run as written (an unclosed
//! quote or substitution, a stray `(`) is an error, so callers can refuse it.

use std::fmt;

/// One piece of a word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Text as written; `quoted` when it came from quotes or a backslash (no glob, no
    /// splitting, no tilde).
    Lit { text: String, quoted: bool },
    /// `$NAME` / `${NAME}`, or `${NAME:-word}`-style (`default`: the word after `-`/`:-`).
    Param { name: String, default: Option<String>, quoted: bool },
    /// `$( … )` or backticks: the inner text (its commands are parsed on their own too).
    Command { source: String, quoted: bool },
    /// Anything else that is only known at run time: `$1`, `$@`, `$((…))`, `${#x}`, `~user`.
    Unknown { source: String, quoted: bool },
    /// An unquoted `{`, `,` or `}` before brace expansion.
    Brace(char),
}

/// One word of a command, as its parts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Word {
    pub parts: Vec<Part>,
}

impl Word {
    /// A word that is exactly this literal text.
    pub fn lit(text: &str) -> Word {
        Word { parts: vec![Part::Lit { text: text.to_string(), quoted: true }] }
    }

    /// The word as written, quotes removed (expansions keep their source text).
    pub fn source(&self) -> String {
        let mut s = String::new();
        for p in &self.parts {
            match p {
                Part::Lit { text, .. } => s.push_str(text),
                Part::Param { name, default: None, .. } => {
                    s.push('$');
                    s.push_str(name);
                }
                Part::Param { name, default: Some(d), .. } => s.push_str(&format!("${{{name}:-{d}}}")),
                Part::Command { source, .. } => s.push_str(&format!("$({source})")),
                Part::Unknown { source, .. } => s.push_str(source),
                Part::Brace(c) => s.push(*c),
            }
        }
        s
    }

    /// The text when the word has no expansion at all.
    pub fn literal(&self) -> Option<String> {
        let mut s = String::new();
        for p in &self.parts {
            match p {
                Part::Lit { text, .. } => s.push_str(text),
                Part::Brace(c) => s.push(*c),
                _ => return None,
            }
        }
        Some(s)
    }
}

/// A redirection: its operator (`>`, `>>`, `<`, `&>`, `>&`, …) and target word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    pub op: &'static str,
    pub target: Word,
}

impl Redirect {
    /// Whether the target is a file the command writes (not a read, not a descriptor).
    pub fn writes(&self) -> bool {
        let dup = matches!(self.op, ">&" | "<&")
            && self.target.literal().is_some_and(|t| t == "-" || t.chars().all(|c| c.is_ascii_digit()));
        !dup && !matches!(self.op, "<" | "<&")
    }
}

/// One simple command: leading `NAME=value` assignments, its words, its redirections, and
/// text it gets on stdin from heredocs and here-strings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimpleCommand {
    pub assigns: Vec<Word>,
    pub words: Vec<Word>,
    pub redirects: Vec<Redirect>,
    pub stdin: Vec<String>,
    /// Its stdin is the previous command's output (`a | b`).
    pub piped: bool,
    /// The subshells it runs in, outermost first (ids of `( … )`, `$( … )`, …).
    pub groups: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// A `'` or `"` (or `$'`) that is never closed.
    UnclosedQuote(char),
    /// A `$(`, `` ` ``, `${` or `<(` that is never closed.
    UnclosedSubstitution(&'static str),
    /// Substitutions nested deeper than anyone writes by hand.
    TooDeep,
    /// Syntax bash refuses (a `(` after words that is not a function definition).
    Unexpected(&'static str),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::UnclosedQuote(q) => write!(f, "the command has an unclosed {q} quote"),
            ParseError::UnclosedSubstitution(s) => write!(f, "the command has an unclosed {s}"),
            ParseError::TooDeep => f.write_str("the command nests substitutions too deeply to read"),
            ParseError::Unexpected(what) => write!(f, "the command has a {what} where bash expects none"),
        }
    }
}

impl std::error::Error for ParseError {}

/// Deepest nesting of substitutions, `sh -c` strings and heredocs accepted.
pub const MAX_DEPTH: usize = 16;
/// Most words one word may brace-expand into; more is read as a run-time value.
pub const MAX_BRACE_WORDS: usize = 256;

/// Split `text` into every simple command it contains, nested substitutions included.
pub fn parse(text: &str) -> Result<Vec<SimpleCommand>, ParseError> {
    parse_at_depth(text, 0)
}

/// [`parse`] for text found inside something already parsed `depth` levels deep.
pub fn parse_at_depth(text: &str, depth: usize) -> Result<Vec<SimpleCommand>, ParseError> {
    if depth > MAX_DEPTH {
        return Err(ParseError::TooDeep);
    }
    let mut p = Parser {
        s: text.chars().collect(),
        i: 0,
        depth,
        out: Vec::new(),
        groups: Vec::new(),
        next_group: 1,
        cases: 0,
        pattern: false,
    };
    p.list(false)?;
    Ok(p.out)
}

/// Quote a word so a shell reads it back as the same word (for messages).
pub fn quote(word: &str) -> String {
    let plain = !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=+,@%^".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Words joined back into one line a shell would split the same way.
pub fn join(words: &[String]) -> String {
    words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ")
}

struct Heredoc {
    delim: String,
    strip_tabs: bool,
    expand: bool,
    /// Index in `out` of the command it feeds, once that command is finished.
    target: Option<usize>,
}

struct Parser {
    s: Vec<char>,
    i: usize,
    depth: usize,
    out: Vec<SimpleCommand>,
    /// The `( … )` groups open at the cursor.
    groups: Vec<u32>,
    next_group: u32,
    /// `case … in` statements open, and whether the words at the cursor are a pattern.
    cases: usize,
    pattern: bool,
}

/// Words after which a command starts afresh (`then X=1 cmd`, `if (…)`).
const KEYWORDS: &[&str] = &["!", "{", "then", "do", "else", "elif", "if", "while", "until", "time"];

fn is_meta(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | ';' | '&' | '|' | '(' | ')' | '<' | '>')
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

/// Whether the raw text of a word starts with `NAME=` or `NAME+=`.
fn is_assignment_raw(raw: &[char]) -> bool {
    let name_len = raw.iter().take_while(|c| c.is_ascii_alphanumeric() || **c == '_').count();
    raw.first().is_some_and(|c| is_name_start(*c))
        && (raw.get(name_len) == Some(&'=') || (raw.get(name_len) == Some(&'+') && raw.get(name_len + 1) == Some(&'=')))
}

/// Append literal text to a part list, merging with the previous literal of the same kind.
fn push_lit(parts: &mut Vec<Part>, c: char, quoted: bool) {
    if let Some(Part::Lit { text, quoted: q }) = parts.last_mut() {
        if *q == quoted {
            text.push(c);
            return;
        }
    }
    parts.push(Part::Lit { text: c.to_string(), quoted });
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.s.get(self.i).copied()
    }
    fn peek_at(&self, n: usize) -> Option<char> {
        self.s.get(self.i + n).copied()
    }

    fn open_group(&mut self) {
        self.groups.push(self.next_group);
        self.next_group += 1;
    }

    /// Parse commands until the end of input, or (with `in_paren`) the `)` that closes a `$(`.
    fn list(&mut self, in_paren: bool) -> Result<(), ParseError> {
        let mut cur = SimpleCommand::default();
        let mut pending: Vec<Heredoc> = Vec::new();
        let mut parens = 0usize;
        loop {
            let Some(c) = self.peek() else {
                if in_paren {
                    return Err(ParseError::UnclosedSubstitution("$("));
                }
                self.finish(&mut cur, &mut pending);
                self.read_heredocs(&mut pending)?;
                return Ok(());
            };
            match c {
                ' ' | '\t' | '\r' => self.i += 1,
                '\\' if self.peek_at(1) == Some('\n') => self.i += 2,
                '#' => {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.i += 1;
                    }
                }
                '\n' => {
                    self.i += 1;
                    self.finish(&mut cur, &mut pending);
                    self.read_heredocs(&mut pending)?;
                }
                '|' if self.pattern => self.i += 1, // `a|b)`: alternatives of a case pattern
                ';' | '&' | '|' => self.separator(c, &mut cur, &mut pending)?,
                '(' if self.pattern => self.i += 1, // `(a)`: a case pattern's optional paren
                ')' if self.pattern => {
                    // The pattern ends; its commands follow (after the `case … in` line, if first).
                    self.i += 1;
                    self.pattern = false;
                    self.finish(&mut cur, &mut pending);
                }
                '(' => {
                    self.i += 1;
                    if !self.opens_subshell(&cur) {
                        self.function_definition(&mut cur)?;
                        continue;
                    }
                    parens += 1;
                    self.finish(&mut cur, &mut pending);
                    self.open_group();
                }
                ')' => {
                    self.i += 1;
                    self.finish(&mut cur, &mut pending);
                    if parens == 0 && in_paren {
                        return Ok(());
                    }
                    if parens > 0 {
                        self.groups.pop();
                    }
                    parens = parens.saturating_sub(1);
                }
                '<' | '>' => self.redirection(&mut cur, &mut pending)?,
                _ => self.command_word(&mut cur)?,
            }
        }
    }

    /// `;`, `&`, `|` and their doubled forms (and `&>file`, which is a redirection).
    fn separator(&mut self, c: char, cur: &mut SimpleCommand, pending: &mut [Heredoc]) -> Result<(), ParseError> {
        self.i += 1;
        if c == '&' && self.peek() == Some('>') {
            self.i += 1;
            let op = if self.peek() == Some('>') {
                self.i += 1;
                "&>>"
            } else {
                "&>"
            };
            self.skip_blanks();
            let target = self.word_parts()?;
            cur.redirects.push(Redirect { op, target });
            return Ok(());
        }
        let doubled = matches!(self.peek(), Some('&' | '|' | ';'));
        let pipe = c == '|' && (!doubled || self.peek() == Some('&'));
        let case_end = c == ';' && matches!(self.peek(), Some(';' | '&'));
        if doubled {
            self.i += 1;
        }
        if case_end && self.peek() == Some('&') {
            self.i += 1; // `;;&`
        }
        self.finish(cur, pending);
        cur.piped = pipe;
        // `;;`, `;&`, `;;&` end a case branch: a pattern (or `esac`) comes next.
        self.pattern |= case_end && self.cases > 0;
        Ok(())
    }

    /// Whether a `(` here opens a subshell: at the start of a command, after keywords
    /// (`if (…)`), or as a `case … in (pattern)`; after other words it can only be `name()`.
    fn opens_subshell(&self, cur: &SimpleCommand) -> bool {
        let lit = |w: &Word| w.literal().unwrap_or_default();
        let case =
            cur.words.first().is_some_and(|w| lit(w) == "case") && cur.words.last().is_some_and(|w| lit(w) == "in");
        case || cur.words.iter().all(|w| KEYWORDS.contains(&lit(w).as_str()))
    }

    /// `name()` after words: a function definition (its body follows as ordinary commands,
    /// which are judged where they stand). Anything else is a syntax error.
    fn function_definition(&mut self, cur: &mut SimpleCommand) -> Result<(), ParseError> {
        self.skip_blanks();
        if self.peek() != Some(')') {
            return Err(ParseError::Unexpected("`(`"));
        }
        self.i += 1;
        // `function f()` or `f()`: the definition runs nothing itself.
        *cur = SimpleCommand { piped: cur.piped, groups: self.groups.clone(), ..Default::default() };
        Ok(())
    }

    /// A word in command position: an assignment, a descriptor redirection (`2>`), or a word.
    fn command_word(&mut self, cur: &mut SimpleCommand) -> Result<(), ParseError> {
        let start = self.i;
        if self.pattern {
            // A case pattern is not a command; `esac` closes the statement.
            let w = self.word_parts()?;
            if w.literal().as_deref() == Some("esac") {
                self.pattern = false;
                self.cases = self.cases.saturating_sub(1);
            }
            return Ok(());
        }
        let assignment = is_assignment_raw(&self.s[start..]);
        let mut w = self.word_parts()?;
        let fd_redirect = matches!(self.peek(), Some('<' | '>'))
            && self.i > start
            && self.s[start..self.i].iter().all(|c| c.is_ascii_digit());
        if fd_redirect {
            return Ok(()); // `2>file`: the digits name a descriptor
        }
        if self.peek() == Some('(') && self.s[start..self.i].last() == Some(&'=') {
            // `a=(x y)`: an array; its value is only known at run time.
            self.i += 1;
            self.array_elements()?;
            w.parts.push(Part::Unknown { source: "(…)".into(), quoted: false });
        }
        if assignment && cur.words.iter().all(|w| KEYWORDS.contains(&w.literal().unwrap_or_default().as_str())) {
            cur.assigns.push(unbrace(w));
            return Ok(());
        }
        let lit = w.literal().unwrap_or_default();
        if lit == "esac" && cur.words.is_empty() {
            self.cases = self.cases.saturating_sub(1);
        }
        cur.words.extend(brace_expand(w));
        let head: Vec<String> = cur.words.iter().map(|w| w.literal().unwrap_or_default()).collect();
        if head.len() == 3 && head[0] == "case" && head[2] == "in" {
            self.cases += 1;
            self.pattern = true;
        }
        Ok(())
    }

    /// The words of an array literal up to its `)` (substitutions in them are parsed).
    fn array_elements(&mut self) -> Result<(), ParseError> {
        loop {
            match self.peek() {
                None => return Err(ParseError::UnclosedSubstitution("(")),
                Some(')') => {
                    self.i += 1;
                    return Ok(());
                }
                Some(' ' | '\t' | '\n') => self.i += 1,
                Some(_) => {
                    let before = self.i;
                    self.word_parts()?;
                    if self.i == before {
                        return Err(ParseError::Unexpected("character in an array"));
                    }
                }
            }
        }
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.i += 1;
        }
    }

    fn finish(&mut self, cur: &mut SimpleCommand, pending: &mut [Heredoc]) {
        let mut cmd = std::mem::take(cur);
        if cmd.words.is_empty() && cmd.assigns.is_empty() && cmd.stdin.is_empty() && cmd.redirects.is_empty() {
            // Heredocs of an empty command (`<<EOF` alone) feed nothing.
            return;
        }
        cmd.groups = self.groups.clone();
        self.out.push(cmd);
        let idx = self.out.len() - 1;
        for h in pending.iter_mut().filter(|h| h.target.is_none()) {
            h.target = Some(idx);
        }
    }

    /// `<`, `>`, `>>`, `<>`, `>|`, `<&`, `>&`, `<<`, `<<-`, `<<<`, and `<(…)`/`>(…)`.
    fn redirection(&mut self, cur: &mut SimpleCommand, pending: &mut Vec<Heredoc>) -> Result<(), ParseError> {
        let c = self.peek().unwrap_or('<');
        if self.peek_at(1) == Some('(') {
            // Process substitution: its commands run in a subshell; the word is a path.
            self.i += 2;
            self.open_group();
            let r = self.nested_list("<(");
            self.groups.pop();
            r?;
            cur.words.push(Word::lit("/dev/fd/63"));
            return Ok(());
        }
        self.i += 1;
        if c == '<' && self.peek() == Some('<') {
            return self.heredoc_or_string(cur, pending);
        }
        let op = match (c, self.peek()) {
            ('>', Some('>')) => ">>",
            ('>', Some('|')) => ">|",
            ('>', Some('&')) => ">&",
            ('<', Some('>')) => "<>",
            ('<', Some('&')) => "<&",
            ('>', _) => ">",
            _ => "<",
        };
        if op.len() == 2 {
            self.i += 1;
        }
        self.skip_blanks();
        if matches!(self.peek(), Some('<' | '>')) && self.peek_at(1) == Some('(') {
            // `> >(tee log)`: the target is the process substitution's path.
            self.i += 2;
            self.open_group();
            let r = self.nested_list("<(");
            self.groups.pop();
            r?;
            cur.redirects.push(Redirect { op, target: Word::lit("/dev/fd/63") });
            return Ok(());
        }
        let target = self.word_parts()?;
        cur.redirects.push(Redirect { op, target: unbrace(target) });
        Ok(())
    }

    /// After `<<`: a here-string (`<<<`) or a heredoc whose body follows the line.
    fn heredoc_or_string(&mut self, cur: &mut SimpleCommand, pending: &mut Vec<Heredoc>) -> Result<(), ParseError> {
        self.i += 1;
        if self.peek() == Some('<') {
            self.i += 1;
            self.skip_blanks();
            let w = self.word_parts()?;
            cur.stdin.push(w.source());
            return Ok(());
        }
        let strip_tabs = self.peek() == Some('-');
        if strip_tabs {
            self.i += 1;
        }
        self.skip_blanks();
        let start = self.i;
        let w = self.word_parts()?;
        let expand = !self.s[start..self.i].iter().any(|c| matches!(c, '\'' | '"' | '\\'));
        pending.push(Heredoc { delim: w.source(), strip_tabs, expand, target: None });
        Ok(())
    }

    /// Read the bodies of the heredocs whose `<<` lines just ended.
    fn read_heredocs(&mut self, pending: &mut Vec<Heredoc>) -> Result<(), ParseError> {
        for h in std::mem::take(pending) {
            let mut body = String::new();
            while self.peek().is_some() {
                let start = self.i;
                while self.peek().is_some_and(|c| c != '\n') {
                    self.i += 1;
                }
                let mut line: String = self.s[start..self.i].iter().collect();
                if self.peek() == Some('\n') {
                    self.i += 1;
                }
                if h.strip_tabs {
                    line = line.trim_start_matches('\t').to_string();
                }
                if line == h.delim {
                    break;
                }
                body.push_str(&line);
                body.push('\n');
            }
            if h.expand {
                self.scan_expansions(&body)?;
            }
            if let Some(t) = h.target {
                self.out[t].stdin.push(body);
            }
        }
        Ok(())
    }

    /// Collect the command substitutions inside text that is expanded like a `"…"` string.
    fn scan_expansions(&mut self, text: &str) -> Result<(), ParseError> {
        let mut sub = Parser {
            s: text.chars().collect(),
            i: 0,
            depth: self.depth,
            out: Vec::new(),
            groups: self.groups.clone(),
            next_group: self.next_group,
            cases: 0,
            pattern: false,
        };
        while let Some(c) = sub.peek() {
            match c {
                '\\' => sub.i += 2,
                '$' | '`' => {
                    let mut sink = Vec::new();
                    sub.dollar_or_backtick(&mut sink, true)?;
                }
                _ => sub.i += 1,
            }
        }
        self.next_group = sub.next_group;
        self.out.append(&mut sub.out);
        Ok(())
    }

    /// Parse the commands of a `$(…)`/`<(…)` body (the opener already consumed) into `out`.
    fn nested_list(&mut self, what: &'static str) -> Result<(), ParseError> {
        if self.depth + 1 > MAX_DEPTH {
            return Err(ParseError::TooDeep);
        }
        self.depth += 1;
        let r = self.list(true).map_err(|e| match e {
            ParseError::UnclosedSubstitution(_) => ParseError::UnclosedSubstitution(what),
            e => e,
        });
        self.depth -= 1;
        r
    }

    /// One word as its parts; substitutions parsed on the side.
    fn word_parts(&mut self) -> Result<Word, ParseError> {
        let mut parts = Vec::new();
        let start = self.i;
        while let Some(c) = self.peek() {
            if is_meta(c) {
                break;
            }
            match c {
                '\'' => {
                    self.i += 1;
                    let mut text = String::new();
                    loop {
                        match self.peek() {
                            None => return Err(ParseError::UnclosedQuote('\'')),
                            Some('\'') => break,
                            Some(c) => text.push(c),
                        }
                        self.i += 1;
                    }
                    self.i += 1;
                    parts.push(Part::Lit { text, quoted: true });
                }
                '"' => {
                    self.i += 1;
                    self.double_quoted(&mut parts)?;
                }
                '\\' => {
                    self.i += 1;
                    match self.peek() {
                        Some('\n') => self.i += 1,
                        Some(c) => {
                            push_lit(&mut parts, c, true);
                            self.i += 1;
                        }
                        None => push_lit(&mut parts, '\\', true),
                    }
                }
                '$' | '`' => self.dollar_or_backtick(&mut parts, false)?,
                '{' | ',' | '}' => {
                    parts.push(Part::Brace(c));
                    self.i += 1;
                }
                '~' if self.i == start || self.s[self.i - 1] == '=' => self.tilde(&mut parts),
                _ => {
                    push_lit(&mut parts, c, false);
                    self.i += 1;
                }
            }
        }
        Ok(Word { parts })
    }

    /// `~` or `~/…` (HOME) at the start of a word or after `=`; `~user` is unknown.
    fn tilde(&mut self, parts: &mut Vec<Part>) {
        self.i += 1;
        let user: String =
            self.s[self.i..].iter().take_while(|c| c.is_ascii_alphanumeric() || **c == '_' || **c == '-').collect();
        self.i += user.len();
        if user.is_empty() {
            parts.push(Part::Param { name: "HOME".into(), default: None, quoted: true });
        } else {
            parts.push(Part::Unknown { source: format!("~{user}"), quoted: true });
        }
    }

    /// The inside of `"…"` (opening quote consumed), appended to `parts`.
    fn double_quoted(&mut self, parts: &mut Vec<Part>) -> Result<(), ParseError> {
        // `""` is a word even when empty.
        parts.push(Part::Lit { text: String::new(), quoted: true });
        loop {
            match self.peek() {
                None => return Err(ParseError::UnclosedQuote('"')),
                Some('"') => {
                    self.i += 1;
                    return Ok(());
                }
                Some('\\') => {
                    self.i += 1;
                    match self.peek() {
                        Some('\n') => self.i += 1,
                        Some(c @ ('$' | '`' | '"' | '\\')) => {
                            push_lit(parts, c, true);
                            self.i += 1;
                        }
                        Some(_) | None => push_lit(parts, '\\', true),
                    }
                }
                Some('$' | '`') => self.dollar_or_backtick(parts, true)?,
                Some(c) => {
                    push_lit(parts, c, true);
                    self.i += 1;
                }
            }
        }
    }

    /// `` `…` ``: its commands parsed (in a subshell group); the part keeps the inner text.
    fn backtick(&mut self, parts: &mut Vec<Part>, quoted: bool) -> Result<(), ParseError> {
        self.i += 1;
        let mut inner = String::new();
        loop {
            match self.peek() {
                None => return Err(ParseError::UnclosedSubstitution("`")),
                Some('`') => break,
                Some('\\') if matches!(self.peek_at(1), Some('`' | '\\' | '$')) => {
                    inner.push(self.s[self.i + 1]);
                    self.i += 2;
                    continue;
                }
                Some(c) => inner.push(c),
            }
            self.i += 1;
        }
        self.i += 1;
        if self.depth + 1 > MAX_DEPTH {
            return Err(ParseError::TooDeep);
        }
        let mut sub = Parser {
            s: inner.chars().collect(),
            i: 0,
            depth: self.depth + 1,
            out: Vec::new(),
            groups: self.groups.clone(),
            next_group: self.next_group,
            cases: 0,
            pattern: false,
        };
        sub.open_group();
        sub.list(false)?;
        self.next_group = sub.next_group;
        self.out.append(&mut sub.out);
        parts.push(Part::Command { source: inner, quoted });
        Ok(())
    }

    /// `$(…)`, `$((…))`, `${…}`, `$'…'`, `$"…"`, `$NAME` or `` `…` `` at the cursor.
    fn dollar_or_backtick(&mut self, parts: &mut Vec<Part>, quoted: bool) -> Result<(), ParseError> {
        if self.peek() == Some('`') {
            return self.backtick(parts, quoted);
        }
        let start = self.i;
        self.i += 1; // the `$`
        match self.peek() {
            Some('(') if self.peek_at(1) == Some('(') => {
                self.i += 2;
                self.skip_balanced('(', ')', "$((")?;
                if self.peek() == Some(')') {
                    self.i += 1;
                }
            }
            Some('(') => {
                self.i += 1;
                let body = self.i;
                self.open_group();
                let r = self.nested_list("$(");
                self.groups.pop();
                r?;
                let source: String = self.s[body..self.i - 1].iter().collect();
                parts.push(Part::Command { source, quoted });
                return Ok(());
            }
            Some('{') => {
                self.i += 1;
                let body = self.i;
                self.skip_balanced('{', '}', "${")?;
                let inner: String = self.s[body..self.i - 1].iter().collect();
                parts.push(braced_param(&inner, quoted));
                return Ok(());
            }
            Some('\'') if !quoted => {
                self.i += 1;
                let mut text = String::new();
                self.ansi_c(&mut text)?;
                parts.push(Part::Lit { text, quoted: true });
                return Ok(());
            }
            Some('"') if !quoted => {
                self.i += 1;
                return self.double_quoted(parts);
            }
            Some(c) if is_name_start(c) => {
                while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                    self.i += 1;
                }
                let name: String = self.s[start + 1..self.i].iter().collect();
                parts.push(Part::Param { name, default: None, quoted });
                return Ok(());
            }
            Some(c) if "@*#?$!-0123456789".contains(c) => self.i += 1,
            _ => {
                // A lone `$` is literal.
                push_lit(parts, '$', quoted);
                return Ok(());
            }
        }
        let source: String = self.s[start..self.i].iter().collect();
        parts.push(Part::Unknown { source, quoted });
        Ok(())
    }

    /// Skip to the `close` matching an already consumed `open`, minding quotes; nested command
    /// substitutions inside are parsed.
    fn skip_balanced(&mut self, open: char, close: char, what: &'static str) -> Result<(), ParseError> {
        let mut depth = 1usize;
        loop {
            let Some(c) = self.peek() else { return Err(ParseError::UnclosedSubstitution(what)) };
            match c {
                '\\' => self.i += 2,
                '\'' if open == '{' => {
                    self.i += 1;
                    while self.peek().is_some_and(|c| c != '\'') {
                        self.i += 1;
                    }
                    if self.peek().is_none() {
                        return Err(ParseError::UnclosedQuote('\''));
                    }
                    self.i += 1;
                }
                '"' => {
                    self.i += 1;
                    let mut sink = Vec::new();
                    self.double_quoted(&mut sink)?;
                }
                '$' | '`' => {
                    let mut sink = Vec::new();
                    self.dollar_or_backtick(&mut sink, true)?;
                }
                c if c == open => {
                    depth += 1;
                    self.i += 1;
                }
                c if c == close => {
                    self.i += 1;
                    depth -= 1;
                    if depth == 0 {
                        return Ok(());
                    }
                }
                _ => self.i += 1,
            }
        }
    }

    /// The inside of `$'…'` (opener consumed) with the common backslash escapes.
    fn ansi_c(&mut self, text: &mut String) -> Result<(), ParseError> {
        loop {
            match self.peek() {
                None => return Err(ParseError::UnclosedQuote('\'')),
                Some('\'') => {
                    self.i += 1;
                    return Ok(());
                }
                Some('\\') => {
                    self.i += 1;
                    let Some(e) = self.peek() else { return Err(ParseError::UnclosedQuote('\'')) };
                    self.i += 1;
                    self.ansi_escape(e, text);
                }
                Some(c) => {
                    text.push(c);
                    self.i += 1;
                }
            }
        }
    }

    fn ansi_escape(&mut self, e: char, text: &mut String) {
        match e {
            'n' => text.push('\n'),
            't' => text.push('\t'),
            'r' => text.push('\r'),
            'a' => text.push('\x07'),
            'b' => text.push('\x08'),
            'e' | 'E' => text.push('\x1b'),
            'f' => text.push('\x0c'),
            'v' => text.push('\x0b'),
            'x' | 'u' | 'U' => {
                let max = match e {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let hex: String = self.s[self.i..].iter().take(max).take_while(|c| c.is_ascii_hexdigit()).collect();
                self.i += hex.len();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(ch) => text.push(ch),
                    None => {
                        text.push('\\');
                        text.push(e);
                    }
                }
            }
            '0'..='7' => {
                let mut oct = String::from(e);
                while oct.len() < 3 && self.peek().is_some_and(|c| ('0'..='7').contains(&c)) {
                    oct.push(self.s[self.i]);
                    self.i += 1;
                }
                if let Some(ch) = u32::from_str_radix(&oct, 8).ok().and_then(char::from_u32) {
                    text.push(ch);
                }
            }
            other => text.push(other),
        }
    }
}

/// `${…}`'s inside: `NAME`, `NAME:-word`/`NAME-word` (a default), or something only known at
/// run time (`#x`, `x/a/b`, `!x`, …).
fn braced_param(inner: &str, quoted: bool) -> Part {
    let name_len = inner.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').count();
    let (name, rest) = inner.split_at(name_len);
    let named = name.chars().next().is_some_and(is_name_start);
    if named && rest.is_empty() {
        return Part::Param { name: name.to_string(), default: None, quoted };
    }
    if let (true, Some(d)) = (named, rest.strip_prefix(":-").or_else(|| rest.strip_prefix('-'))) {
        return Part::Param { name: name.to_string(), default: Some(d.to_string()), quoted };
    }
    Part::Unknown { source: format!("${{{inner}}}"), quoted }
}

/// Brace tokens back to literal text (assignments and redirection targets are not expanded).
fn unbrace(w: Word) -> Word {
    let mut parts = Vec::new();
    for p in w.parts {
        match p {
            Part::Brace(c) => push_lit(&mut parts, c, false),
            Part::Lit { text, quoted } if text.is_empty() => parts.push(Part::Lit { text, quoted }),
            Part::Lit { text, quoted } => {
                for c in text.chars() {
                    push_lit(&mut parts, c, quoted);
                }
            }
            other => parts.push(other),
        }
    }
    Word { parts }
}

/// bash's brace expansion on one word: `a{b,c}d` → `abd acd`, `{1..3}` → `1 2 3`, nested
/// and repeated too. More than [`MAX_BRACE_WORDS`] results make the word unknown.
pub fn brace_expand(w: Word) -> Vec<Word> {
    let mut out = Vec::new();
    if !expand_into(&w.parts, &mut out) {
        return vec![Word { parts: vec![Part::Unknown { source: w.source(), quoted: false }] }];
    }
    out.into_iter().map(unbrace).collect()
}

fn expand_into(parts: &[Part], out: &mut Vec<Word>) -> bool {
    let Some((open, close, alternatives)) = first_brace(parts) else {
        out.push(Word { parts: parts.to_vec() });
        return out.len() <= MAX_BRACE_WORDS;
    };
    for alt in alternatives {
        let mut joined = parts[..open].to_vec();
        joined.extend(alt);
        joined.extend_from_slice(&parts[close + 1..]);
        if !expand_into(&joined, out) {
            return false;
        }
    }
    true
}

/// The first `{…}` that expands: with a top-level comma, or a sequence `{a..b[..n]}`.
#[allow(clippy::type_complexity)]
fn first_brace(parts: &[Part]) -> Option<(usize, usize, Vec<Vec<Part>>)> {
    for (open, p) in parts.iter().enumerate() {
        if *p != Part::Brace('{') {
            continue;
        }
        let mut depth = 0usize;
        let mut commas = Vec::new();
        for (k, q) in parts.iter().enumerate().skip(open) {
            match q {
                Part::Brace('{') => depth += 1,
                Part::Brace(',') if depth == 1 => commas.push(k),
                Part::Brace('}') => {
                    depth -= 1;
                    if depth == 0 {
                        if !commas.is_empty() {
                            let mut alts = Vec::new();
                            let mut from = open + 1;
                            for c in commas.iter().copied().chain(std::iter::once(k)) {
                                alts.push(parts[from..c].to_vec());
                                from = c + 1;
                            }
                            return Some((open, k, alts));
                        }
                        if let Some(seq) = sequence(&parts[open + 1..k]) {
                            return Some((open, k, seq));
                        }
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    None
}

/// `{1..5}`, `{05..10..5}`, `{a..e}`: the words of a sequence expression.
fn sequence(inner: &[Part]) -> Option<Vec<Vec<Part>>> {
    let [Part::Lit { text, quoted: false }] = inner else { return None };
    let pieces: Vec<&str> = text.split("..").collect();
    if !(2..=3).contains(&pieces.len()) {
        return None;
    }
    let step: i64 = match pieces.get(2) {
        Some(s) => s.parse::<i64>().ok()?.abs().max(1),
        None => 1,
    };
    let lit = |s: String| vec![Part::Lit { text: s, quoted: false }];
    if let (Ok(a), Ok(b)) = (pieces[0].parse::<i64>(), pieces[1].parse::<i64>()) {
        let width = if pieces[0].starts_with('0') || pieces[1].starts_with('0') {
            pieces[0].len().max(pieces[1].len())
        } else {
            0
        };
        let n = (a - b).unsigned_abs() / step as u64 + 1;
        if n as usize > MAX_BRACE_WORDS {
            return Some((0..=MAX_BRACE_WORDS).map(|i| lit(i.to_string())).collect());
        }
        let dir = if b >= a { 1 } else { -1 };
        return Some((0..n as i64).map(|i| lit(format!("{:0width$}", a + dir * i * step))).collect());
    }
    let (a, b) = (pieces[0].chars().collect::<Vec<_>>(), pieces[1].chars().collect::<Vec<_>>());
    if let ([a], [b]) = (a.as_slice(), b.as_slice()) {
        if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() {
            let (a, b) = (*a as i64, *b as i64);
            let dir = if b >= a { 1 } else { -1 };
            let n = (a - b).abs() / step + 1;
            return Some(
                (0..n)
                    .filter_map(|i| char::from_u32((a + dir * i * step) as u32))
                    .map(|c| lit(c.to_string()))
                    .collect(),
            );
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<Vec<String>> {
        parse(text).unwrap().into_iter().map(|c| c.words.iter().map(Word::source).collect()).collect()
    }

    fn w(list: &[&[&str]]) -> Vec<Vec<String>> {
        list.iter().map(|c| c.iter().map(|s| s.to_string()).collect()).collect()
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(
            words(r#"git commit -m "do not use --no-verify""#),
            w(&[&["git", "commit", "-m", "do not use --no-verify"]])
        );
        assert_eq!(words(r#"echo 'a "b"' "c 'd'" e\ f"#), w(&[&["echo", "a \"b\"", "c 'd'", "e f"]]));
        assert_eq!(words(r#"echo "a\"b\\c\$d\x""#), w(&[&["echo", "a\"b\\c$d\\x"]]));
        assert_eq!(words("echo $'a\\nb\\'c'"), w(&[&["echo", "a\nb'c"]]));
        assert_eq!(words("g\\\nit push"), w(&[&["git", "push"]]));
        assert_eq!(words("git' 'push"), w(&[&["git push"]]));
        assert_eq!(words("echo $'\\x2bx'"), w(&[&["echo", "+x"]]));
    }

    #[test]
    fn pipes_are_marked() {
        let piped: Vec<bool> = parse("a | b |& c || d && e; f").unwrap().iter().map(|c| c.piped).collect();
        assert_eq!(piped, [false, true, true, false, false, false]);
    }

    #[test]
    fn separators_and_groups() {
        assert_eq!(
            words("a 1 && b 2 || c;d|e |& f & g\nh"),
            w(&[&["a", "1"], &["b", "2"], &["c"], &["d"], &["e"], &["f"], &["g"], &["h"]])
        );
        assert_eq!(words("(cd x; git push) && { y; }"), w(&[&["cd", "x"], &["git", "push"], &["{", "y"], &["}"]]));
        assert_eq!(words("echo hi # git push --force"), w(&[&["echo", "hi"]]));
        let groups: Vec<Vec<u32>> = parse("a; (b; (c)); d").unwrap().into_iter().map(|c| c.groups).collect();
        assert_eq!(groups, vec![vec![], vec![1], vec![1, 2], vec![]]);
    }

    #[test]
    fn case_patterns_are_not_commands() {
        assert_eq!(
            words("case \"$1\" in -*|--h*) git push -f;; (x) echo x ;& *) ls;;& esac; y"),
            w(&[&["case", "$1", "in"], &["git", "push", "-f"], &["echo", "x"], &["ls"], &["y"]])
        );
        assert_eq!(
            words("case x in\n a) b ;;\n c) d\nesac\ne"),
            w(&[&["case", "x", "in"], &["b"], &["d"], &["esac"], &["e"]])
        );
    }

    #[test]
    fn functions_and_arrays() {
        assert_eq!(words("f(){ git push -f; }; f"), w(&[&["{", "git", "push", "-f"], &["}"], &["f"]]));
        assert_eq!(words("function g () { x; }"), w(&[&["{", "x"], &["}"]]));
        assert_eq!(parse("echo (x)"), Err(ParseError::Unexpected("`(`")));
        let cmds = parse("a=(one $(git push -f) two); echo").unwrap();
        assert!(cmds.iter().any(|c| c.words.iter().map(Word::source).collect::<Vec<_>>() == ["git", "push", "-f"]));
        assert!(cmds.iter().any(|c| c.assigns.len() == 1));
    }

    #[test]
    fn assignments_and_redirections() {
        let cmds = parse("A=1 B='x y' git push > out.txt 2>&1 < in").unwrap();
        assert_eq!(cmds[0].assigns.iter().map(Word::source).collect::<Vec<_>>(), vec!["A=1", "B=x y"]);
        assert_eq!(cmds[0].words.iter().map(Word::source).collect::<Vec<_>>(), vec!["git", "push"]);
        let r: Vec<(&str, String, bool)> =
            cmds[0].redirects.iter().map(|r| (r.op, r.target.source(), r.writes())).collect();
        assert_eq!(r, vec![(">", "out.txt".into(), true), (">&", "1".into(), false), ("<", "in".into(), false)]);
        assert_eq!(words("git push origin feat &>log"), w(&[&["git", "push", "origin", "feat"]]));
        assert_eq!(parse("echo A=1").unwrap()[0].assigns, Vec::<Word>::new());
        assert_eq!(words("'A'=1 x"), w(&[&["A=1", "x"]]));
        assert_eq!(parse("> .git/config").unwrap()[0].redirects[0].target.source(), ".git/config");
    }

    #[test]
    fn substitutions_are_parsed() {
        assert_eq!(words("echo $(git push -f)"), w(&[&["git", "push", "-f"], &["echo", "$(git push -f)"]]));
        assert_eq!(words("echo \"`git push -f`\""), w(&[&["git", "push", "-f"], &["echo", "$(git push -f)"]]));
        assert_eq!(words("x=$(a $(b)) y"), w(&[&["b"], &["a", "$(b)"], &["y"]]));
        assert_eq!(words("diff <(git show a) b"), w(&[&["git", "show", "a"], &["diff", "/dev/fd/63", "b"]]));
        assert_eq!(words("echo $((1+2)) ${x:-a b} ${#y}"), w(&[&["echo", "$((1+2))", "${x:-a b}", "${#y}"]]));
    }

    #[test]
    fn parts_keep_what_is_known() {
        let c = &parse("git push origin \"$R\" ${P}main x$(y) ~/a").unwrap()[1];
        assert_eq!(
            c.words[3].parts,
            vec![
                Part::Lit { text: String::new(), quoted: true },
                Part::Param { name: "R".into(), default: None, quoted: true }
            ]
        );
        assert_eq!(c.words[4].parts[0], Part::Param { name: "P".into(), default: None, quoted: false });
        assert!(matches!(c.words[5].parts[1], Part::Command { .. }));
        assert_eq!(c.words[6].parts[0], Part::Param { name: "HOME".into(), default: None, quoted: true });
    }

    #[test]
    fn braces_expand_as_bash_does() {
        assert_eq!(
            words("git push --no-{verify,verify} origin HEAD:{main,x}"),
            w(&[&["git", "push", "--no-verify", "--no-verify", "origin", "HEAD:main", "HEAD:x"]])
        );
        assert_eq!(
            words("echo a{b,{c,d}}e {1..3} {a..c} {05..10..5}"),
            w(&[&["echo", "abe", "ace", "ade", "1", "2", "3", "a", "b", "c", "05", "10"]])
        );
        assert_eq!(words("echo {a} {} '{a,b}' a{,b} { x"), w(&[&["echo", "{a}", "{}", "{a,b}", "a", "ab", "{", "x"]]));
        assert_eq!(words("X={a,b} y"), w(&[&["y"]]));
        assert!(parse("echo {1..100000}").unwrap()[0].words[1].literal().is_none(), "too many words: unknown");
        assert!(parse("echo {a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}").unwrap()[0].words[1].literal().is_none());
    }

    #[test]
    fn heredocs_feed_stdin() {
        let cmds = parse("bash <<'EOF'\ngit push --force\nEOF\necho done").unwrap();
        assert_eq!(cmds[0].words[0].source(), "bash");
        assert_eq!(cmds[0].stdin, vec!["git push --force\n"]);
        assert_eq!(cmds[1].words[0].source(), "echo");
        let cmds = parse("cat <<EOF > f\n$(git push -f)\nEOF").unwrap();
        assert!(cmds.iter().any(|c| c.words.iter().map(Word::source).collect::<Vec<_>>() == ["git", "push", "-f"]));
        assert_eq!(parse("bash <<< 'git push -f'").unwrap()[0].stdin, vec!["git push -f"]);
    }

    #[test]
    fn malformed_is_an_error() {
        assert_eq!(parse("git commit -m 'oops"), Err(ParseError::UnclosedQuote('\'')));
        assert_eq!(parse("echo \"x"), Err(ParseError::UnclosedQuote('"')));
        assert_eq!(parse("echo $(git push"), Err(ParseError::UnclosedSubstitution("$(")));
        assert_eq!(parse("echo `x"), Err(ParseError::UnclosedSubstitution("`")));
        assert_eq!(parse("echo ${x"), Err(ParseError::UnclosedSubstitution("${")));
        assert_eq!(parse(&"$(".repeat(40)), Err(ParseError::TooDeep));
    }

    proptest::proptest! {
        #[test]
        fn join_then_parse_gives_the_words_back(ws in proptest::collection::vec("[ -~\n\t]{1,12}", 1..6)) {
            let ws: Vec<String> = ws;
            let cmds = parse(&join(&ws)).unwrap();
            proptest::prop_assert_eq!(cmds.len(), 1);
            let mut back: Vec<String> = cmds[0].assigns.iter().map(Word::source).collect();
            back.extend(cmds[0].words.iter().map(Word::source));
            proptest::prop_assert_eq!(back, ws);
        }

        #[test]
        fn never_panics(text in "[ -~\n]{0,60}") {
            let _ = parse(&text);
        }
    }

    #[test]
    fn quote_round_trips() {
        let ws: Vec<String> = vec!["git".into(), "commit".into(), "-m".into(), "it's a b".into()];
        assert_eq!(parse(&join(&ws)).unwrap()[0].words.iter().map(Word::source).collect::<Vec<_>>(), ws);
    }
}
