//! Central's database: the catalog, received applications with their status history, and the
//! idempotency records that make repeated writes safe. SQLite in WAL mode with
//! `synchronous=FULL`: an application is on disk before its receipt is sent.
//!
//! Its files are its owner's only (0600). Personal data — an application's answers and identity
//! proof, a certificate's holder check and document — is sealed with a key kept in its own file
//! ([`KeyFiles`]), never in the database, and purged after the retention period; deleted data is
//! overwritten (`secure_delete`). The identity provider's private signing keys live in a file of
//! their own too (see `issuer.rs`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use balcao_backend_client::api::{
    Answer, ApplicationReceipt, ApplicationState, ApplicationStatus, ApplicationSubmission, Catalog, IdentityProof, KioskEvent,
    StatusChange,
};
use balcao_backend_client::seal::{DataKey, KeyError};
use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};
use rusqlite_migration::{M, Migrations};
use uuid::Uuid;

mod certificates;
mod issuer;
mod queue;

pub use certificates::{FeedError, IssueError, PickupFiled, PickupRow};
pub use issuer::{Citizen, StoredIssuerKey};
pub use queue::{QueueDay, TicketFiled, TicketNumberReused};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database migration failed")]
    Migration(#[from] rusqlite_migration::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("the data key file {} does not open this database (wrong key, or the database was altered)", .0.display())]
    WrongKey(PathBuf),
    #[error("cannot make {} private to its owner", path.display())]
    Private { path: PathBuf, source: std::io::Error },
}

/// Where central keeps its keys, outside the database: the key that seals personal data, and
/// the identity provider's private signing keys. Both files are the owner's only; a real
/// deployment keeps the signing keys in a hardware security module instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyFiles {
    pub data_key: PathBuf,
    pub identity_provider: PathBuf,
}

impl KeyFiles {
    /// In a folder beside the database: `central.db` → `central-keys/`.
    pub fn beside(database: &Path) -> Self {
        let stem = database.file_stem().map_or_else(|| "central".into(), |s| s.to_string_lossy().into_owned());
        Self::in_folder(&database.with_file_name(format!("{stem}-keys")))
    }

    /// In `folder`: `data.key` and `identity-provider.keys`.
    pub fn in_folder(folder: &Path) -> Self {
        Self { data_key: folder.join("data.key"), identity_provider: folder.join("identity-provider.keys") }
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
    ])
}

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
    conn: Mutex<Connection>,
    key: DataKey,
    /// The identity provider's private signing keys (see `issuer.rs`).
    issuer_keys: PathBuf,
}

impl Store {
    /// Opens (or creates) the database at `path`, its personal data sealed with the key in
    /// `keys` (made on a new database; a database with another key is refused).
    pub fn open(path: &Path, keys: &KeyFiles) -> Result<Self, StoreError> {
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
        migrations().to_latest(&mut conn)?;
        let key = Self::data_key(&conn, &keys.data_key)?;
        let store = Self { conn: Mutex::new(conn), key, issuer_keys: keys.identity_provider.clone() };
        store.seal_plaintext()?;
        store.move_issuer_keys_out()?;
        Ok(store)
    }

    /// The data key: the one this database was sealed with (refused if the file holds
    /// another), or a new one for a database that has none yet.
    fn data_key(conn: &Connection, file: &Path) -> Result<DataKey, StoreError> {
        let check: Option<Vec<u8>> = conn.query_row("SELECT value FROM meta WHERE key = 'key-check'", [], |r| r.get(0)).optional()?;
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
                conn.execute("INSERT INTO meta (key, value) VALUES ('key-check', ?1)", [check])?;
                Ok(key)
            }
        }
    }

    /// Seals what a database from before sealing holds in clear, once.
    fn seal_plaintext(&self) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let clear: Vec<(String, String, Option<String>)> = tx
            .prepare("SELECT id, answers, identity FROM applications WHERE sealed IS NULL AND answers <> ''")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        for (id, answers, identity) in &clear {
            let answers = serde_json::from_str(answers).map_err(|e| StoreError::Corrupt(format!("application {id} answers: {e}")))?;
            let identity: Option<IdentityProof> = identity
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|e| StoreError::Corrupt(format!("application {id} identity: {e}")))?;
            let method = identity.as_ref().map(|i| to_json(&i.method)).transpose()?;
            let sealed = self.seal_application(id, &SealedApplication { answers, identity })?;
            tx.execute(
                "UPDATE applications SET sealed = ?2, identity_method = ?3, answers = '', identity = NULL WHERE id = ?1",
                params![id, sealed, method],
            )?;
        }
        let clear: Vec<(String, String, Vec<u8>)> = tx
            .prepare("SELECT application_id, holder, document FROM certificates WHERE sealed_holder IS NULL AND holder <> ''")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        for (id, holder, document) in &clear {
            let (holder, document) = self.seal_certificate(id, holder.as_bytes(), document)?;
            tx.execute(
                "UPDATE certificates SET sealed_holder = ?2, sealed_document = ?3, holder = '', document = x'' WHERE application_id = ?1",
                params![id, holder, document],
            )?;
        }
        tx.commit()?;
        if !clear.is_empty() {
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
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let settled = "state IN ('collected', 'rejected') AND received_at < ?1";
        tx.execute(
            &format!(
                "UPDATE certificates SET sealed_holder = NULL, sealed_document = NULL, holder = '', document = x''
                 WHERE application_id IN (SELECT id FROM applications WHERE {settled})"
            ),
            [before.to_string()],
        )?;
        let purged = tx.execute(
            &format!("UPDATE applications SET sealed = NULL, answers = '', identity = NULL WHERE sealed IS NOT NULL AND {settled}"),
            [before.to_string()],
        )?;
        tx.commit()?;
        Ok(purged)
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic mid-transaction rolls the transaction back when it is dropped, so the
        // connection is consistent even if the lock was poisoned.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn catalog(&self) -> Result<Option<StoredCatalog>, StoreError> {
        let conn = self.conn();
        let row: Option<(String, String)> =
            conn.query_row("SELECT etag, body FROM catalog WHERE id = 1", [], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
        row.map(|(etag, body)| {
            let catalog = serde_json::from_str(&body).map_err(|e| StoreError::Corrupt(format!("catalog: {e}")))?;
            Ok(StoredCatalog { etag, body, catalog })
        })
        .transpose()
    }

    pub fn replace_catalog(&self, catalog: &StoredCatalog) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO catalog (id, etag, body, updated_at) VALUES (1, ?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET etag = excluded.etag, body = excluded.body, updated_at = excluded.updated_at",
            params![catalog.etag, catalog.body, Timestamp::now().to_string()],
        )?;
        Ok(())
    }

    /// The answer `kiosk` was given for its application `key`, if any (see [`Recorded`]).
    pub fn idempotent_response(&self, kiosk: &str, key: &str) -> Result<Option<Recorded>, StoreError> {
        recorded(&self.conn(), kiosk, key)
    }

    /// The answers recorded for these keys of `kiosk`'s, in their order.
    pub fn idempotent_responses(&self, kiosk: &str, keys: &[String]) -> Result<Vec<Option<Recorded>>, StoreError> {
        let conn = self.conn();
        keys.iter().map(|key| recorded(&conn, kiosk, key)).collect()
    }

    /// Stores the application, its first status and the answer to its idempotency key in one
    /// transaction. If the key was recorded meanwhile, stores nothing and returns that answer.
    pub fn record_application(
        &self,
        key: &str,
        request_hash: &str,
        submission: &ApplicationSubmission,
        receipt: &ApplicationReceipt,
    ) -> Result<Recorded, StoreError> {
        let mut stored = self.record_applications(&[NewApplication { key, request_hash, submission, receipt }])?;
        stored.pop().ok_or_else(|| StoreError::Corrupt("no answer recorded".into()))
    }

    /// Stores several applications in one transaction (one fsync), in order, each as
    /// [`record_application`](Self::record_application) would: a key recorded before gets
    /// its first answer back and stores nothing.
    pub fn record_applications(&self, applications: &[NewApplication<'_>]) -> Result<Vec<Recorded>, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut answers = Vec::with_capacity(applications.len());
        for new in applications {
            answers.push(insert_application(self, &tx, new)?);
        }
        tx.commit()?;
        Ok(answers)
    }

    /// Records a kiosk's event once. Returns `false` if an event with this id but another
    /// body was recorded before (a kiosk bug: the id was reused).
    pub fn record_event(&self, event: &KioskEvent) -> Result<bool, StoreError> {
        let body = to_json(event)?;
        let conn = self.conn();
        conn.execute(
            "INSERT INTO kiosk_events (event_id, kiosk_id, centre_id, kind, severity, detail, at, received_at, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (event_id) DO NOTHING",
            params![
                event.event_id.to_string(),
                event.kiosk_id,
                event.centre_id,
                to_json(&event.kind)?.trim_matches('"'),
                to_json(&event.severity)?.trim_matches('"'),
                event.detail,
                event.at.to_string(),
                Timestamp::now().to_string(),
                body
            ],
        )?;
        let stored: String =
            conn.query_row("SELECT body FROM kiosk_events WHERE event_id = ?1", [event.event_id.to_string()], |r| r.get(0))?;
        Ok(stored == body)
    }

    /// The payment terminals' closed days, newest first: each `day-closed` event with its
    /// totals.
    pub fn payment_days(&self, limit: u32) -> Result<Vec<KioskEvent>, StoreError> {
        let conn = self.conn();
        let mut statement =
            conn.prepare("SELECT body FROM kiosk_events WHERE kind = 'day-closed' ORDER BY at DESC, rowid DESC LIMIT ?1")?;
        let rows = statement.query_map([limit], |r| r.get::<_, String>(0))?;
        rows.map(|body| serde_json::from_str(&body?).map_err(|e| StoreError::Corrupt(format!("event: {e}")))).collect()
    }

    /// The latest events, newest first.
    pub fn recent_events(&self, limit: u32) -> Result<Vec<KioskEvent>, StoreError> {
        let conn = self.conn();
        let mut statement = conn.prepare("SELECT body FROM kiosk_events ORDER BY received_at DESC, rowid DESC LIMIT ?1")?;
        let rows = statement.query_map([limit], |r| r.get::<_, String>(0))?;
        rows.map(|body| serde_json::from_str(&body?).map_err(|e| StoreError::Corrupt(format!("event: {e}")))).collect()
    }

    /// An application's status, for the kiosks of `centre` only (`None` for the rest: another
    /// centre's application reads as no application at all). `None` as centre: any (staff).
    pub fn application_status(&self, id: Uuid, centre: Option<&str>) -> Result<Option<ApplicationStatus>, StoreError> {
        let conn = self.conn();
        let row: Option<(String, String, String, String)> = conn
            .query_row("SELECT reference, service_id, state, centre_id FROM applications WHERE id = ?1", [id.to_string()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()?;
        let Some((reference, service_id, state, _)) = row.filter(|(.., at)| centre.is_none_or(|c| c == at)) else { return Ok(None) };
        let mut statement = conn.prepare("SELECT state, at FROM status_history WHERE application_id = ?1 ORDER BY rowid")?;
        let history = statement
            .query_map([id.to_string()], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
            .map(|row| {
                let (state, at) = row?;
                Ok(StatusChange {
                    state: parse_state(&state)?,
                    at: at.parse().map_err(|e: jiff::Error| StoreError::Corrupt(e.to_string()))?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Some(ApplicationStatus { application_id: id, reference, service_id, state: parse_state(&state)?, history }))
    }

    /// The most recently received applications, newest first.
    pub fn recent_applications(&self, limit: u32) -> Result<Vec<ApplicationRow>, StoreError> {
        let conn = self.conn();
        let mut statement = conn.prepare(
            "SELECT id, reference, kiosk_id, service_id, state, fee_avos, payment IS NOT NULL, received_at, sealed, identity_method
             FROM applications ORDER BY received_at DESC, rowid DESC LIMIT ?1",
        )?;
        statement
            .query_map([limit], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get::<_, Option<Vec<u8>>>(8)?,
                    r.get::<_, Option<String>>(9)?,
                ))
            })?
            .map(|row| {
                let (id, reference, kiosk_id, service_id, state, fee, paid, received_at, sealed, method) = row?;
                let identified_by = method
                    .map(|m| serde_json::from_str(&m).map_err(|e| StoreError::Corrupt(format!("application {id} identity method: {e}"))))
                    .transpose()?;
                // Purged applications keep no identity proof.
                let identity = sealed.map(|sealed| self.open_application(&id, &sealed)).transpose()?.and_then(|a| a.identity);
                Ok(ApplicationRow {
                    id: id.parse().map_err(|_| StoreError::Corrupt(format!("application id {id}")))?,
                    reference,
                    kiosk_id,
                    service_id,
                    state: parse_state(&state)?,
                    fee_avos: fee as u64,
                    paid,
                    received_at,
                    identity,
                    identified_by,
                })
            })
            .collect()
    }

    /// How many applications carry this id (0 or 1, enforced by the primary key; tests use it
    /// to prove a repeat stored nothing twice).
    pub fn count_applications(&self) -> Result<u64, StoreError> {
        Ok(self.conn().query_row("SELECT COUNT(*) FROM applications", [], |r| r.get::<_, i64>(0))? as u64)
    }

    /// Forgets idempotency keys older than `before` (kept at least 30 days by the caller).
    pub fn purge_idempotency_keys(&self, before: Timestamp) -> Result<usize, StoreError> {
        Ok(self.conn().execute("DELETE FROM idempotency_keys WHERE created_at < ?1", [before.as_second()])?)
    }
}

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

fn insert_application(store: &Store, tx: &rusqlite::Transaction<'_>, new: &NewApplication<'_>) -> Result<Recorded, StoreError> {
    let (submission, receipt) = (new.submission, new.receipt);
    if let Some(existing) = recorded(tx, &submission.kiosk_id, new.key)? {
        return Ok(existing);
    }
    let personal = SealedApplication { answers: submission.answers.clone(), identity: submission.identity.clone() };
    let sealed = store.seal_application(&submission.application_id.to_string(), &personal)?;
    let received_at = receipt.received_at.to_string();
    tx.prepare_cached(
        "INSERT INTO applications (id, reference, kiosk_id, centre_id, service_id, language, answers, fee_avos, payment, submitted_at, received_at, state, identity_method, request_hash, sealed)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, '', ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?
    .execute(params![
        submission.application_id.to_string(),
        submission.reference,
        submission.kiosk_id,
        submission.centre_id,
        submission.service_id,
        submission.language.tag(),
        submission.fee_avos as i64,
        submission.payment.as_ref().map(to_json).transpose()?,
        submission.submitted_at.to_string(),
        received_at,
        receipt.state.as_str(),
        submission.identity.as_ref().map(|i| to_json(&i.method)).transpose()?,
        new.request_hash,
        sealed,
    ])?;
    tx.prepare_cached("INSERT INTO status_history (application_id, state, at) VALUES (?1, ?2, ?3)")?.execute(params![
        submission.application_id.to_string(),
        receipt.state.as_str(),
        received_at
    ])?;
    let response = StoredResponse { request_hash: new.request_hash.to_string(), status: 201, body: to_json(receipt)? };
    tx.prepare_cached(
        "INSERT INTO idempotency_keys (key, request_hash, status, response, created_at, kiosk_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        new.key,
        response.request_hash,
        response.status,
        response.body,
        receipt.received_at.as_second(),
        submission.kiosk_id
    ])?;
    Ok(Recorded::Answer(response))
}

/// What is recorded under application `key` for `kiosk`: its answer while the key is kept; after
/// the key was purged, the application's own receipt (same kiosk and same request only); or
/// [`Recorded::Taken`] when the id is another kiosk's.
fn recorded(conn: &Connection, kiosk: &str, key: &str) -> Result<Option<Recorded>, StoreError> {
    let answer = conn
        .prepare_cached("SELECT request_hash, status, response, kiosk_id FROM idempotency_keys WHERE key = ?1")?
        .query_row([key], |r| Ok((StoredResponse { request_hash: r.get(0)?, status: r.get(1)?, body: r.get(2)? }, r.get::<_, String>(3)?)))
        .optional()?;
    if let Some((answer, owner)) = answer {
        return Ok(Some(if owner == kiosk { Recorded::Answer(answer) } else { Recorded::Taken }));
    }
    let application = conn
        .prepare_cached("SELECT kiosk_id, request_hash, reference, state, received_at FROM applications WHERE id = ?1")?
        .query_row([key], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
            ))
        })
        .optional()?;
    let Some((owner, request_hash, reference, state, received_at)) = application else { return Ok(None) };
    if owner != kiosk {
        return Ok(Some(Recorded::Taken));
    }
    let receipt = ApplicationReceipt {
        application_id: key.parse().map_err(|_| StoreError::Corrupt(format!("application id {key}")))?,
        reference,
        state: parse_state(&state)?,
        received_at: received_at.parse().map_err(|e: jiff::Error| StoreError::Corrupt(e.to_string()))?,
    };
    Ok(Some(Recorded::Answer(StoredResponse { request_hash: request_hash.unwrap_or_default(), status: 201, body: to_json(&receipt)? })))
}

fn parse_state(s: &str) -> Result<ApplicationState, StoreError> {
    ApplicationState::parse(s).ok_or_else(|| StoreError::Corrupt(format!("unknown state {s:?}")))
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}
