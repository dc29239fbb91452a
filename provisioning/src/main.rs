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
    #[command(after_help = "Exit codes: 0 the kiosk would start with it; 2 it would not (the key and why are said).")]
    CheckConfig {
        file: PathBuf,
        /// Print the outcome as JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Prints the documented configuration with every key at its default, to start from (the
    /// file itself: redirect it to kiosk.toml).
    #[command(after_help = "Exit codes: 0 printed; 1 the output could not be written.")]
    PrintConfig,
    /// Lists the USB devices on the bus, each with the `usb = "…"` value that selects it.
    #[command(after_help = "Exit codes: 0 listed; 2 the bus cannot be listed (libusb, /dev/bus/usb).")]
    UsbDevices {
        /// Print the devices as JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Lists the PC/SC card readers pcscd sees (for `devices.identity_reader.reader`).
    #[command(after_help = "Exit codes: 0 listed (perhaps none); 2 pcscd cannot be asked.")]
    CardReaders {
        /// Print the readers as JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Checks the link to the ZVT payment terminal a configuration file names: registration,
    /// status (with a diagnosis if the terminal asks) and open reservations. Moves no money.
    #[command(
        after_help = "Exit codes: 0 the terminal takes payments (or is simulated); 2 the configuration does not check, or the terminal is not ready (what to check is said)."
    )]
    PaymentTerminal {
        file: PathBuf,
        /// Print the outcome as JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Enrolls this kiosk with central: makes its key here, trades the administrator's
    /// one-time token for its certificate, and writes its identity and configuration.
    #[command(after_help = balcao_provisioning::enroll::EXIT_CODES)]
    Enroll {
        /// Central's address, e.g. https://central.example.gov.mo:8443
        #[arg(long)]
        central: String,
        /// The one-time token the administrator gave (five groups of five characters).
        #[arg(long)]
        token: String,
        /// The SHA-256 fingerprint of central's CA, as the administrator gave it; without it
        /// (and without --ca-file) the fingerprint is shown for you to confirm.
        #[arg(long)]
        ca_fingerprint: Option<String>,
        /// Central's CA as a file the administrator gave, instead of fetching it from central.
        #[arg(long)]
        ca_file: Option<PathBuf>,
        /// The kiosk's configuration file (made if missing, else updated).
        #[arg(long, default_value = "/etc/balcao/kiosk.toml")]
        config: PathBuf,
        /// Where the kiosk's key and certificate go (default: identity.pem in the data folder).
        #[arg(long)]
        identity_file: Option<PathBuf>,
        /// Print the outcome as JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Lists what this kiosk can see — serial ports, USB devices, card readers, CUPS's
    /// printers — each with the configuration value that selects it, and with --config whether
    /// each device the configuration names can be opened (run it as the kiosk's user), with the
    /// fix when it cannot.
    #[command(
        after_help = "Exit codes: 0 listed (and every configured device opens); 2 the configuration does not check; 4 a device the configuration names is missing or may not be opened."
    )]
    Devices {
        /// The kiosk's configuration file, whose devices are checked.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Print what was found as JSON, for scripts.
        #[arg(long)]
        json: bool,
        /// Seconds to listen for IPP printers announced on the network (0: do not ask).
        #[arg(long, default_value_t = 3, value_name = "SECONDS")]
        mdns_wait: u16,
    },
    /// Writes the kiosk's configuration: each --set KEY=VALUE, or by asking (--interactive:
    /// the kiosk, its centre, language, timeout, and serial devices chosen from those found).
    /// The result is checked exactly as the kiosk reads it before the file is replaced.
    #[command(
        after_help = "Exit codes: 0 written (or nothing to change); 2 a value or key the kiosk would refuse (nothing written); 6 the file could not be read or written."
    )]
    Configure {
        /// The kiosk's configuration file (made if missing).
        #[arg(long, default_value = "/etc/balcao/kiosk.toml")]
        config: PathBuf,
        /// A value to set, e.g. --set devices.receipt_printer.serial=/dev/ttyUSB0 (repeat).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Ask for the main values on the terminal (an empty answer keeps the current one).
        #[arg(long)]
        interactive: bool,
        /// With --interactive: seconds to listen for A4 printers announced on the network.
        #[arg(long, default_value_t = 2, value_name = "SECONDS")]
        mdns_wait: u16,
        /// Print the outcome as JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Says whether this kiosk is ready to serve: its configuration, disk, database and
    /// outbox, central over mutual TLS (certificate, clock), each device as the running kiosk
    /// sees it and as it tests it (a test receipt whose code the scanner must read, an A4 test
    /// page, a card laid on the reader, the terminal's diagnosis, moving no money), the fonts
    /// and the screen; each failure with what to do. The report is kept in the kiosk's data
    /// folder as diagnose-report.json, sent to central for the kiosk's console page, and printed
    /// on the receipt printer with --print.
    #[command(after_help = "Exit codes: 0 ready (warnings aside); 2 the configuration does not check; 4 not ready (a check failed).")]
    Diagnose {
        /// The kiosk's configuration file.
        #[arg(long, default_value = "/etc/balcao/kiosk.toml")]
        config: PathBuf,
        /// Print the report as JSON, for scripts (and to keep).
        #[arg(long)]
        json: bool,
        /// Only look: no test receipt, no test page, no terminal diagnosis.
        #[arg(long)]
        no_device_tests: bool,
        /// Seconds to wait for the test receipt's code under the scanner (0: not tested).
        #[arg(long, default_value_t = 60, value_name = "SECONDS")]
        scan_wait: u16,
        /// Seconds to wait for an identity card laid on the reader (0: not tested).
        #[arg(long, default_value_t = 30, value_name = "SECONDS")]
        card_wait: u16,
        /// Keep the report on this kiosk only: do not send it to central.
        #[arg(long)]
        no_send: bool,
        /// Also print the report on the kiosk's receipt printer.
        #[arg(long)]
        print: bool,
    },
    /// Makes a simulated device of a demo or training kiosk act, to show a failure on its
    /// screen: paper-out, paper-back, cover-open, cover-closed, card-on, card-off,
    /// reader-unplugged, reader-back, terminal-declines, terminal-silent, terminal-offline,
    /// terminal-back, a4-out-of-paper, a4-back, scan CODE.
    #[command(
        after_help = "Exit codes: 0 done; 3 the kiosk's training controls do not answer; 4 refused (unknown action, or the device is real)."
    )]
    Simulate {
        /// What the device does (see above).
        action: String,
        /// The code the scanner reads, for `scan`.
        code: Option<String>,
        /// Where the kiosk's training controls listen (its devices.training_listen).
        #[arg(long, default_value = "127.0.0.1:9465")]
        kiosk: String,
        /// Print the outcome as JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Takes the kiosk out of service for good: central retires it and revokes its
    /// certificates, then the sealing key, the kiosk's key and its data are destroyed. The
    /// kiosk must be stopped first.
    #[command(after_help = balcao_provisioning::decommission::EXIT_CODES)]
    Decommission {
        /// The kiosk's configuration file.
        #[arg(long, default_value = "/etc/balcao/kiosk.toml")]
        config: PathBuf,
        /// Go on although central has not acknowledged every record (they go to --export).
        #[arg(long, requires = "export")]
        force: bool,
        /// Where the records central has not acknowledged are written (to hand in).
        #[arg(long)]
        export: Option<PathBuf>,
        /// Go on without telling central (it is unreachable): the administrator revokes it.
        #[arg(long)]
        offline: bool,
        /// Print the outcome as JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
}

/// Asks the technician at the terminal whether central's CA is the one the administrator
/// named; never asked when input is not a terminal (a script gives --ca-fingerprint).
fn confirm_fingerprint(print: &str) -> bool {
    use std::io::{BufRead as _, IsTerminal as _};
    if !std::io::stdin().is_terminal() {
        return false;
    }
    eprintln!("central's CA has the SHA-256 fingerprint\n  {print}");
    eprint!("is this the fingerprint the administrator gave you? [y/N] ");
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).is_ok() && matches!(answer.trim(), "y" | "Y" | "yes")
}

/// Runs one of the commands that talk to central, and reports what came of it: as text (the
/// outcome on standard output, a failure on standard error) or as JSON, with the failure's own
/// exit code.
fn run_async<T, E, F>(what: &str, work: F, exit_code: impl Fn(&E) -> u8, json: bool) -> ExitCode
where
    T: serde::Serialize + std::fmt::Display,
    E: std::fmt::Display,
    F: std::future::Future<Output = Result<T, E>>,
{
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("kiosk-provision: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(work);
    let printed = match (&result, json) {
        (Ok(done), true) => serde_json::to_string(&serde_json::json!({ what: done })),
        (Err(e), true) => serde_json::to_string(&serde_json::json!({ "error": e.to_string(), "exit_code": exit_code(e) })),
        (Ok(done), false) => Ok(done.to_string()),
        (Err(e), false) => {
            eprintln!("kiosk-provision: {e}");
            Ok(String::new())
        }
    };
    let written = printed.map_err(std::io::Error::from).and_then(|text| match text.is_empty() {
        true => Ok(()),
        false => writeln!(std::io::stdout().lock(), "{text}"),
    });
    if let Err(e) = written {
        eprintln!("kiosk-provision: cannot write the output: {e}");
    }
    result.map_or_else(|e| ExitCode::from(exit_code(&e)), |_| ExitCode::SUCCESS)
}

/// A command that could not do its work: for a script, the error as JSON on standard output;
/// for a person, on standard error. Exit code 2 either way.
fn failed(out: &mut impl Write, json: bool, error: String) -> Result<anyhow::Result<std::io::Result<()>>, ExitCode> {
    if json {
        return Err(print_json(out, &serde_json::json!({ "error": error, "exit_code": 2 }), 2));
    }
    Ok(Err(anyhow::anyhow!(error)))
}

/// Writes `value` as one line of JSON and exits with `code`. A failure the JSON describes is
/// still an exit code: scripts read either.
fn print_json(out: &mut impl Write, value: &serde_json::Value, code: u8) -> ExitCode {
    match writeln!(out, "{value}") {
        Ok(()) => ExitCode::from(code),
        Err(e) => {
            eprintln!("kiosk-provision: cannot write the output: {e}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut out = std::io::stdout().lock();
    let result = match cli.command {
        Command::CheckConfig { file, json: true } => {
            let (outcome, code) = match balcao_kiosk::config::KioskConfig::load(&file) {
                Ok(config) => (
                    serde_json::json!({ "valid": true, "file": file, "kiosk_id": config.kiosk.id, "centre_id": config.kiosk.centre_id,
                        "central": config.central.url, "data_dir": config.store.data_dir }),
                    0,
                ),
                Err(e) => (serde_json::json!({ "valid": false, "file": file, "error": e.to_string(), "exit_code": 2 }), 2),
            };
            return print_json(&mut out, &outcome, code);
        }
        Command::CheckConfig { file, json: false } => {
            balcao_provisioning::check_config(&file).map(|summary| writeln!(out, "{summary}")).map_err(anyhow::Error::from)
        }
        Command::PrintConfig => Ok(write!(out, "{}", balcao_provisioning::EXAMPLE_CONFIG)),
        Command::UsbDevices { json } => match (balcao_drivers::usb::list(), json) {
            (Ok(seen), true) => {
                let devices: Vec<_> = seen.iter().map(balcao_provisioning::usb_device_json).collect();
                return print_json(&mut out, &serde_json::json!({ "usb_devices": devices }), 0);
            }
            (Ok(seen), false) => Ok(writeln!(out, "{}", balcao_provisioning::usb_devices(&seen).trim_end())),
            (Err(e), json) => {
                match failed(&mut out, json, format!("cannot list the USB devices: {e}: is libusb installed and /dev/bus/usb there?")) {
                    Ok(result) => result,
                    Err(code) => return code,
                }
            }
        },
        Command::PaymentTerminal { file, json } => match (balcao_provisioning::check_payment_terminal(&file), json) {
            (Ok(check), true) => {
                let code = if check.ready() { 0 } else { 2 };
                return print_json(&mut out, &check.to_json(), code);
            }
            (Ok(check), false) if check.ready() => Ok(writeln!(out, "{check}")),
            (Ok(check), false) => Err(anyhow::anyhow!("{check}")),
            (Err(e), json) => match failed(&mut out, json, e.to_string()) {
                Ok(result) => result,
                Err(code) => return code,
            },
        },
        Command::CardReaders { json } => match (balcao_drivers::identity_reader::pcsc::reader_names(), json) {
            (Ok(names), true) => return print_json(&mut out, &serde_json::json!({ "card_readers": names }), 0),
            (Ok(names), false) => Ok(if names.is_empty() {
                writeln!(out, "pcscd sees no card readers: check the reader's cable and its driver")
            } else {
                names.iter().try_for_each(|name| writeln!(out, "{name}"))
            }),
            (Err(e), json) => {
                match failed(&mut out, json, format!("cannot list the card readers: {e} (is pcscd installed and running?)")) {
                    Ok(result) => result,
                    Err(code) => return code,
                }
            }
        },
        Command::Enroll { central, token, ca_fingerprint, ca_file, config, identity_file, json } => {
            use balcao_provisioning::enroll::{EnrollError, EnrollOptions, enroll};
            let options = EnrollOptions { central, token, ca_fingerprint, ca_file, config, identity_file };
            if !json {
                eprintln!("enrolling with {} …", options.central);
            }
            return run_async("enrolled", enroll(&options, &mut confirm_fingerprint), EnrollError::exit_code, json);
        }
        Command::Devices { config, json, mdns_wait } => {
            let config = match config.map(|file| balcao_kiosk::config::KioskConfig::load(&file)).transpose() {
                Ok(config) => config,
                Err(e) => {
                    eprintln!("kiosk-provision: {e}");
                    return ExitCode::from(2);
                }
            };
            let found = {
                let progress = indicatif::ProgressBar::new_spinner().with_message("looking for devices and printers on the network");
                progress.enable_steady_tick(std::time::Duration::from_millis(120));
                let found = balcao_provisioning::devices::look(config.as_ref(), std::time::Duration::from_secs(mdns_wait.into()));
                progress.finish_and_clear();
                found
            };
            let text = match json {
                true => serde_json::to_string(&found).map_err(std::io::Error::from),
                false => Ok(found.to_string().trim_end().to_string()),
            };
            if let Err(e) = text.and_then(|text| writeln!(out, "{text}")) {
                eprintln!("kiosk-provision: cannot write the output: {e}");
                return ExitCode::FAILURE;
            }
            return if found.configured_ok() { ExitCode::SUCCESS } else { ExitCode::from(4) };
        }
        Command::Configure { config, set, interactive, mdns_wait, json } => {
            use balcao_provisioning::configure::{ConfigureError, configure};
            let mut changes = Vec::new();
            for pair in &set {
                match pair.split_once('=') {
                    Some((key, value)) => changes.push((key.trim().to_string(), value.trim().to_string())),
                    None => {
                        eprintln!("kiosk-provision: --set {pair:?}: write KEY=VALUE");
                        return ExitCode::from(2);
                    }
                }
            }
            if interactive {
                let ports: Vec<String> =
                    balcao_provisioning::devices::serial_ports().into_iter().map(|p| p.stable_path.unwrap_or(p.path)).collect();
                // The printers CUPS serves and those announced on the network, for the A4 question.
                let mut printers = balcao_provisioning::devices::cups_queues();
                if mdns_wait > 0 {
                    let announced = balcao_provisioning::devices::network_printers(
                        std::time::Duration::from_secs(mdns_wait.into()),
                        balcao_provisioning::devices::Interfaces::All,
                    );
                    printers.extend(announced.unwrap_or_default().into_iter().map(|p| p.uri));
                }
                let readers = balcao_drivers::identity_reader::pcsc::reader_names().unwrap_or_default();
                match balcao_provisioning::configure::ask(&mut std::io::stdin().lock(), &mut std::io::stderr(), &ports, &printers, &readers)
                {
                    Ok(asked) => changes.extend(asked),
                    Err(e) => {
                        eprintln!("kiosk-provision: cannot ask: {e}");
                        return ExitCode::from(6);
                    }
                }
            }
            return run_async("configured", async { configure(&config, &changes) }, ConfigureError::exit_code, json);
        }
        Command::Diagnose { config, json, no_device_tests, scan_wait, card_wait, no_send, print } => {
            let options = balcao_provisioning::diagnose::Options {
                device_tests: !no_device_tests,
                card_wait_secs: card_wait,
                scan_wait_secs: scan_wait,
                send: !no_send,
                print,
            };
            if options.device_tests && (scan_wait > 0 || card_wait > 0) {
                eprintln!(
                    "diagnose: the kiosk prints a test receipt and an A4 test page; hold the receipt's code under the scanner (within {scan_wait} s) and lay an identity card on the reader (within {card_wait} s)"
                );
            }
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => runtime,
                Err(e) => {
                    eprintln!("kiosk-provision: cannot start: {e}");
                    return ExitCode::FAILURE;
                }
            };
            // A spinner while the checks run, on a terminal only (indicatif hides it otherwise).
            let progress = indicatif::ProgressBar::new_spinner().with_message("checking the kiosk (the device tests may take a minute)");
            progress.enable_steady_tick(std::time::Duration::from_millis(120));
            let diagnosed = runtime.block_on(balcao_provisioning::diagnose::diagnose(&config, &options));
            progress.finish_and_clear();
            let report = match diagnosed {
                Ok(report) => report,
                Err(e) => {
                    eprintln!("kiosk-provision: {e}");
                    return ExitCode::from(2);
                }
            };
            let text = match json {
                true => serde_json::to_string(&report).map_err(std::io::Error::from),
                // Coloured on a terminal, plain when piped or when NO_COLOR is set.
                false if std::io::IsTerminal::is_terminal(&std::io::stdout()) && std::env::var_os("NO_COLOR").is_none() => {
                    Ok(format!("{report:#}").trim_end().to_string())
                }
                false => Ok(report.to_string().trim_end().to_string()),
            };
            if let Err(e) = text.and_then(|text| writeln!(out, "{text}")) {
                eprintln!("kiosk-provision: cannot write the output: {e}");
                return ExitCode::FAILURE;
            }
            return if report.ready { ExitCode::SUCCESS } else { ExitCode::from(4) };
        }
        Command::Simulate { action, code, kiosk, json } => {
            use balcao_provisioning::simulate::{SimulateError, simulate};
            return run_async("simulated", simulate(&kiosk, &action, code.as_deref()), SimulateError::exit_code, json);
        }
        Command::Decommission { config, force, export, offline, json } => {
            use balcao_provisioning::decommission::{DecommissionError, DecommissionOptions, decommission};
            let options = DecommissionOptions { config, force, export, offline };
            return run_async("decommissioned", decommission(&options), DecommissionError::exit_code, json);
        }
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
