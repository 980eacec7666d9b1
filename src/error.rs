//! The error every command returns: one `error:` line, an optional `hint:` line, an exit code.
//!
//! Domain modules keep their own error enums; they convert into [`Error`] at the command edge.

use std::fmt;

/// Exit code for a refused or failed operation.
pub const EXIT_FAILED: i32 = 1;
/// Exit code for a usage error (bad arguments or input), as clap uses.
pub const EXIT_USAGE: i32 = 2;

#[derive(Debug)]
pub struct Error {
    pub code: i32,
    pub message: String,
    pub hint: Option<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn failed(message: impl Into<String>) -> Self {
        Error { code: EXIT_FAILED, message: message.into(), hint: None }
    }
    pub fn usage(message: impl Into<String>) -> Self {
        Error { code: EXIT_USAGE, message: message.into(), hint: None }
    }
    pub fn with_code(mut self, code: i32) -> Self {
        self.code = code;
        self
    }
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::failed(e.to_string())
    }
}

impl From<crate::task::names::TaskIdError> for Error {
    fn from(e: crate::task::names::TaskIdError) -> Self {
        Error::usage(e.to_string()).hint("task ids look like DEV-1234: letters, digits, '-', '_', '.', '/', ':'")
    }
}

impl From<crate::task::names::UnknownCategory> for Error {
    fn from(e: crate::task::names::UnknownCategory) -> Self {
        Error::usage(e.to_string())
            .hint(format!("categories: {}", crate::task::names::Category::ALL.map(|c| c.name()).join(", ")))
    }
}

/// What every command says outside a git repository (`task start` as a warning: it runs there).
pub fn not_a_repository(dir: &std::path::Path) -> Error {
    Error::failed(format!("not a git repository (or any parent folder): {}", dir.display()))
        .hint("run this inside a git repository, or use `git -C <repo> okstra …`")
}

/// The folder this process runs in. A folder removed under the caller's shell (a task
/// worktree released with `--remove` from inside it) is named, with the way out.
pub fn current_dir() -> Result<std::path::PathBuf> {
    std::env::current_dir().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            let pwd = std::env::var("PWD").unwrap_or_default();
            let named = if pwd.is_empty() { String::new() } else { format!(" ({pwd})") };
            Error::failed(format!(
                "the current folder{named} no longer exists; was it a task worktree released with --remove?"
            ))
            .hint("`cd` to the repository's main worktree and run the command again")
        }
        _ => Error::failed(format!("cannot read the current folder: {e}")),
    })
}

/// Attach a path to an io error: `reading /x/y: permission denied`.
pub fn io_at(what: &str, path: &std::path::Path, e: std::io::Error) -> Error {
    Error::failed(format!("{what} {}: {e}", path.display()))
}
