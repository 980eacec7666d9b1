//! A shell-word splitter for the agent guard: turns one line (or script) of POSIX/bash shell
//! into the simple commands it would run, with quotes removed and escapes applied.
//!
//! It understands quotes (`'…'`, `"…"`, `$'…'`), backslash escapes and line continuations,
//! the separators `&&`, `||`, `;`, `&`, `|`, `|&`, newlines and `( … )`, redirections (their
//! targets are not arguments), heredocs and here-strings (kept as the command's stdin text),
//! comments, and command substitutions `$( … )`, backticks and `<( … )`, whose inner commands
//! are returned too. It never expands variables and runs nothing. Input a shell would refuse
//! to run as written (an unclosed quote or substitution) is an error, so callers can refuse it.

use std::fmt;

/// One simple command: leading `NAME=value` assignments, its words, and text it gets on stdin
/// from heredocs and here-strings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimpleCommand {
    pub assigns: Vec<String>,
    pub words: Vec<String>,
    pub stdin: Vec<String>,
    /// Its stdin is the previous command's output (`a | b`).
    pub piped: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// A `'` or `"` (or `$'`) that is never closed.
    UnclosedQuote(char),
    /// A `$(`, `` ` ``, `${` or `<(` that is never closed.
    UnclosedSubstitution(&'static str),
    /// Substitutions nested deeper than anyone writes by hand.
    TooDeep,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::UnclosedQuote(q) => write!(f, "the command has an unclosed {q} quote"),
            ParseError::UnclosedSubstitution(s) => write!(f, "the command has an unclosed {s}"),
            ParseError::TooDeep => f.write_str("the command nests substitutions too deeply to read"),
        }
    }
}

impl std::error::Error for ParseError {}

/// Deepest nesting of substitutions, `sh -c` strings and heredocs accepted.
pub const MAX_DEPTH: usize = 16;

/// Split `text` into every simple command it contains, nested substitutions included.
pub fn parse(text: &str) -> Result<Vec<SimpleCommand>, ParseError> {
    parse_at_depth(text, 0)
}

/// [`parse`] for text found inside something already parsed `depth` levels deep.
pub fn parse_at_depth(text: &str, depth: usize) -> Result<Vec<SimpleCommand>, ParseError> {
    if depth > MAX_DEPTH {
        return Err(ParseError::TooDeep);
    }
    let mut p = Parser { s: text.chars().collect(), i: 0, depth, out: Vec::new() };
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

struct Word {
    text: String,
    /// The raw source starts with an unquoted `NAME=` (or `NAME+=`).
    assignment: bool,
}

struct Parser {
    s: Vec<char>,
    i: usize,
    depth: usize,
    out: Vec<SimpleCommand>,
}

fn is_meta(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | ';' | '&' | '|' | '(' | ')' | '<' | '>')
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.s.get(self.i).copied()
    }
    fn peek_at(&self, n: usize) -> Option<char> {
        self.s.get(self.i + n).copied()
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
                ';' | '&' | '|' => {
                    self.i += 1;
                    if c == '&' && self.peek() == Some('>') {
                        // `&>file` / `&>>file`: a redirection, not a separator.
                        self.i += 1;
                        if self.peek() == Some('>') {
                            self.i += 1;
                        }
                        self.skip_blanks();
                        self.word()?;
                        continue;
                    }
                    let doubled = matches!(self.peek(), Some('&' | '|' | ';'));
                    let pipe = c == '|' && (!doubled || self.peek() == Some('&'));
                    if doubled {
                        self.i += 1;
                    }
                    self.finish(&mut cur, &mut pending);
                    cur.piped = pipe;
                }
                '(' => {
                    self.i += 1;
                    parens += 1;
                    self.finish(&mut cur, &mut pending);
                }
                ')' => {
                    self.i += 1;
                    self.finish(&mut cur, &mut pending);
                    if parens == 0 && in_paren {
                        return Ok(());
                    }
                    parens = parens.saturating_sub(1);
                }
                '<' | '>' => self.redirection(&mut cur, &mut pending)?,
                _ => {
                    let start = self.i;
                    let w = self.word()?;
                    let fd_redirect = matches!(self.peek(), Some('<' | '>'))
                        && !w.text.is_empty()
                        && self.s[start..self.i].iter().all(|c| c.is_ascii_digit());
                    if fd_redirect {
                        continue; // `2>file`: the digits name a descriptor
                    }
                    if cur.words.is_empty() && w.assignment {
                        cur.assigns.push(w.text);
                    } else {
                        cur.words.push(w.text);
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
        let cmd = std::mem::take(cur);
        if cmd.words.is_empty() && cmd.assigns.is_empty() && cmd.stdin.is_empty() {
            // Heredocs of an empty command (`<<EOF` alone) feed nothing.
            return;
        }
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
            // Process substitution: its commands run; the word itself is a path.
            self.i += 2;
            self.nested_list("<(")?;
            cur.words.push(format!("{c}(…)"));
            return Ok(());
        }
        self.i += 1;
        if c == '<' && self.peek() == Some('<') {
            self.i += 1;
            if self.peek() == Some('<') {
                self.i += 1;
                self.skip_blanks();
                let w = self.word()?;
                cur.stdin.push(w.text);
                return Ok(());
            }
            let strip_tabs = self.peek() == Some('-');
            if strip_tabs {
                self.i += 1;
            }
            self.skip_blanks();
            let start = self.i;
            let w = self.word()?;
            let expand = !self.s[start..self.i].iter().any(|c| matches!(c, '\'' | '"' | '\\'));
            pending.push(Heredoc { delim: w.text, strip_tabs, expand, target: None });
            return Ok(());
        }
        if matches!(self.peek(), Some('>' | '<' | '&' | '|')) {
            self.i += 1;
        }
        self.skip_blanks();
        self.word()?; // the target: a file or descriptor, never an argument
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
        let mut sub = Parser { s: text.chars().collect(), i: 0, depth: self.depth, out: Vec::new() };
        while let Some(c) = sub.peek() {
            match c {
                '\\' => sub.i += 2,
                '$' | '`' => {
                    let mut sink = String::new();
                    sub.dollar_or_backtick(&mut sink)?;
                }
                _ => sub.i += 1,
            }
        }
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

    /// One word, quotes removed, escapes applied; substitutions parsed on the side.
    fn word(&mut self) -> Result<Word, ParseError> {
        let start = self.i;
        let mut text = String::new();
        while let Some(c) = self.peek() {
            if is_meta(c) {
                break;
            }
            match c {
                '\'' => {
                    self.i += 1;
                    loop {
                        match self.peek() {
                            None => return Err(ParseError::UnclosedQuote('\'')),
                            Some('\'') => break,
                            Some(c) => text.push(c),
                        }
                        self.i += 1;
                    }
                    self.i += 1;
                }
                '"' => {
                    self.i += 1;
                    self.double_quoted(&mut text)?;
                }
                '\\' => {
                    self.i += 1;
                    match self.peek() {
                        Some('\n') => self.i += 1,
                        Some(c) => {
                            text.push(c);
                            self.i += 1;
                        }
                        None => text.push('\\'),
                    }
                }
                '$' | '`' => self.dollar_or_backtick(&mut text)?,
                _ => {
                    text.push(c);
                    self.i += 1;
                }
            }
        }
        let raw = &self.s[start..self.i];
        let name_len = raw.iter().take_while(|c| c.is_ascii_alphanumeric() || **c == '_').count();
        let assignment = raw.first().is_some_and(|c| is_name_start(*c))
            && (raw.get(name_len) == Some(&'=')
                || (raw.get(name_len) == Some(&'+') && raw.get(name_len + 1) == Some(&'=')));
        Ok(Word { text, assignment })
    }

    /// The inside of `"…"` (opening quote consumed), appended to `text`.
    fn double_quoted(&mut self, text: &mut String) -> Result<(), ParseError> {
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
                            text.push(c);
                            self.i += 1;
                        }
                        Some(_) | None => text.push('\\'),
                    }
                }
                Some('$' | '`') => self.dollar_or_backtick(text)?,
                Some(c) => {
                    text.push(c);
                    self.i += 1;
                }
            }
        }
    }

    /// `$(…)`, `$((…))`, `${…}`, `$'…'`, `$"…"`, `$NAME` or `` `…` `` at the cursor.
    /// Command substitutions are parsed into `out`; the word keeps their source text.
    fn dollar_or_backtick(&mut self, text: &mut String) -> Result<(), ParseError> {
        let start = self.i;
        if self.peek() == Some('`') {
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
            let mut nested = parse_at_depth(&inner, self.depth + 1)?;
            self.out.append(&mut nested);
            text.extend(&self.s[start..self.i]);
            return Ok(());
        }
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
                self.nested_list("$(")?;
            }
            Some('{') => {
                self.i += 1;
                self.skip_balanced('{', '}', "${")?;
            }
            Some('\'') => {
                self.i += 1;
                self.ansi_c(text)?;
                return Ok(());
            }
            Some('"') => {
                self.i += 1;
                self.double_quoted(text)?;
                return Ok(());
            }
            _ => {
                while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                    self.i += 1;
                }
                if self.i == start + 1 && self.peek().is_some_and(|c| "@*#?$!-0123456789".contains(c)) {
                    self.i += 1;
                }
            }
        }
        text.extend(&self.s[start..self.i]);
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
                    let mut sink = String::new();
                    self.double_quoted(&mut sink)?;
                }
                '$' | '`' => {
                    let mut sink = String::new();
                    self.dollar_or_backtick(&mut sink)?;
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
                    match e {
                        'n' => text.push('\n'),
                        't' => text.push('\t'),
                        'r' => text.push('\r'),
                        'a' => text.push('\x07'),
                        'b' => text.push('\x08'),
                        'e' | 'E' => text.push('\x1b'),
                        'f' => text.push('\x0c'),
                        'v' => text.push('\x0b'),
                        'x' => {
                            let hex: String =
                                self.s[self.i..].iter().take(2).take_while(|c| c.is_ascii_hexdigit()).collect();
                            self.i += hex.len();
                            match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                                Some(ch) => text.push(ch),
                                None => text.push_str("\\x"),
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
                Some(c) => {
                    text.push(c);
                    self.i += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<Vec<String>> {
        parse(text).unwrap().into_iter().map(|c| c.words).collect()
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
    }

    #[test]
    fn pipes_are_marked() {
        let piped: Vec<bool> = parse("a | b |& c || d && e; f").unwrap().iter().map(|c| c.piped).collect();
        assert_eq!(piped, [false, true, true, false, false, false]);
    }

    #[test]
    fn separators() {
        assert_eq!(
            words("a 1 && b 2 || c;d|e |& f & g\nh"),
            w(&[&["a", "1"], &["b", "2"], &["c"], &["d"], &["e"], &["f"], &["g"], &["h"]])
        );
        assert_eq!(words("(cd x; git push) && { y; }"), w(&[&["cd", "x"], &["git", "push"], &["{", "y"], &["}"]]));
        assert_eq!(words("echo hi # git push --force"), w(&[&["echo", "hi"]]));
    }

    #[test]
    fn assignments_and_redirections() {
        let cmds = parse("A=1 B='x y' git push > out.txt 2>&1 < in").unwrap();
        assert_eq!(cmds[0].assigns, vec!["A=1", "B=x y"]);
        assert_eq!(cmds[0].words, vec!["git", "push"]);
        assert_eq!(words("git push origin feat &>log"), w(&[&["git", "push", "origin", "feat"]]));
        assert_eq!(parse("echo A=1").unwrap()[0].assigns, Vec::<String>::new());
        assert_eq!(parse("'A'=1 x").unwrap()[0].words, vec!["A=1", "x"]);
    }

    #[test]
    fn substitutions_are_parsed() {
        assert_eq!(words("echo $(git push -f)"), w(&[&["git", "push", "-f"], &["echo", "$(git push -f)"]]));
        assert_eq!(words("echo \"`git push -f`\""), w(&[&["git", "push", "-f"], &["echo", "`git push -f`"]]));
        assert_eq!(words("x=$(a $(b)) y"), w(&[&["b"], &["a", "$(b)"], &["y"]]));
        assert_eq!(words("diff <(git show a) b"), w(&[&["git", "show", "a"], &["diff", "<(…)", "b"]]));
        assert_eq!(words("echo $((1+2)) ${x:-a b}"), w(&[&["echo", "$((1+2))", "${x:-a b}"]]));
    }

    #[test]
    fn heredocs_feed_stdin() {
        let cmds = parse("bash <<'EOF'\ngit push --force\nEOF\necho done").unwrap();
        assert_eq!(cmds[0].words, vec!["bash"]);
        assert_eq!(cmds[0].stdin, vec!["git push --force\n"]);
        assert_eq!(cmds[1].words, vec!["echo", "done"]);
        let cmds = parse("cat <<EOF > f\n$(git push -f)\nEOF").unwrap();
        assert!(cmds.iter().any(|c| c.words == ["git", "push", "-f"]));
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
            let mut back = cmds[0].assigns.clone();
            back.extend(cmds[0].words.clone());
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
        assert_eq!(parse(&join(&ws)).unwrap()[0].words, ws);
    }
}
