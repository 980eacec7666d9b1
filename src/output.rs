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
