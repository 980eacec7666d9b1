//! Questions on a terminal (dialoguer menus on stderr). Only called when both stdin and
//! stderr are terminals; without one the handoff takes flags and never asks.

use std::io::IsTerminal;

use crate::error::{Error, Result};

/// Whether questions can be asked: stdin and stderr are both terminals.
pub fn is_terminal() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

fn broken(e: dialoguer::Error) -> Error {
    Error::failed(format!("cannot read the answer from the terminal: {e}"))
}

/// A menu; `None` when the user pressed Esc or q (the handoff is then cancelled).
pub fn select(prompt: &str, items: &[String], default: usize) -> Result<Option<usize>> {
    dialoguer::Select::new().with_prompt(prompt).items(items).default(default).interact_opt().map_err(broken)
}

/// A line of text, asked again until `check` accepts it.
pub fn input(prompt: &str, mut check: impl FnMut(&str) -> std::result::Result<(), String>) -> Result<String> {
    dialoguer::Input::<String>::new()
        .with_prompt(prompt)
        .validate_with(|s: &String| check(s.trim()))
        .interact_text()
        .map(|s| s.trim().to_string())
        .map_err(broken)
}
