//! Central's database: the catalog, received applications with their status history, the
//! idempotency records that make repeated writes safe, certificates and their feed, pickups,
//! queue tickets and kiosks' events.
//!
//! Two databases behind one body of code (`db.rs`): SQLite, embedded, the default (WAL,
//! `synchronous=FULL`: an application is on disk before its receipt is sent), and PostgreSQL,
//! shared by several central instances at once. Nothing one instance needs lives in another's
//! memory: idempotency keys being processed are claimed in the database, and what must happen
//! one at a time across instances (a ticket number's first use, a certificate's first pickup,
//! the feed's order, the daily purge) takes an advisory lock.
//!
//! Personal data — an application's answers and identity proof, a certificate's holder check
//! and document — is sealed with a key kept in its own file ([`KeyFiles`]), never in the
//! database, and purged after the retention period. SQLite's files are their owner's only
//! (0600) and deleted data is overwritten (`secure_delete`). The identity provider's private
//! signing keys live in a file of their own too (see `issuer.rs`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use balcao_backend_client::api::{
    Answer, ApplicationReceipt, ApplicationState, ApplicationStatus, ApplicationSubmission, Catalog, IdentityProof, KioskEvent,
};
use balcao_backend_client::seal::{DataKey, KeyError};
use jiff::Timestamp;
use rusqlite::Connection;
use rusqlite_migration::{M, Migrations};
use uuid::Uuid;

pub mod alerts;
pub mod appointments;
mod certificates;
pub mod day;
pub mod db;
pub mod enrollment;
pub mod fleet;
pub mod issuer;
mod queue;
pub mod staff;
pub mod status;

pub use certificates::{FeedError, IssueError, IssuedCertificate, IssuedDocument, PickupFiled, PickupRow};
pub use db::{ConnectError, PgOptions};
use db::{Database, Dialect, Tx, args};
pub use issuer::{Citizen, StoredIssuerKey};
pub use queue::{QueueDay, TicketFiled, TicketNumberReused};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database error: {0}")]
    Postgres(postgres::Error),
    /// The database cannot serve now (down, restarting, out of connections, too slow): the
    /// request is answered 503 and repeated later.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// The connection broke mid-transaction; another connection may serve.
    #[error("the database connection was lost: {0}")]
    ConnectionLost(String),
    /// The transaction lost a race (deadlock, serialisation) with another one.
    #[error("the transaction lost a race with another one: {0}")]
    Contention(String),
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("database migration failed")]
    Migration(#[from] rusqlite_migration::Error),
    #[error(
        "the database's schema is at version {found}, newer than this central knows ({known}): run the central that wrote it, or restore a backup"
    )]
    SchemaTooNew { found: usize, known: usize },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("the data key file {} does not open this database (wrong key, or the database was altered)", .0.display())]
    WrongKey(PathBuf),
    #[error("cannot make {} private to its owner", path.display())]
    Private { path: PathBuf, source: std::io::Error },
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        let text = || e.as_db_error().map_or_else(|| e.to_string(), |db| format!("{} ({})", db.message(), db.code().code()));
        let io = std::error::Error::source(&e).is_some_and(|source| source.is::<std::io::Error>());
        if e.is_closed() || io {
            return Self::ConnectionLost(text());
        }
        match e.code().map(|c| c.code()) {
            // The server ended this connection (shutting down, or restarted meanwhile): another
            // may serve.
            Some("57P01" | "57P02") => Self::ConnectionLost(text()),
            // A lost race: a deadlock, a serialisation failure, or a row another transaction
            // inserted first (run again, the transaction finds it and takes the path for it).
            Some("40001" | "40P01" | "23505") => Self::Contention(text()),
            _ if db::postgres_unavailable(&e) => Self::Unavailable(text()),
            _ => Self::Postgres(e),
        }
    }
}

impl StoreError {
    /// Whether the database could not serve (503 and a repeat later), rather than a fault.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::ConnectionLost(_) | Self::Contention(_))
            || matches!(self, Self::Sqlite(rusqlite::Error::SqliteFailure(e, _)) if matches!(e.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
    }

    /// The same failure again, if running the transaction once more might not meet it.
    fn retryable(&self) -> Option<Self> {
        match self {
            Self::ConnectionLost(s) => Some(Self::ConnectionLost(s.clone())),
            Self::Contention(s) => Some(Self::Contention(s.clone())),
            _ => None,
        }
    }
}

/// Where central's database is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseLocation {
    /// A SQLite file (created if missing).
    Sqlite(PathBuf),
    /// A PostgreSQL URL (`postgres://user:password@host:port/database`).
    Postgres(String),
}

impl DatabaseLocation {
    /// `postgres://…` or `postgresql://…` is PostgreSQL; anything else a SQLite file.
    pub fn parse(text: &str) -> Self {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            Self::Postgres(text.to_string())
        } else {
            Self::Sqlite(PathBuf::from(text))
        }
    }
}

impl std::fmt::Display for DatabaseLocation {
    /// Where it is, without a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "{}", path.display()),
            Self::Postgres(url) => match url.split_once("://").and_then(|(scheme, rest)| Some((scheme, rest.split_once('@')?.1))) {
                Some((scheme, host)) => write!(f, "{scheme}://…@{host}"),
                None => f.write_str(url),
            },
        }
    }
}

/// Where central keeps its keys, outside the database: the key that seals personal data, and
/// the identity provider's private signing keys. Both files are the owner's only; a real
/// deployment keeps the signing keys in a hardware security module instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyFiles {
    pub data_key: PathBuf,
    pub identity_provider: PathBuf,
    /// The agency's certificate-signing keys.
    pub documents: PathBuf,
}

impl KeyFiles {
    /// In a folder beside the database: `central.db` → `central-keys/`.
    pub fn beside(database: &Path) -> Self {
        let stem = database.file_stem().map_or_else(|| "central".into(), |s| s.to_string_lossy().into_owned());
        Self::in_folder(&database.with_file_name(format!("{stem}-keys")))
    }

    /// In `folder`: `data.key`, `identity-provider.keys` and `document-signer.keys`.
    pub fn in_folder(folder: &Path) -> Self {
        Self {
            data_key: folder.join("data.key"),
            identity_provider: folder.join("identity-provider.keys"),
            documents: folder.join("document-signer.keys"),
        }
    }
}

/// Sealed with the data key and kept in the database, to tell at opening whether a key file
/// belongs to this database.
const KEY_CHECK: &[u8] = b"balcao central data key check v1";

/// Creates `path` readable and writable by its owner only, or makes an existing one so.
fn private_file(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let private = |source| StoreError::Private { path: path.to_path_buf(), source };
    std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(path).map_err(private)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(private)
}

/// What is sealed of an application.
#[derive(serde::Serialize, serde::Deserialize)]
struct SealedApplication {
    answers: BTreeMap<String, Answer>,
    identity: Option<IdentityProof>,
}

fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(
            "CREATE TABLE catalog (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            etag TEXT NOT NULL,
            body TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE applications (
            id TEXT PRIMARY KEY,
            reference TEXT NOT NULL,
            kiosk_id TEXT NOT NULL,
            centre_id TEXT NOT NULL,
            service_id TEXT NOT NULL,
            language TEXT NOT NULL,
            answers TEXT NOT NULL,
            fee_avos INTEGER NOT NULL,
            payment TEXT,
            submitted_at TEXT NOT NULL,
            received_at TEXT NOT NULL,
            state TEXT NOT NULL
        );
        CREATE INDEX applications_received ON applications(received_at);
        CREATE TABLE status_history (
            application_id TEXT NOT NULL REFERENCES applications(id),
            state TEXT NOT NULL,
            at TEXT NOT NULL
        );
        CREATE INDEX status_history_application ON status_history(application_id);
        CREATE TABLE idempotency_keys (
            key TEXT PRIMARY KEY,
            request_hash TEXT NOT NULL,
            status INTEGER NOT NULL,
            response TEXT NOT NULL,
            created_at INTEGER NOT NULL
        );
        CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);",
        ),
        // What kiosks report to the fleet's monitoring; the event id makes a repeat harmless.
        M::up(
            "CREATE TABLE kiosk_events (
            event_id TEXT PRIMARY KEY,
            kiosk_id TEXT NOT NULL,
            centre_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            severity TEXT NOT NULL,
            detail TEXT NOT NULL,
            at TEXT NOT NULL,
            received_at TEXT NOT NULL,
            body TEXT NOT NULL
        );
        CREATE INDEX kiosk_events_received ON kiosk_events(received_at);",
        ),
        // Certificates ready for pickup, the per-centre feed of their changes (one row per
        // certificate, AUTOINCREMENT so a position is never reused), pickups, and the keys of
        // the identity provider central plays for the reference setup.
        M::up(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta (key, value) VALUES ('epoch', lower(hex(randomblob(8))));
        CREATE TABLE certificates (
            application_id TEXT PRIMARY KEY REFERENCES applications(id),
            centre_id TEXT NOT NULL,
            reference TEXT NOT NULL,
            service_id TEXT NOT NULL,
            holder TEXT NOT NULL,
            document BLOB NOT NULL,
            ready_at TEXT NOT NULL,
            state TEXT NOT NULL
        );
        CREATE TABLE certificate_feed (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            centre_id TEXT NOT NULL,
            application_id TEXT NOT NULL UNIQUE,
            change TEXT NOT NULL,
            at INTEGER NOT NULL
        );
        CREATE INDEX certificate_feed_centre ON certificate_feed(centre_id, seq);
        CREATE TABLE feed_horizon (centre_id TEXT PRIMARY KEY, seq INTEGER NOT NULL);
        CREATE TABLE pickups (
            pickup_id TEXT PRIMARY KEY,
            application_id TEXT NOT NULL,
            kiosk_id TEXT NOT NULL,
            centre_id TEXT NOT NULL,
            outcome TEXT NOT NULL,
            offline INTEGER NOT NULL,
            collected_at TEXT NOT NULL,
            received_at TEXT NOT NULL,
            duplicate INTEGER NOT NULL,
            body TEXT NOT NULL
        );
        CREATE INDEX pickups_application ON pickups(application_id);
        CREATE TABLE issuer_keys (
            kid TEXT PRIMARY KEY,
            private_pkcs8 BLOB NOT NULL,
            public_key BLOB NOT NULL,
            created_at TEXT NOT NULL,
            not_after TEXT NOT NULL
        );",
        ),
        // Queue tickets kiosks issued, for the counters' calling; a number is looked up by
        // centre and day to flag one issued twice.
        M::up(
            "CREATE TABLE queue_tickets (
            ticket_id TEXT PRIMARY KEY,
            centre_id TEXT NOT NULL,
            queue_id TEXT NOT NULL,
            number TEXT NOT NULL,
            service_day TEXT NOT NULL,
            kiosk_id TEXT NOT NULL,
            issued_at INTEGER NOT NULL,
            outcome TEXT NOT NULL,
            offline INTEGER NOT NULL,
            received_at TEXT NOT NULL,
            number_reused INTEGER NOT NULL,
            body TEXT NOT NULL
        );
        CREATE INDEX queue_tickets_number ON queue_tickets(centre_id, service_day, number);",
        ),
        // How the applicant was identified (method and salted hash of the document number).
        M::up("ALTER TABLE applications ADD COLUMN identity TEXT;"),
        // Personal data sealed: an application's answers and identity proof in `sealed` (the
        // method alone in clear, for the console), a certificate's holder check and document.
        M::up(
            "ALTER TABLE applications ADD COLUMN sealed BLOB;
        ALTER TABLE applications ADD COLUMN identity_method TEXT;
        ALTER TABLE certificates ADD COLUMN sealed_holder BLOB;
        ALTER TABLE certificates ADD COLUMN sealed_document BLOB;",
        ),
        // Idempotency keys belong to the kiosk that used them: a repeat is answered to that
        // kiosk only. Applications keep their request's hash, so a repeat after its key was
        // purged is still recognised (and another kiosk's id refused).
        M::up(
            "ALTER TABLE idempotency_keys ADD COLUMN kiosk_id TEXT NOT NULL DEFAULT '';
        UPDATE idempotency_keys SET kiosk_id = COALESCE((SELECT kiosk_id FROM applications WHERE applications.id = idempotency_keys.key), '');
        ALTER TABLE applications ADD COLUMN request_hash TEXT;
        UPDATE applications SET request_hash = (SELECT request_hash FROM idempotency_keys WHERE idempotency_keys.key = applications.id);",
        ),
        // The fleet: each kiosk's last heartbeat, and staff's commands (the same on PostgreSQL).
        M::up(fleet::FLEET_SCHEMA),
        // Staff accounts and sessions, and the audit log of what staff did (append-only).
        M::up(staff::STAFF_SCHEMA),
        M::up(staff::SQLITE_AUDIT_SCHEMA),
        // Alerts, their rules and their webhook deliveries (the same on PostgreSQL).
        M::up(alerts::ALERTS_SCHEMA),
        // What kiosks send on staff's asking: masked screenshots and logs.
        M::up(fleet::UPLOADS_SCHEMA),
        // Refused log-ins counted per address.
        M::up(staff::AUDIT_ADDRESS_INDEX),
        // What a heartbeat needs to read besides its own row.
        M::up(fleet::HINTS_SCHEMA),
        // A kiosk's own events, for its page.
        M::up(KIOSK_EVENTS_INDEX),
        // Enrollment tokens, the certificates the kiosk CA issued, revocations.
        M::up(enrollment::ENROLLMENT_SCHEMA),
        // Decommissioned kiosks.
        M::up(enrollment::RETIRED_SCHEMA),
        // Technicians' readiness reports.
        M::up(fleet::DIAGNOSES_SCHEMA),
        // A citizen's look at their application: found by its number, wrong tries counted.
        M::up(status::STATUS_TRIES_SCHEMA),
        // An applicant's applications, found by their document number's blind index.
        M::up(status::HOLDER_INDEX_SCHEMA),
        // Counter appointments: the centres' schedules and the places held and booked.
        M::up(appointments::APPOINTMENTS_SCHEMA),
        // The agency's certificate-signing keys, and each certificate's signatures.
        M::up(issuer::SQLITE_DOCUMENT_KEYS_SCHEMA),
        M::up(certificates::SIGNATURES_SCHEMA),
    ])
}

/// PostgreSQL's schema, version by version (see [`db::migrate_postgres`]). It started at the
/// schema SQLite had reached after its seven steps above; each table added from now on is added
/// to both lists. Tables whose rows are listed newest first carry a `rowid`, as SQLite's do.
const POSTGRES_MIGRATIONS: &[&str] = &[
    "
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO meta (key, value) VALUES ('epoch', substr(md5(random()::text || clock_timestamp()::text), 1, 16));
    CREATE TABLE catalog (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        etag TEXT NOT NULL,
        body TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE applications (
        id TEXT PRIMARY KEY,
        reference TEXT NOT NULL,
        kiosk_id TEXT NOT NULL,
        centre_id TEXT NOT NULL,
        service_id TEXT NOT NULL,
        language TEXT NOT NULL,
        answers TEXT NOT NULL DEFAULT '',
        fee_avos BIGINT NOT NULL,
        payment TEXT,
        submitted_at TEXT NOT NULL,
        received_at TEXT NOT NULL,
        state TEXT NOT NULL,
        identity TEXT,
        sealed BYTEA,
        identity_method TEXT,
        request_hash TEXT,
        rowid BIGSERIAL NOT NULL
    );
    CREATE INDEX applications_received ON applications(received_at);
    CREATE TABLE status_history (
        application_id TEXT NOT NULL REFERENCES applications(id),
        state TEXT NOT NULL,
        at TEXT NOT NULL,
        rowid BIGSERIAL NOT NULL
    );
    CREATE INDEX status_history_application ON status_history(application_id);
    CREATE TABLE idempotency_keys (
        key TEXT PRIMARY KEY,
        request_hash TEXT NOT NULL,
        status INTEGER NOT NULL,
        response TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        kiosk_id TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);
    -- Idempotency keys some instance is processing right now: a claim ends with its request,
    -- or expires (an instance that died). Not worth a write to the log: lost in a crash, as
    -- the requests themselves are.
    CREATE UNLOGGED TABLE key_claims (key TEXT PRIMARY KEY, until BIGINT NOT NULL);
    CREATE TABLE kiosk_events (
        event_id TEXT PRIMARY KEY,
        kiosk_id TEXT NOT NULL,
        centre_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        severity TEXT NOT NULL,
        detail TEXT NOT NULL,
        at TEXT NOT NULL,
        received_at TEXT NOT NULL,
        body TEXT NOT NULL,
        rowid BIGSERIAL NOT NULL
    );
    CREATE INDEX kiosk_events_received ON kiosk_events(received_at);
    CREATE TABLE certificates (
        application_id TEXT PRIMARY KEY REFERENCES applications(id),
        centre_id TEXT NOT NULL,
        reference TEXT NOT NULL,
        service_id TEXT NOT NULL,
        holder TEXT NOT NULL DEFAULT '',
        document BYTEA NOT NULL DEFAULT ''::bytea,
        ready_at TEXT NOT NULL,
        state TEXT NOT NULL,
        sealed_holder BYTEA,
        sealed_document BYTEA
    );
    CREATE TABLE certificate_feed (
        seq BIGSERIAL PRIMARY KEY,
        centre_id TEXT NOT NULL,
        application_id TEXT NOT NULL UNIQUE,
        change TEXT NOT NULL,
        at BIGINT NOT NULL
    );
    CREATE INDEX certificate_feed_centre ON certificate_feed(centre_id, seq);
    CREATE TABLE feed_horizon (centre_id TEXT PRIMARY KEY, seq BIGINT NOT NULL);
    CREATE TABLE pickups (
        pickup_id TEXT PRIMARY KEY,
        application_id TEXT NOT NULL,
        kiosk_id TEXT NOT NULL,
        centre_id TEXT NOT NULL,
        outcome TEXT NOT NULL,
        offline INTEGER NOT NULL,
        collected_at TEXT NOT NULL,
        received_at TEXT NOT NULL,
        duplicate INTEGER NOT NULL,
        body TEXT NOT NULL,
        rowid BIGSERIAL NOT NULL
    );
    CREATE INDEX pickups_application ON pickups(application_id);
    CREATE TABLE issuer_keys (
        kid TEXT PRIMARY KEY,
        public_key BYTEA NOT NULL,
        created_at TEXT NOT NULL,
        not_after TEXT NOT NULL
    );
    CREATE TABLE queue_tickets (
        ticket_id TEXT PRIMARY KEY,
        centre_id TEXT NOT NULL,
        queue_id TEXT NOT NULL,
        number TEXT NOT NULL,
        service_day TEXT NOT NULL,
        kiosk_id TEXT NOT NULL,
        issued_at BIGINT NOT NULL,
        outcome TEXT NOT NULL,
        offline INTEGER NOT NULL,
        received_at TEXT NOT NULL,
        number_reused INTEGER NOT NULL,
        body TEXT NOT NULL,
        rowid BIGSERIAL NOT NULL
    );
    CREATE INDEX queue_tickets_number ON queue_tickets(centre_id, service_day, number);
",
    fleet::FLEET_SCHEMA,
    staff::STAFF_SCHEMA,
    staff::POSTGRES_AUDIT_SCHEMA,
    alerts::ALERTS_SCHEMA,
    fleet::UPLOADS_SCHEMA,
    staff::AUDIT_ADDRESS_INDEX,
    fleet::HINTS_SCHEMA,
    KIOSK_EVENTS_INDEX,
    enrollment::ENROLLMENT_SCHEMA,
    enrollment::RETIRED_SCHEMA,
    fleet::DIAGNOSES_SCHEMA,
    status::STATUS_TRIES_SCHEMA,
    status::HOLDER_INDEX_SCHEMA,
    appointments::APPOINTMENTS_SCHEMA,
    issuer::POSTGRES_DOCUMENT_KEYS_SCHEMA,
    certificates::SIGNATURES_SCHEMA,
];

/// A kiosk's events found without reading everyone's.
const KIOSK_EVENTS_INDEX: &str = "CREATE INDEX kiosk_events_kiosk ON kiosk_events(kiosk_id, received_at);";

/// How long an idempotency key's claim lasts if its request never ends it (its instance died):
/// a kiosk repeating the request on another instance waits this long at most. A claim only
/// spares the work of processing a request twice at once; storing is idempotent by itself (the
/// key is the primary key, checked in the storing transaction), so a claim that lapses under a
/// very slow request costs a repeat's work, never a second record.
const CLAIM_LIFETIME: jiff::SignedDuration = jiff::SignedDuration::from_secs(10);

/// The catalog as served: its JSON body and the `ETag` derived from it.
#[derive(Clone, Debug)]
pub struct StoredCatalog {
    pub etag: String,
    pub body: String,
    pub catalog: Catalog,
}

impl StoredCatalog {
    pub fn new(catalog: Catalog) -> Result<Self, StoreError> {
        let body = serde_json::to_string(&catalog).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(Self { etag: crate::api::etag_of(&body), body, catalog })
    }
}

/// The first answer given to an idempotency key, replayed to every repeat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredResponse {
    pub request_hash: String,
    pub status: u16,
    pub body: String,
}

/// One row of the applications page.
#[derive(Clone, Debug)]
pub struct ApplicationRow {
    pub id: Uuid,
    pub reference: String,
    pub kiosk_id: String,
    pub centre_id: String,
    pub service_id: String,
    pub state: ApplicationState,
    pub fee_avos: u64,
    pub paid: bool,
    pub received_at: String,
    /// How the applicant was identified, when the service asked (until the personal data is
    /// purged).
    pub identity: Option<IdentityProof>,
    /// How the applicant was identified, kept after the purge: the method alone.
    pub identified_by: Option<balcao_backend_client::api::IdentityMethod>,
}

#[derive(Debug)]
pub struct Store {
    db: Database,
    key: DataKey,
    /// The identity provider's private signing keys (see `issuer.rs`).
    issuer_keys: PathBuf,
    /// The agency's private signing keys (see `issuer.rs`).
    document_keys: PathBuf,
    /// SQLite's claims on idempotency keys being processed, with when each lapses (one process
    /// owns the file); PostgreSQL keeps them in `key_claims`, where every instance sees them.
    claims: Mutex<HashMap<String, std::time::Instant>>,
    /// How long a kiosk may be silent before the fleet shows it offline (see `fleet.rs`).
    offline_after_ms: std::sync::atomic::AtomicI64,
    /// Whether alerts' changes are queued for a webhook (see `alerts.rs`).
    webhook: std::sync::atomic::AtomicBool,
    /// The alert rules as last read, and when (see `alerts.rs`).
    alert_rules_read: Mutex<Option<(std::time::Instant, Vec<alerts::RuleSetting>)>>,
}

impl Store {
    /// Opens (or creates) the database, its personal data sealed with the key in `keys` (made
    /// on a new database; a database with another key is refused), and brings its schema up to
    /// date. A schema newer than this central's is refused.
    pub fn open(location: &DatabaseLocation, keys: &KeyFiles, postgres: &PgOptions) -> Result<Self, StoreError> {
        let db = match location {
            DatabaseLocation::Sqlite(path) => Database::sqlite(open_sqlite(path)?),
            DatabaseLocation::Postgres(url) => {
                let db = Database::postgres(url, postgres)?;
                db::migrate_postgres(&db, POSTGRES_MIGRATIONS)?;
                db
            }
        };
        let key = Self::data_key(&db, &keys.data_key)?;
        let store = Self {
            db,
            key,
            issuer_keys: keys.identity_provider.clone(),
            document_keys: keys.documents.clone(),
            claims: Mutex::default(),
            offline_after_ms: std::sync::atomic::AtomicI64::new(fleet::OFFLINE_AFTER.as_millis() as i64),
            webhook: std::sync::atomic::AtomicBool::new(false),
            alert_rules_read: Mutex::new(None),
        };
        if store.db.dialect() == Dialect::Sqlite {
            store.seal_plaintext()?;
            store.move_issuer_keys_out()?;
        }
        Ok(store)
    }

    /// Which database this is.
    pub fn dialect(&self) -> Dialect {
        self.db.dialect()
    }

    /// Whether the database answers now: what `/ready` tells a load balancer.
    pub fn reachable(&self) -> Result<(), StoreError> {
        self.db.reachable()
    }

    /// The data key: the one this database was sealed with (refused if the file holds
    /// another), or a new one for a database that has none yet. Instances started together on
    /// a new database make it once.
    fn data_key(db: &Database, file: &Path) -> Result<DataKey, StoreError> {
        db.write(|tx| {
            tx.lock("data-key")?;
            let check: Option<Vec<u8>> =
                tx.query_opt("SELECT value FROM meta WHERE key = 'key-check'", args![])?.map(|r| r.get(0)).transpose()?;
            // Hex text (PostgreSQL's `value` is text), or the bytes themselves (SQLite before).
            let check = check.map(|check| String::from_utf8(check.clone()).ok().and_then(|hex| hex::decode(hex).ok()).unwrap_or(check));
            match check {
                Some(check) => {
                    let key = DataKey::load(file)?;
                    match key.open("meta/key-check", &check) {
                        Ok(plain) if plain == KEY_CHECK => Ok(key),
                        _ => Err(StoreError::WrongKey(file.to_path_buf())),
                    }
                }
                None => {
                    let key = if file.exists() { DataKey::load(file)? } else { DataKey::create(file)? };
                    let check = key.seal("meta/key-check", KEY_CHECK)?;
                    tx.execute("INSERT INTO meta (key, value) VALUES ('key-check', $1)", args![hex::encode(check)])?;
                    Ok(key)
                }
            }
        })
    }

    /// Seals what a SQLite database from before sealing holds in clear, once.
    fn seal_plaintext(&self) -> Result<(), StoreError> {
        let sealed = self.db.write(|tx| {
            let clear = tx.query("SELECT id, answers, identity FROM applications WHERE sealed IS NULL AND answers <> ''", args![])?;
            let mut any = !clear.is_empty();
            for row in &clear {
                let (id, answers, identity): (String, String, Option<String>) = (row.get(0)?, row.get(1)?, row.get(2)?);
                let answers =
                    serde_json::from_str(&answers).map_err(|e| StoreError::Corrupt(format!("application {id} answers: {e}")))?;
                let identity: Option<IdentityProof> = identity
                    .as_deref()
                    .map(serde_json::from_str)
                    .transpose()
                    .map_err(|e| StoreError::Corrupt(format!("application {id} identity: {e}")))?;
                let method = identity.as_ref().map(|i| to_json(&i.method)).transpose()?;
                let sealed = self.seal_application(&id, &SealedApplication { answers, identity })?;
                tx.execute(
                    "UPDATE applications SET sealed = $2, identity_method = $3, answers = '', identity = NULL WHERE id = $1",
                    args![id, sealed, method],
                )?;
            }
            let clear = tx.query("SELECT application_id, holder, document FROM certificates WHERE sealed_holder IS NULL AND holder <> ''", args![])?;
            any |= !clear.is_empty();
            for row in &clear {
                let (id, holder, document): (String, String, Vec<u8>) = (row.get(0)?, row.get(1)?, row.get(2)?);
                let (holder, document) = self.seal_certificate(&id, holder.as_bytes(), &document)?;
                tx.execute(
                    "UPDATE certificates SET sealed_holder = $2, sealed_document = $3, holder = '', document = $4 WHERE application_id = $1",
                    args![id, holder, document, EMPTY],
                )?;
            }
            Ok::<_, StoreError>(any)
        })?;
        if let (true, Some(conn)) = (sealed, self.db.sqlite_connection()) {
            // The clear copies may linger in the write-ahead log until it is written back.
            conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
        }
        Ok(())
    }

    fn seal_application(&self, id: &str, application: &SealedApplication) -> Result<Vec<u8>, StoreError> {
        Ok(self.key.seal(&format!("applications/{id}"), to_json(application)?.as_bytes())?)
    }

    fn open_application(&self, id: &str, sealed: &[u8]) -> Result<SealedApplication, StoreError> {
        let plain =
            self.key.open(&format!("applications/{id}"), sealed).map_err(|e| StoreError::Corrupt(format!("application {id}: {e}")))?;
        serde_json::from_slice(&plain).map_err(|e| StoreError::Corrupt(format!("application {id}: {e}")))
    }

    /// A certificate's holder check (JSON) and document, sealed.
    fn seal_certificate(&self, id: &str, holder: &[u8], document: &[u8]) -> Result<(Vec<u8>, Vec<u8>), StoreError> {
        Ok((self.key.seal(&format!("certificates/{id}/holder"), holder)?, self.key.seal(&format!("certificates/{id}/document"), document)?))
    }

    fn open_certificate(&self, id: &str, holder: &[u8], document: &[u8]) -> Result<(Vec<u8>, Vec<u8>), StoreError> {
        let open = |what: &str, sealed: &[u8]| {
            self.key.open(&format!("certificates/{id}/{what}"), sealed).map_err(|e| StoreError::Corrupt(format!("certificate {id}: {e}")))
        };
        Ok((open("holder", holder)?, open("document", document)?))
    }

    /// Forgets the personal data of applications settled (collected or rejected) and received
    /// before `before`: their answers, identity proof, and their certificate's holder check
    /// and document. What the record needs stays: number, service, kiosk, fee and payment,
    /// states and their times. Returns how many applications were purged.
    pub fn purge_personal_data(&self, before: Timestamp) -> Result<usize, StoreError> {
        self.db.write(|tx| purge_personal_data(tx, before))
    }

    /// The daily housekeeping, by one instance at a time (the others skip it while one does
    /// it): forgets idempotency keys received before `keys_before`, feed rows of certificates
    /// gone before `feed_before`, the personal data of applications settled before
    /// `personal_before` and the wrong status tries of numbers before `keys_before`, indexes the
    /// holders of applications stored before there was an index, then rotates the identity
    /// provider's and the agency's keys if due. `None` if another instance is doing it now.
    pub fn housekeeping(
        &self,
        keys_before: Timestamp,
        feed_before: Timestamp,
        personal_before: Timestamp,
        now: Timestamp,
    ) -> Result<Option<usize>, StoreError> {
        let purged = self.db.write(|tx| {
            if !tx.try_lock("housekeeping")? {
                return Ok(None);
            }
            let purged = purge_idempotency_keys(tx, keys_before)?
                + certificates::purge_feed(tx, feed_before)?
                + purge_personal_data(tx, personal_before)?
                + status::purge_status_tries(tx, keys_before)?
                + appointments::purge_appointments(tx, personal_before.to_zoned(jiff::tz::TimeZone::system()).date(), now)?;
            status::index_holders(self, tx)?;
            Ok::<_, StoreError>(Some(purged))
        })?;
        if purged.is_some() {
            self.rotate_keys(issuer::KeySet::IdentityProvider, now)?;
            self.rotate_keys(issuer::KeySet::Documents, now)?;
        }
        Ok(purged)
    }

    pub fn catalog(&self) -> Result<Option<StoredCatalog>, StoreError> {
        let row = self.db.read(|tx| tx.query_opt("SELECT etag, body FROM catalog WHERE id = 1", args![]))?;
        row.map(|row| {
            let (etag, body): (String, String) = (row.get(0)?, row.get(1)?);
            let catalog = serde_json::from_str(&body).map_err(|e| StoreError::Corrupt(format!("catalog: {e}")))?;
            Ok(StoredCatalog { etag, body, catalog })
        })
        .transpose()
    }

    /// The current catalog's `ETag`: instances compare it with the catalog they hold, so a
    /// catalog published through one is served by all.
    pub fn catalog_etag(&self) -> Result<Option<String>, StoreError> {
        self.db.read(|tx| tx.query_opt("SELECT etag FROM catalog WHERE id = 1", args![])?.map(|r| r.get(0)).transpose())
    }

    pub fn replace_catalog(&self, catalog: &StoredCatalog) -> Result<(), StoreError> {
        self.db.write(|tx| {
            tx.execute(
                "INSERT INTO catalog (id, etag, body, updated_at) VALUES (1, $1, $2, $3)
                 ON CONFLICT (id) DO UPDATE SET etag = excluded.etag, body = excluded.body, updated_at = excluded.updated_at",
                args![catalog.etag, catalog.body, Timestamp::now().to_string()],
            )
        })?;
        Ok(())
    }

    /// Claims `kiosk`'s idempotency keys for a request about to process them, in order, stopping
    /// at the first that a request (on this instance or another) is processing now, and reads
    /// the answers already recorded for the keys it claimed — on PostgreSQL in one transaction,
    /// so a batch costs one round of the database here and one in
    /// [`record_applications`](Self::record_applications) (only the latter waits for the disk).
    /// Returns how many keys were claimed and their answers in order; each claim is ended by
    /// `record_applications` or [`release`](Self::release).
    pub fn claim_and_look_up(&self, kiosk: &str, keys: &[String]) -> Result<(usize, Vec<Option<Recorded>>), StoreError> {
        let claim_keys = claim_keys(kiosk, keys);
        match self.db.dialect() {
            Dialect::Sqlite => {
                let claimed = {
                    let mut claims = self.claims.lock().unwrap_or_else(|e| e.into_inner());
                    let now = std::time::Instant::now();
                    let until = now + CLAIM_LIFETIME.unsigned_abs();
                    claim_keys
                        .iter()
                        .take_while(|key| match claims.get(*key) {
                            Some(lapses) if *lapses > now => false,
                            _ => {
                                claims.insert((*key).clone(), until);
                                true
                            }
                        })
                        .count()
                };
                let answers = self.db.read(|tx| answers_to(tx, kiosk, &keys[..claimed]));
                if answers.is_err() {
                    self.release_claims(&claim_keys[..claimed])?;
                }
                Ok((claimed, answers?))
            }
            Dialect::Postgres if keys.is_empty() => Ok((0, Vec::new())),
            Dialect::Postgres => {
                let now = Timestamp::now();
                let (now_ms, until) = (now.as_millisecond(), (now + CLAIM_LIFETIME).as_millisecond());
                // One statement for the whole batch: the keys it could claim come back.
                let values: Vec<String> = (0..keys.len()).map(|i| format!("(${}, $2)", i + 3)).collect();
                let sql = format!(
                    "INSERT INTO key_claims (key, until) VALUES {} ON CONFLICT (key) DO UPDATE SET until = excluded.until
                     WHERE key_claims.until < $1 RETURNING key",
                    values.join(", ")
                );
                let mut bound: Vec<&dyn db::Bind> = vec![&now_ms, &until];
                bound.extend(claim_keys.iter().map(|k| k as &dyn db::Bind));
                // A claim lost at a power cut is harmless (the request holding it fails with the
                // database, and a claim only keeps two requests from one key at once): its commit
                // is not waited on to reach the disk, which saves a batch one of its two syncs.
                self.db.write_volatile(|tx| {
                    let taken = tx.query(&sql, &bound)?.iter().map(|r| r.get::<String>(0)).collect::<Result<HashSet<_>, _>>()?;
                    let claimed = claim_keys.iter().take_while(|key| taken.contains(*key)).count();
                    // Those after the first key in flight are not the request's to hold.
                    let extra: Vec<String> = claim_keys[claimed..].iter().filter(|key| taken.contains(*key)).cloned().collect();
                    if !extra.is_empty() {
                        let extra = extra.as_slice();
                        tx.execute("DELETE FROM key_claims WHERE key = ANY($1)", args![extra])?;
                    }
                    Ok((claimed, answers_to(tx, kiosk, &keys[..claimed])?))
                })
            }
        }
    }

    /// Ends the claims on these keys of `kiosk`'s.
    pub fn release(&self, kiosk: &str, keys: &[String]) -> Result<(), StoreError> {
        self.release_claims(&claim_keys(kiosk, keys))
    }

    fn release_claims(&self, claim_keys: &[String]) -> Result<(), StoreError> {
        match self.db.dialect() {
            Dialect::Sqlite => {
                let mut claims = self.claims.lock().unwrap_or_else(|e| e.into_inner());
                for key in claim_keys {
                    claims.remove(key);
                }
                Ok(())
            }
            Dialect::Postgres if claim_keys.is_empty() => Ok(()),
            Dialect::Postgres => {
                self.db.write_volatile(|tx| tx.execute("DELETE FROM key_claims WHERE key = ANY($1)", args![claim_keys]).map(drop))
            }
        }
    }

    /// Stores several applications in one transaction (one fsync), in order, each with its
    /// first status and the answer to its idempotency key: a key recorded before gets its first
    /// answer back and stores nothing. The same transaction ends the claims the
    /// request holds on `claimed`, keys of `kiosk`'s (see
    /// [`claim_and_look_up`](Self::claim_and_look_up)); if it fails, they are still held.
    pub fn record_applications(
        &self,
        applications: &[NewApplication<'_>],
        kiosk: &str,
        claimed: &[String],
    ) -> Result<Vec<Recorded>, StoreError> {
        // Sealed and written out before the transaction: it holds only the statements.
        let rows = applications.iter().map(|new| ApplicationRowToStore::new(self, new)).collect::<Result<Vec<_>, _>>()?;
        let claim_keys = claim_keys(kiosk, claimed);
        let recorded = self.db.write(|tx| {
            let recorded = insert_applications(tx, &rows)?;
            if tx.dialect() == Dialect::Postgres && !claim_keys.is_empty() {
                let keys = claim_keys.as_slice();
                tx.execute("DELETE FROM key_claims WHERE key = ANY($1)", args![keys])?;
            }
            Ok::<_, StoreError>(recorded)
        })?;
        if self.db.dialect() == Dialect::Sqlite {
            self.release_claims(&claim_keys)?;
        }
        Ok(recorded)
    }

    /// Records a kiosk's event once. Returns `false` if an event with this id but another
    /// body was recorded before (a kiosk bug: the id was reused).
    pub fn record_event(&self, event: &KioskEvent) -> Result<bool, StoreError> {
        let body = to_json(event)?;
        let (kind, severity) = (to_json(&event.kind)?, to_json(&event.severity)?);
        self.db.write(|tx| {
            let new = tx.execute(
                "INSERT INTO kiosk_events (event_id, kiosk_id, centre_id, kind, severity, detail, at, received_at, body)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (event_id) DO NOTHING",
                args![
                    event.event_id.to_string(),
                    event.kiosk_id,
                    event.centre_id,
                    kind.trim_matches('"'),
                    severity.trim_matches('"'),
                    event.detail,
                    event.at.to_string(),
                    Timestamp::now().to_string(),
                    body
                ],
            )?;
            if new == 1 {
                self.event_alert(tx, event, Timestamp::now().as_millisecond())?;
            }
            let stored: String =
                tx.query_one("SELECT body FROM kiosk_events WHERE event_id = $1", args![event.event_id.to_string()])?.get(0)?;
            Ok(stored == body)
        })
    }

    /// The payment terminals' closed days, newest first: each `day-closed` event with its
    /// totals.
    pub fn payment_days(&self, limit: u32) -> Result<Vec<KioskEvent>, StoreError> {
        self.events("SELECT body FROM kiosk_events WHERE kind = 'day-closed' ORDER BY at DESC, rowid DESC LIMIT $1", limit)
    }

    /// The latest events, newest first.
    pub fn recent_events(&self, limit: u32) -> Result<Vec<KioskEvent>, StoreError> {
        self.events("SELECT body FROM kiosk_events ORDER BY received_at DESC, rowid DESC LIMIT $1", limit)
    }

    /// One kiosk's events, newest first.
    pub fn events_of(&self, kiosk_id: &str, limit: u32) -> Result<Vec<KioskEvent>, StoreError> {
        let rows = self.db.read(|tx| {
            tx.query(
                "SELECT body FROM kiosk_events WHERE kiosk_id = $1 ORDER BY received_at DESC, rowid DESC LIMIT $2",
                args![kiosk_id, limit],
            )
        })?;
        rows.iter()
            .map(|row| serde_json::from_str(&row.get::<String>(0)?).map_err(|e| StoreError::Corrupt(format!("event: {e}"))))
            .collect()
    }

    fn events(&self, sql: &str, limit: u32) -> Result<Vec<KioskEvent>, StoreError> {
        let rows = self.db.read(|tx| tx.query(sql, args![limit]))?;
        rows.iter()
            .map(|row| serde_json::from_str(&row.get::<String>(0)?).map_err(|e| StoreError::Corrupt(format!("event: {e}"))))
            .collect()
    }

    /// An application's status, for the kiosks of `centre` only (`None` for the rest: another
    /// centre's application reads as no application at all). `None` as centre: any (staff).
    pub fn application_status(&self, id: Uuid, centre: Option<&str>) -> Result<Option<ApplicationStatus>, StoreError> {
        let id_text = id.to_string();
        let (row, history) = self.db.read(|tx| {
            let row = tx.query_opt("SELECT reference, service_id, state, centre_id FROM applications WHERE id = $1", args![id_text])?;
            Ok::<_, StoreError>((row, status::history_of(tx, &id_text)?))
        })?;
        let Some(row) = row else { return Ok(None) };
        let (reference, service_id, state, at): (String, String, String, String) = (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?);
        if centre.is_some_and(|c| c != at) {
            return Ok(None);
        }
        Ok(Some(ApplicationStatus { application_id: id, reference, service_id, state: parse_state(&state)?, history }))
    }

    /// The most recently received applications, newest first.
    pub fn recent_applications(&self, limit: u32) -> Result<Vec<ApplicationRow>, StoreError> {
        let rows = self.db.read(|tx| {
            tx.query(
                "SELECT id, reference, kiosk_id, service_id, state, fee_avos, payment IS NOT NULL, received_at, sealed, identity_method, centre_id
                 FROM applications ORDER BY received_at DESC, rowid DESC LIMIT $1",
                args![limit],
            )
        })?;
        rows.iter()
            .map(|row| {
                let id: String = row.get(0)?;
                let identified_by = row
                    .get::<Option<String>>(9)?
                    .map(|m| serde_json::from_str(&m).map_err(|e| StoreError::Corrupt(format!("application {id} identity method: {e}"))))
                    .transpose()?;
                // Purged applications keep no identity proof.
                let identity =
                    row.get::<Option<Vec<u8>>>(8)?.map(|sealed| self.open_application(&id, &sealed)).transpose()?.and_then(|a| a.identity);
                Ok(ApplicationRow {
                    id: id.parse().map_err(|_| StoreError::Corrupt(format!("application id {id}")))?,
                    reference: row.get(1)?,
                    kiosk_id: row.get(2)?,
                    centre_id: row.get(10)?,
                    service_id: row.get(3)?,
                    state: parse_state(&row.get::<String>(4)?)?,
                    fee_avos: row.get(5)?,
                    paid: row.get(6)?,
                    received_at: row.get(7)?,
                    identity,
                    identified_by,
                })
            })
            .collect()
    }

    /// How many applications central holds (tests use it to prove a repeat stored nothing
    /// twice).
    pub fn count_applications(&self) -> Result<u64, StoreError> {
        self.db.read(|tx| tx.query_one("SELECT COUNT(*) FROM applications", args![])?.get(0))
    }

    /// Forgets idempotency keys older than `before` (kept at least 30 days by the caller).
    pub fn purge_idempotency_keys(&self, before: Timestamp) -> Result<usize, StoreError> {
        self.db.write(|tx| purge_idempotency_keys(tx, before))
    }
}

/// An empty document, where one was purged or sealed elsewhere.
const EMPTY: &[u8] = &[];

fn purge_idempotency_keys(tx: &mut Tx<'_>, before: Timestamp) -> Result<usize, StoreError> {
    Ok(tx.execute("DELETE FROM idempotency_keys WHERE created_at < $1", args![before.as_second()])? as usize)
}

fn purge_personal_data(tx: &mut Tx<'_>, before: Timestamp) -> Result<usize, StoreError> {
    let settled = "state IN ('collected', 'rejected') AND received_at < $1";
    tx.execute(
        &format!(
            "UPDATE certificates SET sealed_holder = NULL, sealed_document = NULL, holder = '', document = $2
             WHERE application_id IN (SELECT id FROM applications WHERE {settled})"
        ),
        args![before.to_string(), EMPTY],
    )?;
    let purged = tx.execute(
        &format!("UPDATE applications SET sealed = NULL, answers = '', identity = NULL, holder_index = NULL WHERE sealed IS NOT NULL AND {settled}"),
        args![before.to_string()],
    )?;
    Ok(purged as usize)
}

/// Opens (or creates) a SQLite database: owner-only files, WAL, full sync, and its schema
/// brought up to date (or refused if newer than this central's).
fn open_sqlite(path: &Path) -> Result<Connection, StoreError> {
    // The files are the owner's only, before SQLite writes a byte to them (its WAL and
    // shared-memory files take the database file's mode).
    private_file(path)?;
    for suffix in ["-wal", "-shm"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        if Path::new(&side).exists() {
            private_file(Path::new(&side))?;
        }
    }
    let mut conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Deleted and replaced content is overwritten, not left in free pages.
    conn.pragma_update(None, "secure_delete", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let found: usize = conn.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))?.try_into().unwrap_or(usize::MAX);
    let known = SQLITE_MIGRATIONS;
    if found > known {
        return Err(StoreError::SchemaTooNew { found, known });
    }
    migrations().to_latest(&mut conn)?;
    Ok(conn)
}

/// How many steps SQLite's schema has (its `user_version` when up to date).
const SQLITE_MIGRATIONS: usize = 23;

/// The answer recorded for an idempotency key, if any.
/// An application to store, with its idempotency key, the hash of its request and the
/// receipt central gives it.
#[derive(Clone, Copy, Debug)]
pub struct NewApplication<'a> {
    pub key: &'a str,
    pub request_hash: &'a str,
    pub submission: &'a ApplicationSubmission,
    pub receipt: &'a ApplicationReceipt,
}

/// What central holds under an application's idempotency key, for the kiosk asking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// The answer this kiosk was given (a repeat with another body is refused by the caller,
    /// which compares the hashes).
    Answer(StoredResponse),
    /// The id is another kiosk's application: refused, and nothing of it told.
    Taken,
}

/// An application as it is stored: sealed, and each column written out.
struct ApplicationRowToStore<'a> {
    key: &'a str,
    kiosk_id: &'a str,
    id: String,
    reference: &'a str,
    centre_id: &'a str,
    service_id: &'a str,
    language: &'a str,
    fee: i64,
    payment: Option<String>,
    submitted_at: String,
    received_at: String,
    state: &'a str,
    identity_method: Option<String>,
    request_hash: &'a str,
    sealed: Vec<u8>,
    /// The blind index of the applicant's document number (see [`status`]), if the form has one.
    holder_index: Option<String>,
    receipt: String,
    received_second: i64,
}

impl<'a> ApplicationRowToStore<'a> {
    fn new(store: &Store, new: &'a NewApplication<'a>) -> Result<Self, StoreError> {
        let (submission, receipt) = (new.submission, new.receipt);
        let id = submission.application_id.to_string();
        let personal = SealedApplication { answers: submission.answers.clone(), identity: submission.identity.clone() };
        Ok(Self {
            key: new.key,
            kiosk_id: &submission.kiosk_id,
            sealed: store.seal_application(&id, &personal)?,
            holder_index: status::holder_index_of(store, &submission.answers),
            id,
            reference: &submission.reference,
            centre_id: &submission.centre_id,
            service_id: &submission.service_id,
            language: submission.language.tag(),
            fee: i64::try_from(submission.fee_avos).map_err(|_| StoreError::Corrupt(format!("fee {} too large", submission.fee_avos)))?,
            payment: submission.payment.as_ref().map(to_json).transpose()?,
            submitted_at: submission.submitted_at.to_string(),
            received_at: receipt.received_at.to_string(),
            state: receipt.state.as_str(),
            identity_method: submission.identity.as_ref().map(|i| to_json(&i.method)).transpose()?,
            request_hash: new.request_hash,
            receipt: to_json(receipt)?,
            received_second: receipt.received_at.as_second(),
        })
    }
}

/// Stores the applications not stored before, each with its first status and its key's
/// answer, in three statements whatever their number (round trips are what a database server
/// costs); an application stored before gets its recorded answer back.
fn insert_applications(tx: &mut Tx<'_>, rows: &[ApplicationRowToStore<'_>]) -> Result<Vec<Recorded>, StoreError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    const COLUMNS: usize = 15;
    let values: Vec<String> = (0..rows.len())
        .map(|i| {
            let p = |n: usize| format!("${}", i * COLUMNS + n);
            format!(
                "({}, {}, {}, {}, {}, {}, '', {}, {}, {}, {}, {}, {}, {}, {}, {})",
                p(1),
                p(2),
                p(3),
                p(4),
                p(5),
                p(6),
                p(7),
                p(8),
                p(9),
                p(10),
                p(11),
                p(12),
                p(13),
                p(14),
                p(15)
            )
        })
        .collect();
    let mut bound: Vec<&dyn db::Bind> = Vec::with_capacity(rows.len() * COLUMNS);
    for r in rows {
        bound.extend([
            &r.id as &dyn db::Bind,
            &r.reference,
            &r.kiosk_id,
            &r.centre_id,
            &r.service_id,
            &r.language,
            &r.fee,
            &r.payment,
            &r.submitted_at,
            &r.received_at,
            &r.state,
            &r.identity_method,
            &r.request_hash,
            &r.sealed,
            &r.holder_index,
        ]);
    }
    let sql = format!(
        "INSERT INTO applications (id, reference, kiosk_id, centre_id, service_id, language, answers, fee_avos, payment, submitted_at,
             received_at, state, identity_method, request_hash, sealed, holder_index)
         VALUES {} ON CONFLICT (id) DO NOTHING RETURNING id",
        values.join(", ")
    );
    let inserted = tx.query(&sql, &bound)?.iter().map(|r| r.get::<String>(0)).collect::<Result<HashSet<_>, _>>()?;
    let new: Vec<&ApplicationRowToStore<'_>> = rows.iter().filter(|r| inserted.contains(&r.id)).collect();
    if !new.is_empty() {
        let history: Vec<String> = (0..new.len()).map(|i| format!("({})", db::placeholders(i * 3 + 1, 3))).collect();
        let bound: Vec<&dyn db::Bind> = new.iter().flat_map(|r| [&r.id as &dyn db::Bind, &r.state, &r.received_at]).collect();
        tx.execute(&format!("INSERT INTO status_history (application_id, state, at) VALUES {}", history.join(", ")), &bound)?;
        let keys: Vec<String> = (0..new.len())
            .map(|i| {
                let p = |n: usize| format!("${}", i * 5 + n);
                format!("({}, {}, 201, {}, {}, {})", p(1), p(2), p(3), p(4), p(5))
            })
            .collect();
        let bound: Vec<&dyn db::Bind> =
            new.iter().flat_map(|r| [&r.key as &dyn db::Bind, &r.request_hash, &r.receipt, &r.received_second, &r.kiosk_id]).collect();
        tx.execute(
            &format!("INSERT INTO idempotency_keys (key, request_hash, status, response, created_at, kiosk_id) VALUES {}", keys.join(", ")),
            &bound,
        )?;
    }
    rows.iter()
        .map(|r| {
            if inserted.contains(&r.id) {
                return Ok(Recorded::Answer(StoredResponse {
                    request_hash: r.request_hash.to_string(),
                    status: 201,
                    body: r.receipt.clone(),
                }));
            }
            recorded(tx, r.kiosk_id, r.key)?.ok_or_else(|| StoreError::Corrupt(format!("application {} neither stored nor found", r.id)))
        })
        .collect()
}

/// The claim on `kiosk`'s idempotency key: keys are the kiosk's own, so one kiosk's key in
/// flight tells another nothing.
fn claim_keys(kiosk: &str, keys: &[String]) -> Vec<String> {
    keys.iter().map(|key| format!("{kiosk}/{key}")).collect()
}

/// The answers recorded for these keys of `kiosk`'s, in their order: in one query, and a key
/// with none may still be an application whose key was purged, looked for in one more.
fn answers_to(tx: &mut Tx<'_>, kiosk: &str, keys: &[String]) -> Result<Vec<Option<Recorded>>, StoreError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let (key_is, bound) = db::one_of(tx.dialect(), "key", 1, &keys);
    let (id_is, _) = db::one_of(tx.dialect(), "id", 1, &keys);
    let mut answers = HashMap::new();
    for row in tx.query(&format!("SELECT key, request_hash, status, response, kiosk_id FROM idempotency_keys WHERE {key_is}"), &bound)? {
        answers.insert(row.get::<String>(0)?, answer_of(&row, 1, kiosk)?);
    }
    let applications = if answers.len() < keys.len() {
        let found = tx.query(&format!("SELECT id FROM applications WHERE {id_is}"), &bound)?;
        found.iter().map(|r| r.get::<String>(0)).collect::<Result<HashSet<_>, _>>()?
    } else {
        HashSet::new()
    };
    keys.iter()
        .map(|key| match answers.remove(key) {
            Some(answer) => Ok(Some(answer)),
            None if applications.contains(key) => recorded_application(tx, kiosk, key),
            None => Ok(None),
        })
        .collect()
}

/// What is recorded under application `key` for `kiosk`: its answer while the key is kept; after
/// the key was purged, the application's own receipt (same kiosk and same request only); or
/// [`Recorded::Taken`] when the id is another kiosk's.
fn recorded(tx: &mut Tx<'_>, kiosk: &str, key: &str) -> Result<Option<Recorded>, StoreError> {
    let answer = tx.query_opt("SELECT request_hash, status, response, kiosk_id FROM idempotency_keys WHERE key = $1", args![key])?;
    match answer {
        Some(row) => answer_of(&row, 0, kiosk).map(Some),
        None => recorded_application(tx, kiosk, key),
    }
}

/// The answer in a row of `idempotency_keys` (request hash, status, response, kiosk from
/// column `first` on), as `kiosk` may see it.
fn answer_of(row: &db::Row, first: usize, kiosk: &str) -> Result<Recorded, StoreError> {
    let answer = StoredResponse { request_hash: row.get(first)?, status: row.get(first + 1)?, body: row.get(first + 2)? };
    Ok(if row.get::<String>(first + 3)? == kiosk { Recorded::Answer(answer) } else { Recorded::Taken })
}

/// What an application with id `key` tells `kiosk` once its key's answer was purged: its own
/// receipt (same kiosk only), [`Recorded::Taken`], or nothing.
fn recorded_application(tx: &mut Tx<'_>, kiosk: &str, key: &str) -> Result<Option<Recorded>, StoreError> {
    let application =
        tx.query_opt("SELECT kiosk_id, request_hash, reference, state, received_at FROM applications WHERE id = $1", args![key])?;
    let Some(row) = application else { return Ok(None) };
    if row.get::<String>(0)? != kiosk {
        return Ok(Some(Recorded::Taken));
    }
    let receipt = ApplicationReceipt {
        application_id: key.parse().map_err(|_| StoreError::Corrupt(format!("application id {key}")))?,
        reference: row.get(2)?,
        state: parse_state(&row.get::<String>(3)?)?,
        received_at: row.get::<String>(4)?.parse().map_err(|e: jiff::Error| StoreError::Corrupt(e.to_string()))?,
    };
    let request_hash: Option<String> = row.get(1)?;
    Ok(Some(Recorded::Answer(StoredResponse { request_hash: request_hash.unwrap_or_default(), status: 201, body: to_json(&receipt)? })))
}

fn parse_state(s: &str) -> Result<ApplicationState, StoreError> {
    ApplicationState::parse(s).ok_or_else(|| StoreError::Corrupt(format!("unknown state {s:?}")))
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}
