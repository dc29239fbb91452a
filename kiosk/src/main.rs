//! `kiosk`: the Balcão kiosk program. Without a configuration file it runs the demo.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use balcao_kiosk::config::KioskConfig;
use balcao_kiosk::runtime;
use balcao_kiosk::session::Session;
use balcao_kiosk::{launch, runtime::KioskSettings};
use balcao_ui::KioskUi;
use balcao_ui::view::{OutOfService, Screen, View};
use clap::Parser;
use slint::ComponentHandle;

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Balcão self-service kiosk. Without --config it runs the demo: a reference central on loopback and simulated devices."
)]
struct Cli {
    /// Configuration file (see kiosk/kiosk.example.toml).
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Run the demo even with a configuration file (its central and devices are replaced).
    #[arg(long)]
    demo: bool,
    /// The demo's data folder (default: a new folder in the system's temporary directory).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// UI scale, overriding display.scale (0.5 fits the portrait screen on a desktop monitor).
    #[arg(long)]
    scale: Option<f32>,
    /// A window instead of full screen.
    #[arg(long)]
    windowed: bool,
}

fn demo_dir() -> anyhow::Result<PathBuf> {
    let dir = tempfile::Builder::new().prefix("balcao-demo-").tempdir().context("creating the demo folder")?;
    // Kept after exit, so the receipts can still be opened.
    Ok(dir.keep())
}

fn init_logging(config: &KioskConfig) {
    let filter =
        // RUST_LOG only when it is ASCII: tracing-subscriber panics on some filters that are not.
        match std::env::var(tracing_subscriber::EnvFilter::DEFAULT_ENV) {
            Ok(filter) if filter.is_ascii() => tracing_subscriber::EnvFilter::try_new(filter).ok(),
            _ => None,
        }
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new(&config.logging.level));
    // Colours only for a person at a terminal: a log file or the journal gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    // Beside the journal, the recent lines in memory, for staff who ask for them.
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let kept = balcao_kiosk::runtime::logs::layer();
    if config.logging.json {
        builder.json().finish().with(kept).init();
    } else {
        builder.finish().with(kept).init();
    }
}

/// Closes the window from any thread: the event loop returns and the process ends.
fn quit_window() {
    let _ = slint::invoke_from_event_loop(|| {
        let _ = slint::quit_event_loop();
    });
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kiosk: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let demo = cli.demo || cli.config.is_none();
    let mut config = match &cli.config {
        Some(path) => KioskConfig::load(path)?,
        None => {
            let mut demo =
                KioskConfig { display: balcao_kiosk::config::DisplaySection { fullscreen: false, scale: 0.5 }, ..KioskConfig::default() };
            // A trainer can show every failure on the demo (`kiosk-provision simulate`).
            demo.devices.training_listen = "127.0.0.1:9465".into();
            demo
        }
    };
    if let Some(scale) = cli.scale {
        config.display.scale = scale;
    }
    if cli.windowed {
        config.display.fullscreen = false;
    }
    if (config.display.scale - 1.0).abs() > f32::EPSILON {
        #[allow(unsafe_code)]
        // SAFETY: no other thread exists yet, so nothing reads the environment concurrently.
        // Slint's window backend takes its scale factor only from this variable.
        unsafe {
            std::env::set_var("SLINT_SCALE_FACTOR", config.display.scale.to_string());
        }
    }
    init_logging(&config);

    // The window and its first frame come before everything slow (store, central, devices).
    let ui = KioskUi::new().context("creating the window")?;
    let settings = KioskSettings::from_config(&config);
    ui.show(&Session::new(settings.session, Instant::now()).view());
    ui.window().window().set_fullscreen(config.display.fullscreen);
    let (view, channel) = runtime::connect_ui(&ui);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let data_dir = match (&cli.data_dir, demo) {
        (Some(dir), _) => dir.clone(),
        (None, true) => demo_dir()?,
        (None, false) => config.store.data_dir.clone(),
    };
    let fallback = view.clone();
    let core = std::thread::Builder::new().name("kiosk-core".into()).spawn(move || -> anyhow::Result<bool> {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        runtime.block_on(async move {
            // SIGTERM (`systemctl stop`, a supervisor) and SIGINT end the kiosk as closing its
            // window does: the core stops, its simulators and their helpers with it.
            use tokio::signal::unix::{SignalKind, signal};
            let (mut terminate, mut interrupt) = (signal(SignalKind::terminate())?, signal(SignalKind::interrupt())?);
            #[cfg(feature = "demo")]
            let launched = if demo { launch::demo(&config, &data_dir).await } else { launch::from_config(&config) };
            #[cfg(not(feature = "demo"))]
            let launched = if demo {
                let _ = data_dir;
                Err(anyhow::anyhow!("this kiosk was built without the demo: give it --config FILE"))
            } else {
                launch::from_config(&config)
            };
            let launch = match launched {
                Ok(launch) => launch,
                Err(e) => {
                    // Citizens see the kiosk is out of service, not a welcome screen that
                    // leads nowhere; the technician reads why in the log.
                    tracing::error!(error = format!("{e:#}"), "the kiosk cannot start");
                    fallback.show(View { screen: Screen::OutOfService, out_of_service: OutOfService::Maintenance, ..View::default() });
                    tokio::select! {
                        _ = stopped => {}
                        _ = terminate.recv() => quit_window(),
                        _ = interrupt.recv() => quit_window(),
                    }
                    return Err(e);
                }
            };
            // A trainer's controls for the simulated devices, when the configuration asks.
            let (training_stop, training_stopped) = tokio::sync::watch::channel(false);
            if let Ok(address) = config.devices.training_listen.parse() {
                tokio::spawn(runtime::training::serve(launch.simulators.clone(), address, training_stopped));
            }
            let handle = runtime::start(launch.settings, view, launch.devices, launch.client, channel).await;
            let mut stopped = stopped;
            let mut restart = false;
            let failed = tokio::select! {
                _ = &mut stopped => None,
                _ = terminate.recv() => {
                    tracing::info!("asked to stop (SIGTERM)");
                    quit_window();
                    None
                }
                _ = interrupt.recv() => {
                    tracing::info!("asked to stop (SIGINT)");
                    quit_window();
                    None
                }
                reason = handle.failed() => Some(reason),
                () = handle.restart_requested() => {
                    restart = true;
                    quit_window();
                    None
                }
            };
            handle.stop().await;
            let _ = training_stop.send(true);
            #[cfg(feature = "demo")]
            if let Some(central) = launch.central {
                central.stop().await?;
            }
            match failed {
                None => Ok(restart),
                Some(reason) => {
                    // Close the window so the process exits and its supervisor restarts it;
                    // the next start checks the database before serving anyone.
                    quit_window();
                    Err(anyhow::anyhow!("the kiosk's store failed under a write ({reason}); exiting to be restarted"))
                }
            }
        })
    })?;

    let shown = ui.window().run();
    let _ = stop.send(());
    let restart = core.join().map_err(|_| anyhow::anyhow!("the kiosk core panicked"))?;
    shown.context("running the window")?;
    if restart? {
        // The same program with the same arguments, in this process: a restart with or without
        // a supervisor. `exec` returns only if it failed.
        use std::os::unix::process::CommandExt;
        let program = std::env::current_exe().context("finding the kiosk's program to restart it")?;
        let failed = std::process::Command::new(&program).args(std::env::args_os().skip(1)).exec();
        return Err(anyhow::Error::new(failed).context(format!("restarting {}", program.display())));
    }
    Ok(())
}
