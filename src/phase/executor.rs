//! Agent executors for `--exec AGENT` (DESIGN §5): which CLI to start and with which
//! arguments. `claude`, `codex` and `gemini` are built in; any name can be configured (or a
//! built-in replaced) with `git config okstra.executor.<name> '<argv template>'`.
//!
//! This module only decides the program and argv; the process is started through
//! [`crate::git::exec_attached`], the crate's one place that spawns processes.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config;
use crate::error::{Error, Result};
use crate::git::Repo;
use crate::phase::prompt::{self, Vars};

/// Placeholder for the path of the rendered `launch.md`.
pub const PROMPT_FILE: &str = "PROMPT_FILE";
/// Placeholder for the text of the rendered prompt (one argv word, never split).
pub const PROMPT: &str = "PROMPT";

/// The built-in executors: (name, argv on a terminal, argv without one).
/// On a terminal the agent opens its interactive session seeded with the prompt; without
/// one (scripts, CI) it runs the prompt headless and exits, so nothing waits on input.
const BUILTIN: &[(&str, &[&str], &[&str])] = &[
    ("claude", &["claude", "{{PROMPT}}"], &["claude", "-p", "{{PROMPT}}"]),
    ("codex", &["codex", "{{PROMPT}}"], &["codex", "exec", "{{PROMPT}}"]),
    ("gemini", &["gemini", "-i", "{{PROMPT}}"], &["gemini", "-p", "{{PROMPT}}"]),
];

/// Where an executor's argv template came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    BuiltIn,
    GitConfig,
}

/// A resolved agent CLI: found on `PATH`, argv template known.
#[derive(Debug, Clone, Serialize)]
pub struct Executor {
    pub name: String,
    pub program: PathBuf,
    /// argv after the program, with `{{PROMPT}}` / `{{PROMPT_FILE}}` placeholders.
    pub template: Vec<String>,
    pub origin: Origin,
    /// Whether the interactive form was chosen (built-ins only; config templates are used as is).
    pub interactive: bool,
}

/// Executor names are git config key names: a letter, then letters, digits and `-`.
fn valid_name(name: &str) -> bool {
    let mut c = name.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_alphabetic()) && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '-')
}

/// The executor name in force: the flag, else `OKSTRA_DEFAULT_EXECUTOR` (empty means none).
pub fn chosen(flag: Option<&str>) -> Option<String> {
    flag.map(str::to_string)
        .or_else(|| std::env::var(config::ENV_DEFAULT_EXECUTOR).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Find the executor `name`: `okstra.executor.<name>` if configured, else a built-in; its
/// program must be on `PATH`.
pub fn resolve(repo: &Repo, name: &str, interactive: bool) -> Result<Executor> {
    if !valid_name(name) {
        return Err(Error::usage(format!("'{name}' is not an executor name (a letter, then letters, digits and '-')")));
    }
    let key = format!("{}.{name}", config::KEY_EXECUTOR_PREFIX);
    let (words, origin, interactive) = match repo.config_string(&key).filter(|s| !s.trim().is_empty()) {
        Some(text) => {
            let words = split_words(&text)
                .map_err(|why| Error::failed(format!("git config {key} cannot be read as an argv: {why}")))?;
            if !words.iter().skip(1).any(|w| w.contains("{{PROMPT}}") || w.contains("{{PROMPT_FILE}}")) {
                return Err(Error::failed(format!(
                    "git config {key} passes no prompt to the agent: it names neither {{{{PROMPT_FILE}}}} nor {{{{PROMPT}}}}"
                ))
                .hint(format!("e.g. git config {key} 'my-agent --prompt-file {{{{PROMPT_FILE}}}}'")));
            }
            (words, Origin::GitConfig, false)
        }
        None => {
            let Some((_, tty, headless)) = BUILTIN.iter().find(|(n, _, _)| *n == name) else {
                return Err(Error::failed(format!("unknown executor '{name}'")).hint(format!(
                    "built in: claude, codex, gemini; or configure one: git config {key} '<program> … {{{{PROMPT_FILE}}}}'"
                )));
            };
            let argv = if interactive { tty } else { headless };
            (argv.iter().map(|s| s.to_string()).collect(), Origin::BuiltIn, interactive)
        }
    };
    let Some((program, template)) = words.split_first() else {
        return Err(Error::failed(format!("git config {key} is empty")));
    };
    let found = which::which(program).map_err(|_| {
        Error::failed(format!("agent CLI '{program}' (executor {name}) was not found on PATH"))
            .hint(format!("install {program}, or point the executor at it: git config {key} '<path> … {{{{PROMPT}}}}'"))
    })?;
    Ok(Executor { name: name.to_string(), program: found, template: template.to_vec(), origin, interactive })
}

impl Executor {
    /// The argv after the program, placeholders filled (each word stays one argument).
    pub fn argv(&self, prompt_file: &Path, prompt_text: &str) -> Result<Vec<OsString>> {
        let vars: Vars = [
            (PROMPT_FILE.to_string(), prompt_file.to_string_lossy().into_owned()),
            (PROMPT.to_string(), prompt_text.to_string()),
        ]
        .into_iter()
        .collect();
        let label = format!("executor {} argv", self.name);
        self.template
            .iter()
            .map(|w| prompt::render_str(w, &label, &vars).map(OsString::from).map_err(Error::from))
            .collect()
    }
}

/// Split a command line into words the way a POSIX shell would for plain words, single
/// quotes, double quotes and backslashes; no expansion of any kind.
pub fn split_words(s: &str) -> std::result::Result<Vec<String>, &'static str> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(ch) => cur.push(ch),
                        None => return Err("unclosed single quote"),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(ch @ ('"' | '\\' | '$' | '`')) => cur.push(ch),
                            Some(ch) => {
                                cur.push('\\');
                                cur.push(ch);
                            }
                            None => return Err("unclosed double quote"),
                        },
                        Some(ch) => cur.push(ch),
                        None => return Err("unclosed double quote"),
                    }
                }
            }
            '\\' => {
                in_word = true;
                cur.push(chars.next().ok_or("trailing backslash")?);
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_like_a_shell() {
        assert_eq!(split_words("a  b\tc").unwrap(), ["a", "b", "c"]);
        assert_eq!(
            split_words(r#"x --m 'two words' "say \"hi\"" ''"#).unwrap(),
            ["x", "--m", "two words", "say \"hi\"", ""]
        );
        assert_eq!(split_words(r"a\ b").unwrap(), ["a b"]);
        assert!(split_words("'open").is_err());
        assert!(split_words("\"open").is_err());
    }

    #[test]
    fn names() {
        assert!(valid_name("claude"));
        assert!(valid_name("my-agent2"));
        assert!(!valid_name("2x"));
        assert!(!valid_name("a_b"));
        assert!(!valid_name("a.b"));
    }
}
