//! The `posada` binary.

use std::process::ExitCode;

fn main() -> ExitCode {
    posada_server::cli::main()
}
