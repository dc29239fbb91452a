//! A throwaway PostgreSQL server for tests and benchmarks: its own cluster in a temporary
//! folder, on `127.0.0.1` and a free port, never the machine's service. `tools/setup` installs
//! Debian's `postgresql` package; this runs its binaries.
//!
//! PostgreSQL refuses to run as root. As root, the server runs in a user namespace of its own
//! where this user is an ordinary one (`unshare --map-user`): it owns its folder there, and
//! nothing changes outside. As an ordinary user, it runs as that user.
//!
//! The server must not outlive the process that started it, however that process ends: it
//! runs under a small shell that holds a lifeline, a pipe from this process. When the pipe
//! closes (the server stopped or dropped, or this process gone), the shell stops the server;
//! another removes the cluster's folder in the same way. (The scheme of the drivers' `pty.rs`.)

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use crate::store::db::off_runtime;

/// A process under its keeper: `$1` the signal that ends it, `$2` where its output goes, then
/// the command. The keeper prints the process's id, and ends the process when the lifeline
/// closes.
const KEEPER: &str = r#"sig="$1"; log="$2"; shift 2; "$@" >>"$log" 2>&1 </dev/null & p=$!; echo "$p"; cat >/dev/null; kill -"$sig" "$p" 2>/dev/null; wait "$p" 2>/dev/null"#;

/// The cluster's folder under its janitor (`$1`): removed when its own lifeline closes, once
/// the server is gone (its pid file removed; five seconds at most). The server stops and starts
/// again under the same folder; the folder goes with the `PgServer`, or with this process.
const JANITOR: &str =
    r#"cat >/dev/null; n=0; while [ -e "$1/data/postmaster.pid" ] && [ $n -lt 50 ]; do sleep 0.1; n=$((n+1)); done; rm -rf "$1""#;

/// The role tests connect as: a superuser of the throwaway cluster, with a password of its own
/// over TCP (SCRAM), as a deployment would have.
pub const USER: &str = "balcao";

/// How the server is run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// Every commit on disk before it is acknowledged, as in production: for benchmarks.
    Full,
    /// No fsync at all: for tests, which check behaviour, not durability, and start many
    /// databases.
    None,
}

#[derive(Debug)]
pub struct PgServer {
    bin: PathBuf,
    password: String,
    /// Closing its lifeline removes the folder.
    janitor: Option<(Child, ChildStdin)>,
    /// The cluster's folder (its data in `data/`, its socket in `run/`).
    dir: PathBuf,
    port: u16,
    durability: Durability,
    running: Option<Kept>,
}

/// A process (a server, a central instance, a load balancer) that cannot outlive this one: it
/// runs under a keeper shell that ends it when its lifeline closes — when this is stopped or
/// dropped, or when this process ends, however it ends.
#[derive(Debug)]
pub struct Kept {
    keeper: Child,
    lifeline: Option<ChildStdin>,
    pid: u32,
}

impl Kept {
    /// Starts `command` (its program and arguments; nothing else of it is used), ended with
    /// `signal` (`TERM`, `INT`…), its output appended to `log`.
    pub fn start(command: &Command, signal: &str, log: &Path) -> io::Result<Self> {
        use std::io::BufRead as _;
        let mut keeper = Command::new("sh");
        keeper.args(["-c", KEEPER, "balcao-keeper", signal]).arg(log).arg(command.get_program()).args(command.get_args());
        let (mut keeper, lifeline) = keep(keeper.stdout(Stdio::piped()))?;
        let mut line = String::new();
        let stdout = keeper.stdout.take().ok_or_else(|| io::Error::other("no output from the keeper"))?;
        io::BufReader::new(stdout).read_line(&mut line)?;
        let pid = line.trim().parse().map_err(|_| io::Error::other(format!("the keeper printed {line:?}, not a process id")))?;
        Ok(Self { keeper, lifeline: Some(lifeline), pid })
    }

    /// The process's id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Kills the process at once (`SIGKILL`, as a crash would), then lets the keeper go.
    pub fn kill(mut self) {
        let _ = Command::new("kill").args(["-KILL", &self.pid.to_string()]).status();
        self.stop();
    }

    /// Whether the process has ended (its keeper then ends too, or is ending).
    pub fn running(&self) -> bool {
        Path::new(&format!("/proc/{}", self.pid)).exists()
    }

    /// Ends the process with its signal and waits for it.
    pub fn stop(&mut self) {
        drop(self.lifeline.take());
        let _ = self.keeper.wait();
    }
}

impl Drop for Kept {
    fn drop(&mut self) {
        self.stop();
    }
}

impl PgServer {
    /// Makes a new cluster in the temporary folder and starts it.
    pub fn start(durability: Durability) -> io::Result<Self> {
        Self::start_in(&std::env::temp_dir(), durability)
    }

    /// Makes a new cluster in a new folder in `parent` (a benchmark's on a real disk, not a
    /// `tmpfs` where a sync costs nothing) and starts it.
    pub fn start_in(parent: &Path, durability: Durability) -> io::Result<Self> {
        let bin = binaries()?;
        let dir = tempfile::Builder::new().prefix("balcao-postgres-").tempdir_in(parent)?.keep();
        let port = free_port()?;
        let password = format!("{:032x}", rand::random::<u128>());
        let janitor = keep(Command::new("sh").args(["-c", JANITOR, "balcao-postgres-janitor"]).arg(&dir).stdout(Stdio::null()))?;
        let mut server = Self { bin, password, janitor: Some(janitor), dir, port, durability, running: None };
        server.init()?;
        server.run()?;
        Ok(server)
    }

    /// `postgres://balcao:PASSWORD@127.0.0.1:PORT/database`.
    pub fn url(&self, database: &str) -> String {
        self.url_with_password(database, &self.password)
    }

    /// The URL with another password (to see it refused).
    pub fn url_with_password(&self, database: &str, password: &str) -> String {
        format!("postgres://{USER}:{password}@127.0.0.1:{}/{database}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Creates a new, empty database and returns its URL.
    pub fn create_database(&self, name: &str) -> io::Result<String> {
        if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("database name {name:?}")));
        }
        let url = self.url("postgres");
        off_runtime(|| {
            let mut client = postgres::Client::connect(&url, postgres::NoTls).map_err(io::Error::other)?;
            client.batch_execute(&format!("CREATE DATABASE {name}")).map_err(io::Error::other)
        })?;
        Ok(self.url(name))
    }

    /// Stops the server (a fast shutdown: connections are closed, committed data kept).
    pub fn stop(&mut self) {
        if let Some(mut running) = self.running.take() {
            running.stop();
        }
    }

    /// Starts the stopped server again, on the same folder and port.
    pub fn restart(&mut self) -> io::Result<()> {
        self.stop();
        self.run()
    }

    fn as_postgres_user(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        if is_root() {
            // An ordinary user in a namespace of its own: it owns, there, what root owns here.
            let mut command = Command::new("unshare");
            command.args(["--user", "--map-user=1000", "--map-group=1000", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }

    fn init(&self) -> io::Result<()> {
        let password_file = self.dir.join("password");
        std::fs::write(&password_file, &self.password)?;
        let output = self
            .as_postgres_user("initdb")
            .args(["--no-sync", "--auth-local=trust", "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C"])
            .args(["--username", USER, "--pwfile"])
            .arg(&password_file)
            .arg("-D")
            .arg(self.dir.join("data"))
            .stdin(Stdio::null())
            .output()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot run initdb (tools/setup installs postgresql): {e}")))?;
        if !output.status.success() {
            return Err(io::Error::other(format!("initdb failed: {}", String::from_utf8_lossy(&output.stderr).trim())));
        }
        Ok(())
    }

    fn run(&mut self) -> io::Result<()> {
        let run = self.dir.join("run");
        std::fs::create_dir_all(&run)?;
        let mut server = self.as_postgres_user("postgres");
        server.arg("-D").arg(self.dir.join("data")).arg("-k").arg(&run);
        server.args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-c", "max_connections=200", "-c", "shared_buffers=64MB"]);
        if self.durability == Durability::None {
            server.args(["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]);
        }
        self.running = Some(Kept::start(&server, "INT", &self.dir.join("postgres.log"))?);
        let deadline = Instant::now() + Duration::from_secs(30);
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        loop {
            if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() && self.accepts_logins() {
                return Ok(());
            }
            let ended = self.running.as_ref().is_some_and(|r| !r.running());
            if ended || Instant::now() > deadline {
                self.stop();
                return Err(io::Error::other(format!("postgres did not start on port {} within 30 s", self.port)));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether the server has finished starting (it refuses logins while it recovers).
    fn accepts_logins(&self) -> bool {
        let url = self.url("postgres");
        off_runtime(|| postgres::Client::connect(&url, postgres::NoTls).is_ok())
    }

    /// The cluster's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop();
        if let Some((mut janitor, lifeline)) = self.janitor.take() {
            drop(lifeline);
            let _ = janitor.wait();
        }
    }
}

/// Starts `command` with a lifeline on its standard input (its output goes nowhere unless the
/// command says where).
fn keep(command: &mut Command) -> io::Result<(Child, ChildStdin)> {
    let mut child = command
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot start {:?}: {e}", command.get_program())))?;
    let lifeline = child.stdin.take().ok_or_else(|| io::Error::other("no lifeline"))?;
    Ok((child, lifeline))
}

fn is_root() -> bool {
    // The effective user of this process, without `unsafe`: the owner of what it just made.
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

/// The folder of PostgreSQL's server binaries: `BALCAO_POSTGRES_BIN`, or Debian's newest
/// `/usr/lib/postgresql/<version>/bin`.
fn binaries() -> io::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("BALCAO_POSTGRES_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| Some((entry.file_name().to_str()?.parse().ok()?, entry.path().join("bin"))))
        .filter(|(_, bin): &(u32, PathBuf)| bin.join("postgres").exists())
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).ok_or_else(|| {
        io::Error::new(io::ErrorKind::NotFound, "no PostgreSQL server in /usr/lib/postgresql (tools/setup installs postgresql)")
    })
}

fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port())
}

/// An application for a Certificate of Criminal Record as kiosk K01 of centre GSC-01 files it
/// today, numbered `K01-<today>-0001` (UTC, as central checks numbers' days), paid by card:
/// for tests and benchmarks that need one at central.
pub fn criminal_record_submission() -> balcao_backend_client::api::ApplicationSubmission {
    use balcao_backend_client::api::{Answer, ApplicationSubmission, Language, PaymentRecord};
    let today = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).strftime("%y%m%d").to_string();
    ApplicationSubmission {
        application_id: uuid::Uuid::now_v7(),
        reference: format!("K01-{today}-0001"),
        kiosk_id: "K01".into(),
        centre_id: "GSC-01".into(),
        service_id: "criminal-record-certificate".into(),
        language: Language::Pt,
        answers: [
            ("full_name", Answer::Text("CHAN TAI MAN".into())),
            ("document_number", Answer::Text("1234567(8)".into())),
            ("date_of_birth", Answer::Text("1985-03-14".into())),
            ("purpose", Answer::Text("employment".into())),
            ("copies", Answer::Number(1)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect(),
        fee_avos: 3000,
        payment: Some(PaymentRecord {
            amount_avos: 3000,
            terminal_receipt_number: 1,
            trace_number: 101,
            approval_code: None,
            card_brand: None,
        }),
        identity: None,
        submitted_at: jiff::Timestamp::now(),
    }
}
