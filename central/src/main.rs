//! `kiosk-central`: runs the reference central platform.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use balcao_central::tls::{DevPki, server_config};
use balcao_central::{Central, CentralOptions, serve};
use clap::{Parser, Subcommand};
use utoipa::OpenApi;

#[derive(Parser, Debug)]
#[command(version, about = "The Balcão reference central platform")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8443")]
    listen: SocketAddr,
    /// SQLite database file (created if missing).
    #[arg(long, default_value = "central.db")]
    database: PathBuf,
    /// Server certificate chain (PEM).
    #[arg(long, requires = "tls_key", conflicts_with = "dev_pki")]
    tls_cert: Option<PathBuf>,
    /// Server private key (PEM).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Folder for a development CA and server certificate for localhost (made if missing);
    /// kiosks must trust its `ca.pem`.
    #[arg(long)]
    dev_pki: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Prints the OpenAPI document generated from the code.
    Openapi,
}

fn dev_pki(dir: &Path) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
    let (cert, key, ca) = (dir.join("server.pem"), dir.join("server-key.pem"), dir.join("ca.pem"));
    if !cert.exists() {
        let pki = DevPki::generate()?;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        std::fs::write(&ca, &pki.ca_pem)?;
        std::fs::write(&cert, &pki.server_cert_pem)?;
        std::fs::write(&key, &pki.server_key_pem)?;
    }
    tracing::info!(ca = %ca.display(), "development PKI: kiosks must trust this CA");
    Ok((std::fs::read(&cert)?, std::fs::read(&key)?))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::Openapi) = cli.command {
        let doc = balcao_central::api::ApiDoc::openapi().to_pretty_json()?;
        std::io::Write::write_all(&mut std::io::stdout(), format!("{doc}\n").as_bytes())?;
        return Ok(());
    }
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();

    let (cert, key) = match (&cli.tls_cert, &cli.tls_key, &cli.dev_pki) {
        (Some(cert), Some(key), None) => (
            std::fs::read(cert).with_context(|| format!("reading {}", cert.display()))?,
            std::fs::read(key).with_context(|| format!("reading {}", key.display()))?,
        ),
        (None, None, Some(dir)) => dev_pki(dir)?,
        _ => bail!("give either --tls-cert and --tls-key, or --dev-pki DIR"),
    };
    let tls = server_config(&cert, &key)?;
    let central =
        Central::open(&CentralOptions::new(cli.database.clone())).with_context(|| format!("opening {}", cli.database.display()))?;
    let listener = tokio::net::TcpListener::bind(cli.listen).await.with_context(|| format!("listening on {}", cli.listen))?;
    tracing::info!(address = %cli.listen, "central listening (HTTPS)");
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    serve(central.clone(), listener, tls, central.router(), shutdown).await?;
    Ok(())
}
