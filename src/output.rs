//! Where text goes: human messages on stderr (colour only on a terminal, never with
//! `NO_COLOR`), the one useful value or a JSON document on stdout.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicI8, Ordering};

static VERBOSITY: AtomicI8 = AtomicI8::new(0);

/// -1 quiet, 0 normal, 1+ verbose.
pub fn set_verbosity(v: i8) {
    VERBOSITY.store(v, Ordering::Relaxed);
}

pub fn verbosity() -> i8 {
    VERBOSITY.load(Ordering::Relaxed)
}

/// Whether the table on stdout may use colour and symbols: stdout is a terminal, `NO_COLOR`
/// is unset or empty and `TERM` is not `dumb`.
pub fn stdout_styled() -> bool {
    std::env::var_os("NO_COLOR").map_or(true, |v| v.is_empty())
        && std::env::var_os("TERM").map_or(true, |t| t != "dumb")
        && std::io::stdout().is_terminal()
}

/// Columns of the terminal on stdout (`COLUMNS` when it is set), `None` when stdout is not a
/// terminal and `COLUMNS` is unset.
pub fn terminal_width() -> Option<usize> {
    if let Some(n) = std::env::var("COLUMNS").ok().and_then(|c| c.trim().parse::<usize>().ok()).filter(|n| *n > 0) {
        return Some(n);
    }
    if !std::io::stdout().is_terminal() {
        return None;
    }
    let mut ws = libc::winsize { ws_row: 0, ws_col: 0, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCGWINSZ fills the winsize we pass; fd 1 is open (it is our stdout).
    let rc = unsafe { libc::ioctl(1, libc::TIOCGWINSZ, &mut ws) };
    (rc == 0 && ws.ws_col > 0).then_some(ws.ws_col as usize)
}

/// `text` in SGR colour `code` when `on`.
pub fn paint_if(on: bool, code: &str, text: &str) -> String {
    if on && !code.is_empty() {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

fn colour() -> bool {
    std::env::var_os("NO_COLOR").map_or(true, |v| v.is_empty()) && std::io::stderr().is_terminal()
}

fn paint(code: &str, text: &str) -> String {
    if colour() {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// A normal progress/status line on stderr (hidden by `-q`).
pub fn info(msg: impl AsRef<str>) {
    if verbosity() >= 0 {
        let _ = writeln!(std::io::stderr(), "{}", msg.as_ref());
    }
}

/// Detail shown with `-v`.
pub fn debug(msg: impl AsRef<str>) {
    if verbosity() > 0 {
        let _ = writeln!(std::io::stderr(), "{}", paint("2", msg.as_ref()));
    }
}

/// A warning; shown even with `-q`.
pub fn warn(msg: impl AsRef<str>) {
    let _ = writeln!(std::io::stderr(), "{} {}", paint("33", "warning:"), msg.as_ref());
}

pub fn error(err: &crate::error::Error) {
    let mut e = std::io::stderr().lock();
    let _ = writeln!(e, "{} {}", paint("31", "error:"), err.message);
    if let Some(h) = &err.hint {
        let _ = writeln!(e, "{} {h}", paint("33", "hint:"));
    }
}

/// The one useful value, on stdout.
pub fn value(v: impl AsRef<str>) {
    let _ = writeln!(std::io::stdout(), "{}", v.as_ref());
}

/// A command's `--json` document on stdout: `schema` first, then `value`'s fields.
pub fn document(schema: u32, value: &impl serde::Serialize) -> crate::error::Result<()> {
    let fields = serde_json::to_value(value).map_err(|e| crate::error::Error::failed(e.to_string()))?;
    let mut doc = serde_json::Map::new();
    doc.insert("schema".into(), schema.into());
    if let serde_json::Value::Object(map) = fields {
        doc.extend(map);
    }
    json(&serde_json::Value::Object(doc));
    Ok(())
}

/// One JSON document on stdout.
pub fn json(v: &serde_json::Value) {
    let text = serde_json::to_string_pretty(v).unwrap_or_else(|_| "null".into());
    let _ = writeln!(std::io::stdout(), "{text}");
}
