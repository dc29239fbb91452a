//! `kiosk-central`: runs the reference central platform (see `cli.rs`).

fn main() -> std::process::ExitCode {
    balcao_central::cli::main()
}
