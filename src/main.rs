use clap::Parser;

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let result = match git_okstra::commands::hook::fast_path(&args) {
        Some(result) => result,
        None => git_okstra::commands::run(git_okstra::cli::Cli::parse_from(args)),
    };
    let code = match result {
        Ok(code) => code,
        Err(err) => {
            git_okstra::output::error(&err);
            err.code
        }
    };
    std::process::exit(code);
}
