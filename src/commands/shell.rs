//! Commands that connect git-okstra to the shell and to git's help: `completions`,
//! `shell-init`, and the hidden helpers `__complete` (called by the completion scripts)
//! and `__man` (writes the man pages).

use std::path::PathBuf;

use clap::{Args, CommandFactory, Subcommand};

use crate::cli::Cli;
use crate::completion::{self, Shell};
use crate::error::{io_at, Result};
use crate::{manpages, output, shell_init};

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to print the completion script for.
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(Debug, Args)]
pub struct ShellInitArgs {
    /// The shell to print the `okstra` function for.
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(Debug, Args)]
pub struct CompleteArgs {
    #[command(subcommand)]
    pub what: CompleteWhat,
}

#[derive(Debug, Subcommand)]
pub enum CompleteWhat {
    /// Task ids of this repository's active tasks.
    Tasks,
    /// Phase names.
    Phases,
    /// Candidates for the last of WORDS (the words after `okstra`).
    Words {
        #[arg(last = true, allow_hyphen_values = true)]
        words: Vec<String>,
    },
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// The folder to write `git-okstra*.1` into (created if missing).
    pub dir: PathBuf,
}

pub fn completions(a: CompletionsArgs) -> Result<i32> {
    print!("{}", completion::script(a.shell, Cli::command()));
    Ok(0)
}

pub fn shell_init(a: ShellInitArgs) -> Result<i32> {
    print!("{}", shell_init::script(a.shell));
    Ok(0)
}

pub fn complete(a: CompleteArgs) -> Result<i32> {
    let cwd = super::cwd()?;
    let list = match a.what {
        CompleteWhat::Tasks => completion::tasks(&cwd),
        CompleteWhat::Phases => completion::phases(),
        CompleteWhat::Words { mut words } => {
            if words.is_empty() {
                words.push(String::new());
            }
            completion::candidates(&Cli::command(), &words, &cwd)
        }
    };
    for c in list {
        output::value(c);
    }
    Ok(0)
}

pub fn man(a: ManArgs) -> Result<i32> {
    std::fs::create_dir_all(&a.dir).map_err(|e| io_at("cannot create", &a.dir, e))?;
    for page in manpages::pages(Cli::command()) {
        let path = a.dir.join(&page.file);
        std::fs::write(&path, &page.text).map_err(|e| io_at("cannot write", &path, e))?;
        output::info(format!("wrote {}", path.display()));
    }
    Ok(0)
}
