//! `posada assistant understand`: the guest assistant's understanding of Spanish messages, as JSON
//! lines on standard input and output, so anyone can score it with their own corpus.
//!
//! It runs before settings, logging and the async runtime are set up (see [`super::main`]): the
//! understanding is pure, so the command works in an empty folder, with no database and even with a
//! broken `posada.toml`.

use std::io::{self, BufWriter};
use std::process::ExitCode;

use clap::Subcommand;

/// Guest assistant commands that need neither a database nor settings.
#[derive(Debug, Subcommand)]
pub enum AssistantCommand {
    /// Read JSON lines {"text": …, "ref_date": "YYYY-MM-DD"} on standard input and write one JSON
    /// line per input: intent, check_in, check_out, nights, guests, accommodation (or {"error"}).
    Understand,
}

/// Runs an assistant command: status 0, or 1 with one line on standard error when reading or
/// writing fails.
pub fn run(command: &AssistantCommand) -> ExitCode {
    match execute(command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: reading or writing JSON lines: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs an assistant command. A closed output (`… | head`) is not an error.
pub fn execute(command: &AssistantCommand) -> io::Result<()> {
    match command {
        AssistantCommand::Understand => {
            let input = io::stdin().lock();
            let output = BufWriter::new(io::stdout().lock());
            match posada_assistant::understand_json_lines(input, output) {
                Ok(_) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
                Err(e) => Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::AssistantCommand;
    use crate::cli::{Cli, Command};

    #[test]
    fn parses_assistant_understand() {
        let cli = Cli::try_parse_from(["posada", "assistant", "understand"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Assistant(AssistantCommand::Understand)
        ));
    }

    #[test]
    fn refuses_unknown_assistant_commands() {
        assert!(Cli::try_parse_from(["posada", "assistant", "reply"]).is_err());
        assert!(Cli::try_parse_from(["posada", "assistant"]).is_err());
    }
}
