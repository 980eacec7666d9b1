use clap::Parser;

fn main() {
    let cli = git_okstra::cli::Cli::parse();
    let code = match git_okstra::commands::run(cli) {
        Ok(code) => code,
        Err(err) => {
            git_okstra::output::error(&err);
            err.code
        }
    };
    std::process::exit(code);
}
