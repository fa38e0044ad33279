//! The `pentimento` binary: the window, or a command-line tool when given a subcommand.

fn main() -> std::process::ExitCode {
    pentimento::cli::main()
}
