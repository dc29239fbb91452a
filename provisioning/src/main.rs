//! `kiosk-provision`: the technician's command-line tool.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(version, about = "Set up a Balcão kiosk")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Checks a kiosk configuration file exactly as the kiosk reads it.
    CheckConfig { file: PathBuf },
    /// Prints the documented configuration with every key at its default, to start from.
    PrintConfig,
    /// Lists the USB devices on the bus, each with the `usb = "…"` value that selects it.
    UsbDevices,
    /// Lists the PC/SC card readers pcscd sees (for `devices.identity_reader.reader`).
    CardReaders,
    /// Checks the link to the ZVT payment terminal a configuration file names: registration,
    /// status (with a diagnosis if the terminal asks) and open reservations. Moves no money.
    PaymentTerminal { file: PathBuf },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut out = std::io::stdout().lock();
    let result = match cli.command {
        Command::CheckConfig { file } => {
            balcao_provisioning::check_config(&file).map(|summary| writeln!(out, "{summary}")).map_err(anyhow::Error::from)
        }
        Command::PrintConfig => Ok(write!(out, "{}", balcao_provisioning::EXAMPLE_CONFIG)),
        Command::UsbDevices => balcao_drivers::usb::list()
            .map(|seen| writeln!(out, "{}", balcao_provisioning::usb_devices(&seen).trim_end()))
            .map_err(|e| anyhow::anyhow!("cannot list the USB devices: {e}: is libusb installed and /dev/bus/usb there?")),
        Command::PaymentTerminal { file } => match balcao_provisioning::check_payment_terminal(&file) {
            Ok(check) if check.ready() => Ok(writeln!(out, "{check}")),
            Ok(check) => Err(anyhow::anyhow!("{check}")),
            Err(e) => Err(anyhow::Error::from(e)),
        },
        Command::CardReaders => balcao_drivers::identity_reader::pcsc::reader_names()
            .map(|names| {
                if names.is_empty() {
                    writeln!(out, "pcscd sees no card readers: check the reader's cable and its driver")
                } else {
                    names.iter().try_for_each(|name| writeln!(out, "{name}"))
                }
            })
            .map_err(|e| anyhow::anyhow!("cannot list the card readers: {e}")),
    };
    match result {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("kiosk-provision: cannot write the output: {e}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("kiosk-provision: {e}");
            ExitCode::from(2)
        }
    }
}
