use std::process::ExitCode;

use rnetstat::error::Error;

fn main() -> ExitCode {
    match rnetstat::cli::config_from_env().and_then(|config| rnetstat::run(&config)) {
        Ok(()) => ExitCode::SUCCESS,
        // Help, version and clap's own usage errors: clap prints them, in colour where it may.
        Err(Error::Flags(e)) => e.exit(),
        Err(e) => {
            if !e.is_broken_pipe() {
                eprintln!("rnetstat: {e}");
            }
            ExitCode::from(e.exit_code())
        }
    }
}
