use std::process::ExitCode;

fn main() -> ExitCode {
    let config = rnetstat::cli::config_from_env();
    match rnetstat::run(&config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rnetstat: {e}");
            ExitCode::FAILURE
        }
    }
}
