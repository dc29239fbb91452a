//! `kiosk-central`'s command line: runs the reference central platform. In the library so
//! that tests can run central as a process of their own (their binary, started again) to
//! kill and restart it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::store::staff::Role;
use crate::tls::{DevPki, KioskIssuer, server_config};
use crate::{Central, CentralOptions, DatabaseLocation, KeyFiles, serve};
use anyhow::{Context, bail};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use utoipa::OpenApi;

#[derive(Parser, Debug)]
#[command(version, about = "The Balcão reference central platform")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// A settings file (TOML) with any of the options below, each under its flag's name
    /// (`database = "postgres://…"`, `database-pool = 16`…). A flag or its environment
    /// variable wins over the file.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8443")]
    listen: SocketAddr,
    /// The address citizens reach central's public pages at (`https://…`): what certificates'
    /// QR codes point to. Without it, `https://` and the listening address.
    #[arg(long)]
    public_url: Option<String>,
    /// The database: a SQLite file (created if missing, readable by its owner only), or a
    /// PostgreSQL URL, `postgres://user:password@host:port/database`, which several central
    /// instances may share.
    #[arg(long, default_value = "central.db", env = "BALCAO_CENTRAL_DATABASE")]
    database: String,
    /// Connections to PostgreSQL this instance keeps at most. The server's `max_connections`
    /// must exceed the sum over all instances.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1000))]
    database_pool: u32,
    /// Folder of central's keys, outside the database: `data.key` seals personal data,
    /// `identity-provider.keys` holds the reference identity provider's signing keys (a real
    /// deployment keeps those in an HSM). Made if missing; default: `<database>-keys` beside a
    /// SQLite file. Required with PostgreSQL: the same folder's contents on every instance.
    #[arg(long)]
    keys: Option<PathBuf>,
    /// Days a settled application's personal data is kept before it is purged.
    #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u64).range(1..=3650))]
    personal_data_days: u64,
    /// Server certificate chain (PEM).
    #[arg(long, requires = "tls_key", conflicts_with = "dev_pki")]
    tls_cert: Option<PathBuf>,
    /// Server private key (PEM).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The CA that signs kiosk certificates (PEM); kiosks connect with mutual TLS.
    #[arg(long, requires = "tls_cert")]
    kiosk_ca: Option<PathBuf>,
    /// The private key of the kiosk CA (PEM), with which central enrolls kiosks and renews
    /// their certificates; without it, central enrolls none.
    #[arg(long, requires = "kiosk_ca")]
    kiosk_ca_key: Option<PathBuf>,
    /// The CA that signed central's own certificate (PEM), handed to the technician's tool at
    /// enrollment for the kiosk to trust; without it, the technician brings it.
    #[arg(long, requires = "tls_cert")]
    tls_ca: Option<PathBuf>,
    /// Days the kiosk certificates central issues last (kiosks renew theirs with a third left).
    #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u32).range(1..=825))]
    kiosk_cert_days: u32,
    /// A file holding the bearer token a Prometheus scraper must show to read `/metrics`
    /// (at least 16 characters); without it, `/metrics` is not served.
    #[arg(long)]
    metrics_token_file: Option<PathBuf>,
    /// Open connections this instance serves at most (kept below the open-files limit). A
    /// kiosk holds one while it talks to central and for up to 10 s after.
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u32).range(16..=1_000_000))]
    max_connections: u32,
    /// Where alerts are POSTed besides the console (http or https), signed with the secret
    /// in `--alert-webhook-secret-file`.
    #[arg(long, requires = "alert_webhook_secret_file")]
    alert_webhook: Option<String>,
    /// A file holding the webhook's shared secret (at least 32 bytes).
    #[arg(long, requires = "alert_webhook")]
    alert_webhook_secret_file: Option<PathBuf>,
    /// Certificate authorities (PEM) the webhook's server may be signed by, besides the
    /// system's.
    #[arg(long, requires = "alert_webhook")]
    alert_webhook_ca: Option<PathBuf>,
    /// Folder for a development CA, server certificate for localhost and kiosk certificates
    /// (made if missing); kiosks must trust its `ca.pem`.
    #[arg(long)]
    dev_pki: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Prints the OpenAPI document generated from the code.
    Openapi,
    /// Issues a kiosk certificate from the development PKI (enrolment for development).
    IssueKioskCert {
        /// The development PKI folder (as `--dev-pki`).
        #[arg(long)]
        dev_pki: PathBuf,
        /// The kiosk's id, as in its configuration (`kiosk.id`).
        #[arg(long)]
        kiosk_id: String,
        /// The service centre the kiosk stands in (`kiosk.centre_id`): the kiosk may only read
        /// and write that centre's records.
        #[arg(long)]
        centre_id: String,
        /// Where to write the certificate and key (PEM), the kiosk's `central.identity_file`.
        #[arg(long)]
        out: PathBuf,
    },
    /// Makes a one-time enrollment token for a kiosk, shown once: the technician gives it to
    /// `kiosk-provision enroll` on the kiosk.
    EnrollmentToken {
        /// The kiosk's id, as its configuration will have it (`kiosk.id`).
        #[arg(long)]
        kiosk_id: String,
        /// The service centre it stands in (`kiosk.centre_id`).
        #[arg(long)]
        centre_id: String,
        /// Hours the token lasts (at most a week).
        #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u32).range(1..=168))]
        hours: u32,
    },
    /// Revokes every certificate of a kiosk issued up to now: central refuses it at once. The
    /// kiosk works again once enrolled again with a new token.
    RevokeKiosk {
        #[arg(long)]
        kiosk_id: String,
    },
    /// Adds a staff member to the console (the first administrator, say). The password is
    /// asked for on the terminal, or read as the first line of standard input.
    AddStaff {
        /// The name they log in with: letters, digits, '.', '_' or '-'.
        #[arg(long)]
        username: String,
        /// Their name as the console shows it.
        #[arg(long)]
        name: String,
        /// viewer: sees the fleet; operator: also sends commands; administrator: also manages
        /// staff and reads the audit log.
        #[arg(long, value_parser = ["viewer", "operator", "administrator"])]
        role: String,
        /// A centre they are limited to (repeat for several); none: every centre.
        #[arg(long = "centre")]
        centres: Vec<String>,
    },
}

/// Central's settings file: the command line's options, each under its flag's name.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ConfigFile {
    listen: Option<SocketAddr>,
    public_url: Option<String>,
    database: Option<String>,
    database_pool: Option<u32>,
    keys: Option<PathBuf>,
    personal_data_days: Option<u64>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    kiosk_ca: Option<PathBuf>,
    kiosk_ca_key: Option<PathBuf>,
    tls_ca: Option<PathBuf>,
    kiosk_cert_days: Option<u32>,
    dev_pki: Option<PathBuf>,
    metrics_token_file: Option<PathBuf>,
    max_connections: Option<u32>,
    alert_webhook: Option<String>,
    alert_webhook_secret_file: Option<PathBuf>,
    alert_webhook_ca: Option<PathBuf>,
}

impl ConfigFile {
    fn load(file: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        // toml's message names the key, the line and the column.
        toml::from_str(&text).with_context(|| format!("{} is not central's settings", file.display()))
    }

    /// Sets each option the command line (or the environment) left at its default.
    fn apply(self, cli: &mut Cli, matches: &clap::ArgMatches) -> anyhow::Result<()> {
        let unset = |id: &str| matches!(matches.value_source(id), None | Some(clap::parser::ValueSource::DefaultValue));
        let file = |key: &str| format!("{key} in the settings file");
        if let Some(pool) = self.database_pool {
            anyhow::ensure!((1..=1000).contains(&pool), "{} is {pool}: give 1 to 1000", file("database-pool"));
        }
        if let Some(max) = self.max_connections {
            anyhow::ensure!((16..=1_000_000).contains(&max), "{} is {max}: give 16 to 1000000", file("max-connections"));
        }
        if let Some(days) = self.kiosk_cert_days {
            anyhow::ensure!((1..=825).contains(&days), "{} is {days}: give 1 to 825", file("kiosk-cert-days"));
        }
        if let Some(days) = self.personal_data_days {
            anyhow::ensure!((1..=3650).contains(&days), "{} is {days}: give 1 to 3650", file("personal-data-days"));
        }
        macro_rules! take {
            ($($field:ident: $id:literal => $set:expr),* $(,)?) => {$(
                if let Some(value) = self.$field && unset($id) {
                    let set: fn(&mut Cli, _) = $set;
                    set(cli, value);
                }
            )*};
        }
        take! {
            listen: "listen" => |cli, v| cli.listen = v,
            public_url: "public_url" => |cli, v| cli.public_url = Some(v),
            database: "database" => |cli, v| cli.database = v,
            database_pool: "database_pool" => |cli, v| cli.database_pool = v,
            keys: "keys" => |cli, v| cli.keys = Some(v),
            personal_data_days: "personal_data_days" => |cli, v| cli.personal_data_days = v,
            tls_cert: "tls_cert" => |cli, v| cli.tls_cert = Some(v),
            tls_key: "tls_key" => |cli, v| cli.tls_key = Some(v),
            kiosk_ca: "kiosk_ca" => |cli, v| cli.kiosk_ca = Some(v),
            kiosk_ca_key: "kiosk_ca_key" => |cli, v| cli.kiosk_ca_key = Some(v),
            tls_ca: "tls_ca" => |cli, v| cli.tls_ca = Some(v),
            kiosk_cert_days: "kiosk_cert_days" => |cli, v| cli.kiosk_cert_days = v,
            dev_pki: "dev_pki" => |cli, v| cli.dev_pki = Some(v),
            metrics_token_file: "metrics_token_file" => |cli, v| cli.metrics_token_file = Some(v),
            max_connections: "max_connections" => |cli, v| cli.max_connections = v,
            alert_webhook: "alert_webhook" => |cli, v| cli.alert_webhook = Some(v),
            alert_webhook_secret_file: "alert_webhook_secret_file" => |cli, v| cli.alert_webhook_secret_file = Some(v),
            alert_webhook_ca: "alert_webhook_ca" => |cli, v| cli.alert_webhook_ca = Some(v),
        }
        Ok(())
    }
}

/// Central's options from the command line: the database, its keys, the pool.
fn central_options(cli: &Cli) -> anyhow::Result<CentralOptions> {
    let database = DatabaseLocation::parse(&cli.database);
    let keys = match (&database, &cli.keys) {
        (_, Some(folder)) => KeyFiles::in_folder(folder),
        (DatabaseLocation::Sqlite(file), None) => KeyFiles::beside(file),
        (DatabaseLocation::Postgres(_), None) => {
            bail!("with a PostgreSQL database, --keys names the folder of central's keys (the same keys on every instance)")
        }
    };
    let mut options = CentralOptions::on(database, keys);
    options.postgres.pool_size = cli.database_pool;
    options.personal_data_retention = std::time::Duration::from_secs(cli.personal_data_days * 24 * 3600);
    options.limits.max_connections = usize::try_from(cli.max_connections).unwrap_or(usize::MAX);
    options.kiosk_cert_lifetime = jiff::SignedDuration::from_hours(i64::from(cli.kiosk_cert_days) * 24);
    let public_url = cli.public_url.clone().unwrap_or_else(|| format!("https://{}", cli.listen));
    let parsed = url::Url::parse(&public_url).with_context(|| format!("--public-url {public_url} is not an address"))?;
    anyhow::ensure!(parsed.scheme() == "https", "--public-url {public_url}: citizens' phones reach central over https");
    options.public_url = Some(public_url.trim_end_matches('/').to_string());
    if let Some(file) = &cli.metrics_token_file {
        let token = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?.trim().to_string();
        anyhow::ensure!(token.len() >= 16, "{}: the metrics token needs at least 16 characters", file.display());
        options.metrics_token = Some(token);
    }
    if let Some(url) = &cli.alert_webhook {
        let secret_file = cli.alert_webhook_secret_file.as_ref().context("--alert-webhook needs --alert-webhook-secret-file")?;
        let secret = std::fs::read_to_string(secret_file).with_context(|| format!("reading {}", secret_file.display()))?;
        let ca = cli.alert_webhook_ca.as_ref().map(|f| std::fs::read(f).with_context(|| format!("reading {}", f.display()))).transpose()?;
        options.alert_webhook = Some(crate::alerts::Webhook::new(url, secret.trim().as_bytes(), ca.as_deref())?);
    }
    Ok(options)
}

/// The new staff member's password: asked for on the terminal without echo, or the first line
/// of standard input when it is not a terminal (a script).
fn read_password(username: &str) -> anyhow::Result<String> {
    let password = if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        rpassword::prompt_password(format!("Password for {username}: ")).context("reading the password")?
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).context("reading the password from standard input")?;
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    anyhow::ensure!(!password.is_empty(), "no password given");
    Ok(password)
}

/// Writes `contents` to a new file only its owner can read (private keys).
fn write_private(file: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(file)
        .with_context(|| format!("writing {}", file.display()))?;
    out.write_all(contents.as_bytes()).with_context(|| format!("writing {}", file.display()))
}

/// Central on the command line's database, for a command that is not serving.
async fn open_central(cli: &Cli) -> anyhow::Result<Central> {
    let options = central_options(cli)?;
    tokio::task::spawn_blocking(move || Central::open(&options)).await?.context("opening the database")
}

/// The development PKI in `dir`, made on first use.
fn load_dev_pki(dir: &Path) -> anyhow::Result<DevPki> {
    let files = DevPki::FILES.map(|name| dir.join(name));
    if !files[0].exists() {
        DevPki::generate()?.save(dir).with_context(|| format!("writing a development PKI into {}", dir.display()))?;
    }
    let [ca_pem, ca_key_pem, server_cert_pem, server_key_pem] =
        files.clone().map(|file| std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display())));
    tracing::info!(ca = %files[0].display(), "development PKI: kiosks must trust this CA");
    Ok(DevPki { ca_pem: ca_pem?, ca_key_pem: ca_key_pem?, server_cert_pem: server_cert_pem?, server_key_pem: server_key_pem? })
}

/// Runs `kiosk-central` with this process's arguments.
pub fn main() -> std::process::ExitCode {
    main_with(std::env::args_os())
}

/// Runs `kiosk-central` with `args` (the first is the program's name).
pub fn main_with(args: impl IntoIterator<Item = std::ffi::OsString>) -> std::process::ExitCode {
    let matches = match Cli::command().try_get_matches_from(args) {
        Ok(matches) => matches,
        Err(e) => e.exit(),
    };
    let mut cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    if let Some(file) = cli.config.clone()
        && let Err(e) = ConfigFile::load(&file).and_then(|config| config.apply(&mut cli, &matches))
    {
        #[allow(clippy::print_stderr, reason = "the program's own error, for the person who started it")]
        {
            eprintln!("kiosk-central: {e:#}");
        }
        return std::process::ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            #[allow(clippy::print_stderr, reason = "the program's own error, for the person who started it")]
            {
                eprintln!("kiosk-central: cannot start its runtime: {e}");
            }
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One line that names the problem, its causes after colons.
            #[allow(clippy::print_stderr, reason = "the program's own error, for the person who started it")]
            {
                eprintln!("kiosk-central: {e:#}");
            }
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Some(Command::Openapi) => {
            let doc = crate::api::ApiDoc::openapi().to_pretty_json()?;
            std::io::Write::write_all(&mut std::io::stdout(), format!("{doc}\n").as_bytes())?;
            return Ok(());
        }
        Some(Command::IssueKioskCert { dev_pki, kiosk_id, centre_id, out }) => {
            let identity = load_dev_pki(dev_pki)?.issue_kiosk(kiosk_id, centre_id)?;
            write_private(out, &identity)?;
            return Ok(());
        }
        Some(Command::EnrollmentToken { kiosk_id, centre_id, hours }) => {
            let central = open_central(&cli).await?;
            let lifetime = jiff::SignedDuration::from_hours(i64::from(*hours));
            let store = central.store();
            let (token, expires) = store.create_enrollment_token(kiosk_id, centre_id, "command-line", lifetime)?;
            store.audit("command-line", "local", "enrollment-token", kiosk_id, &format!("centre {centre_id}, until {expires}"), "ok")?;
            #[allow(clippy::print_stdout, reason = "the command's answer, for the person who ran it")]
            {
                println!("{}", token.grouped());
                println!("enrolls kiosk {kiosk_id} at centre {centre_id}, once, until {expires}: shown this once");
            }
            return Ok(());
        }
        Some(Command::RevokeKiosk { kiosk_id }) => {
            let central = open_central(&cli).await?;
            let from = central.revoke_kiosk(kiosk_id, "command-line").await?;
            central.store().audit(
                "command-line",
                "local",
                "revoke-kiosk",
                kiosk_id,
                &format!("certificates issued before {from}"),
                "ok",
            )?;
            #[allow(clippy::print_stdout, reason = "the command's answer, for the person who ran it")]
            {
                println!("kiosk {kiosk_id}: every certificate issued before {from} is refused");
            }
            return Ok(());
        }
        Some(Command::AddStaff { username, name, role, centres }) => {
            let role = Role::from_name(role).context("the role is viewer, operator or administrator")?;
            let password = read_password(username)?;
            let central = open_central(&cli).await?;
            let store = central.store();
            store.add_staff(username, name, role, centres, &password)?;
            let scope = if centres.is_empty() { "every centre".to_string() } else { centres.join(", ") };
            store.audit("command-line", "local", "add-staff", username, &format!("{} of {scope}", role.name()), "ok")?;
            #[allow(clippy::print_stdout, reason = "the command's answer, for the person who ran it")]
            {
                println!("added {username} ({}, {scope})", role.name());
            }
            return Ok(());
        }
        None => {}
    }
    // Colours only for a person at a terminal: a log file or the journal gets plain text.
    tracing_subscriber::fmt()
        // RUST_LOG only when it is ASCII: tracing-subscriber panics on some filters that are not.
        .with_env_filter(
            std::env::var(tracing_subscriber::EnvFilter::DEFAULT_ENV)
                .ok()
                .filter(|filter| filter.is_ascii())
                .and_then(|filter| tracing_subscriber::EnvFilter::try_new(filter).ok())
                .unwrap_or_else(|| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init()
        .ok();

    let read = |file: &PathBuf| std::fs::read(file).with_context(|| format!("reading {}", file.display()));
    let read_text = |file: &PathBuf| std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()));
    let lifetime = jiff::SignedDuration::from_hours(i64::from(cli.kiosk_cert_days) * 24);
    // The TLS configuration, and what enrolls kiosks (the kiosk CA's key and the CA kiosks
    // trust for central), if central was given them.
    let (tls, enrollment) = match (&cli.tls_cert, &cli.tls_key, &cli.kiosk_ca, &cli.dev_pki) {
        (Some(cert), Some(key), Some(kiosk_ca), None) => {
            let enrollment = match &cli.kiosk_ca_key {
                Some(ca_key) => {
                    let issuer = KioskIssuer::new(&read_text(kiosk_ca)?, &read_text(ca_key)?, lifetime)
                        .with_context(|| format!("{} and {}", kiosk_ca.display(), ca_key.display()))?;
                    Some((issuer, cli.tls_ca.as_ref().map(read_text).transpose()?))
                }
                None => None,
            };
            (server_config(&read(cert)?, &read(key)?, &read(kiosk_ca)?)?, enrollment)
        }
        (None, None, None, Some(dir)) => {
            let pki = load_dev_pki(dir)?;
            (pki.server_config()?, Some((KioskIssuer::of_dev_pki(&pki, lifetime)?, Some(pki.ca_pem.clone()))))
        }
        _ => bail!("give either --tls-cert, --tls-key and --kiosk-ca, or --dev-pki DIR"),
    };
    let options = central_options(&cli)?;
    let database = options.database.clone();
    let mut options = options;
    // Each connection is a file: raise the open-files limit as far as allowed, and keep the
    // connection limit below it (with room for the database, logs and keys).
    let files = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024);
    let room = usize::try_from(files.saturating_sub(128)).unwrap_or(usize::MAX);
    if room < options.limits.max_connections {
        tracing::warn!(files, max_connections = room, "the open-files limit caps central's connections");
        options.limits.max_connections = room;
        options.limits.max_unauthenticated = options.limits.max_unauthenticated.min(room / 2);
    }
    let opening = options.clone();
    let central = tokio::task::spawn_blocking(move || Central::open(&opening)).await?.with_context(|| format!("opening {database}"))?;
    match enrollment {
        Some((issuer, server_ca)) => central.enable_enrollment(issuer, server_ca),
        None => tracing::info!("no --kiosk-ca-key: this central enrolls no kiosks"),
    }
    let listener = tokio::net::TcpListener::bind(cli.listen).await.with_context(|| format!("listening on {}", cli.listen))?;
    tracing::info!(address = %cli.listen, "central listening (HTTPS)");
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    serve(central.clone(), listener, tls, central.router(), shutdown).await?;
    Ok(())
}
