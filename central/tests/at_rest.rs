//! What central leaves on disk: its database and key files are their owner's only, the
//! database holds no citizen's name, document number or birth date in clear and no private
//! signing key, a database opened with another key is refused, and a settled application's
//! personal data is purged after the retention period.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use balcao_backend_client::api::{ApplicationSubmission, HolderCheck, IdentityMethod, IdentityProof, Language};
use balcao_central::tls::Peer;
use balcao_central::{Central, CentralOptions, KeyFiles};
use tower::ServiceExt;
use uuid::Uuid;

mod common;

const NAME: &str = "CHAN TAI MAN";
const DOCUMENT: &str = "1234567(8)";
const BIRTH: &str = "1985-03-14";

/// An application for the criminal record certificate, its applicant identified by the app.
fn application() -> ApplicationSubmission {
    let mut application = common::submission();
    application.language = Language::En;
    application.identity = Some(IdentityProof { method: IdentityMethod::App, holder: HolderCheck::new([9; 16], DOCUMENT) });
    application
}

async fn submit(central: &Central, application: &ApplicationSubmission) -> StatusCode {
    let mut request = Request::post("/v1/applications")
        .header(header::CONTENT_TYPE, "application/json")
        .header("Idempotency-Key", application.application_id.to_string())
        .body(Body::from(serde_json::to_vec(application).expect("json")))
        .expect("request");
    request.extensions_mut().insert(ConnectInfo(Peer::kiosk("K01", "GSC-01")));
    central.router().oneshot(request).await.expect("infallible").status()
}

/// Every byte central's database left in its folder: the file, its WAL and shared memory.
fn database_bytes(database: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let mut path = database.as_os_str().to_owned();
        path.push(suffix);
        bytes.extend(std::fs::read(&path).unwrap_or_default());
    }
    bytes
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn the_database_is_private_sealed_and_holds_no_signing_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let database = dir.path().join("central.db");
    let central = Central::open(&CentralOptions::new(database.clone())).expect("central");
    let application = application();
    assert_eq!(submit(&central, &application).await, StatusCode::CREATED);
    central.issue_certificate(application.application_id).expect("issued");
    let code = central
        .store()
        .sign_in_code(
            &balcao_central::store::Citizen {
                sub: "c-1".into(),
                name: NAME.into(),
                document_number: DOCUMENT.into(),
                birth_date: BIRTH.into(),
            },
            "GSC-01",
            jiff::Timestamp::now(),
            jiff::SignedDuration::from_mins(5),
        )
        .expect("the identity provider still signs");
    assert!(code.starts_with("BALCAO-SIGNIN:"));

    for suffix in ["", "-wal", "-shm"] {
        let mut path = database.as_os_str().to_owned();
        path.push(suffix);
        if Path::new(&path).exists() {
            assert_eq!(mode(Path::new(&path)), 0o600, "{}", Path::new(&path).display());
        }
    }
    let keys = KeyFiles::beside(&database);
    assert_eq!((mode(&keys.data_key), mode(&keys.identity_provider)), (0o600, 0o600));

    let bytes = database_bytes(&database);
    for personal in [NAME, DOCUMENT, "12345678", BIRTH, "14031985"] {
        assert!(!contains(&bytes, personal.as_bytes()), "{personal:?} is in the database files in clear");
    }
    // What the app's codes are signed with is in its own file, not in the database.
    let signing = std::fs::read_to_string(&keys.identity_provider).expect("signing keys");
    let signing: serde_json::Value = serde_json::from_str(&signing).expect("json");
    for private in signing["keys"].as_object().expect("keys").values() {
        // PKCS#8 of an Ed25519 key (RFC 8410): a 16-byte header, then the 32-byte private seed.
        let private = hex::decode(private.as_str().expect("hex")).expect("hex");
        assert_eq!(&private[2..16], [0x02, 0x01, 0x01, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);
        assert!(!contains(&bytes, &private[16..48]), "a private signing key is in the database");
    }
    // The application still reads whole through central.
    let stored = central.store().recent_applications(5).expect("list");
    assert!(stored[0].identity.as_ref().is_some_and(|i| i.holder.matches(DOCUMENT)));
    let ready = central.store().certificate_changes("GSC-01", None, 10).expect("feed");
    assert!(ready.ready[0].holder.matches(DOCUMENT));
}

#[tokio::test]
async fn a_database_is_opened_only_with_its_own_key_and_loose_files_are_made_private() {
    let dir = tempfile::tempdir().expect("tempdir");
    let database = dir.path().join("central.db");
    drop(Central::open(&CentralOptions::new(database.clone())).expect("central"));
    std::fs::set_permissions(&database, std::fs::Permissions::from_mode(0o644)).expect("loosen");
    drop(Central::open(&CentralOptions::new(database.clone())).expect("opens again with its key"));
    assert_eq!(mode(&database), 0o600, "a loose database file is made private again");

    let mut elsewhere = CentralOptions::new(database.clone());
    elsewhere.keys = KeyFiles::in_folder(&dir.path().join("other-keys"));
    balcao_backend_client::seal::DataKey::create(&elsewhere.keys.data_key).expect("another key");
    let refused = Central::open(&elsewhere).expect_err("another key");
    assert!(refused.to_string().contains("does not open this database"), "{refused}");
    let mut missing = CentralOptions::new(database);
    missing.keys.data_key = dir.path().join("nowhere/data.key");
    assert!(Central::open(&missing).is_err(), "no key, no database");
}

#[tokio::test]
async fn a_settled_applications_personal_data_is_purged_after_the_retention_period() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut options = CentralOptions::new(dir.path().join("central.db"));
    options.personal_data_retention = std::time::Duration::ZERO;
    let central = Central::open(&options).expect("central");
    let (settled, open) = (application(), {
        let mut a = application();
        a.reference = a.reference.replace("-0001", "-0002");
        a
    });
    for application in [&settled, &open] {
        assert_eq!(submit(&central, application).await, StatusCode::CREATED);
        central.issue_certificate(application.application_id).expect("issued");
    }
    // The first certificate is collected: its application is settled.
    let pickup = balcao_backend_client::api::PickupRecord {
        pickup_id: Uuid::now_v7(),
        application_id: settled.application_id,
        kiosk_id: "K01".into(),
        centre_id: "GSC-01".into(),
        outcome: balcao_backend_client::api::PickupOutcome::Printed,
        offline: false,
        collected_at: jiff::Timestamp::now(),
    };
    central.store().record_pickup(&pickup).expect("pickup");
    std::thread::sleep(std::time::Duration::from_millis(5));
    assert!(central.housekeeping().expect("housekeeping").is_some_and(|purged| purged >= 1), "this instance purges");
    let rows = central.store().recent_applications(5).expect("list");
    let row = |id| rows.iter().find(|r| r.id == id).expect("kept");
    assert!(row(settled.application_id).identity.is_none(), "the settled application's identity proof is gone");
    assert_eq!(row(settled.application_id).identified_by, Some(IdentityMethod::App), "how it was identified stays");
    assert_eq!(row(settled.application_id).reference, settled.reference, "what the record needs stays");
    assert!(row(open.application_id).identity.is_some(), "an application still waiting keeps its data");
    assert_eq!(
        central.issue_certificate(settled.application_id).map_err(|e| e.to_string()).expect_err("nothing to check a holder against"),
        format!("cannot issue the certificate: application {} has no document number to check the holder against", settled.application_id)
    );
}

#[tokio::test]
async fn a_database_from_before_sealing_is_sealed_and_its_signing_keys_moved_out_when_opened() {
    let dir = tempfile::tempdir().expect("tempdir");
    let database = dir.path().join("central.db");
    let application = application();
    {
        let central = Central::open(&CentralOptions::new(database.clone())).expect("central");
        assert_eq!(submit(&central, &application).await, StatusCode::CREATED);
    }
    // Put the database back as an older central left it: answers in clear, a private key in a column.
    let private_seed = [0x5Au8; 32];
    {
        let conn = rusqlite::Connection::open(&database).expect("sqlite");
        let answers = serde_json::to_string(&application.answers).expect("json");
        let identity = serde_json::to_string(&application.identity).expect("json");
        conn.execute("UPDATE applications SET answers = ?1, identity = ?2, sealed = NULL", [answers, identity]).expect("clear answers");
        conn.execute_batch("ALTER TABLE issuer_keys ADD COLUMN private_pkcs8 BLOB").expect("old column");
        let mut pkcs8 = vec![0x30, 0x53, 0x02, 0x01, 0x01, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];
        pkcs8.extend_from_slice(&private_seed);
        conn.execute(
            "INSERT INTO issuer_keys (kid, public_key, created_at, not_after, private_pkcs8) VALUES ('old', x'00', '2026-01-01T00:00:00Z', '2026-02-01T00:00:00Z', ?1)",
            [pkcs8],
        )
        .expect("old key");
        assert!(contains(&database_bytes(&database), NAME.as_bytes()), "the name is in clear now");
    }
    drop(Central::open(&CentralOptions::new(database.clone())).expect("opens and seals"));
    let bytes = database_bytes(&database);
    assert!(!contains(&bytes, NAME.as_bytes()), "sealed on opening");
    assert!(!contains(&bytes, &private_seed), "the old signing key left the database");
    let signing = std::fs::read_to_string(KeyFiles::beside(&database).identity_provider).expect("keys file");
    assert!(signing.contains(&hex::encode(private_seed)), "and is in its own file");
    let central = Central::open(&CentralOptions::new(database)).expect("central");
    let stored = central.store().recent_applications(5).expect("list");
    assert!(stored[0].identity.is_some(), "the application reads whole");
}

/// Every row of every table of central's PostgreSQL database, as text.
fn postgres_contents(url: &str) -> Vec<u8> {
    let url = url.to_string();
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
        let tables: Vec<String> = client
            .query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'", &[])
            .expect("tables")
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut contents = Vec::new();
        for table in tables {
            // Each row whole, BYTEA as hex: a value in clear shows as its text or its hex.
            for row in client.query(&format!("SELECT t::text FROM {table} t"), &[]).expect("rows") {
                contents.extend(row.get::<_, String>(0).into_bytes());
            }
        }
        contents
    })
    .join()
    .expect("thread")
}

#[tokio::test]
async fn on_postgresql_too_personal_data_is_sealed_and_no_signing_key_is_in_the_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = common::options(common::Db::Postgres, dir.path());
    let balcao_central::DatabaseLocation::Postgres(url) = options.database.clone() else { unreachable!("a PostgreSQL test") };
    let central = Central::open(&options).expect("central");
    let application = application();
    assert_eq!(submit(&central, &application).await, StatusCode::CREATED);
    central.issue_certificate(application.application_id).expect("issued");

    let contents = postgres_contents(&url);
    assert!(contains(&contents, application.reference.as_bytes()), "the scan reads the applications");
    for personal in [NAME, DOCUMENT, "12345678", BIRTH, "14031985"] {
        assert!(!contains(&contents, personal.as_bytes()), "{personal:?} is in the database in clear");
        assert!(!contains(&contents, hex::encode(personal).as_bytes()), "{personal:?} is in the database in clear (as bytes)");
    }
    let signing = std::fs::read_to_string(&options.keys.identity_provider).expect("signing keys");
    let signing: serde_json::Value = serde_json::from_str(&signing).expect("json");
    for private in signing["keys"].as_object().expect("keys").values() {
        let private = private.as_str().expect("hex");
        assert!(!contains(&contents, &private.as_bytes()[32..96]), "a private signing key is in the database");
    }
    assert_eq!(mode(&options.keys.data_key), 0o600);
    let stored = central.store().recent_applications(5).expect("list");
    assert!(stored[0].identity.as_ref().is_some_and(|i| i.holder.matches(DOCUMENT)), "and reads whole through central");
}

#[tokio::test]
async fn applications_stored_before_the_holder_index_are_indexed_by_the_daily_housekeeping() {
    let dir = tempfile::tempdir().expect("tempdir");
    let database = dir.path().join("central.db");
    let application = application();
    {
        let central = Central::open(&CentralOptions::new(database.clone())).expect("central");
        assert_eq!(submit(&central, &application).await, StatusCode::CREATED);
        assert_eq!(central.store().statuses_for_holder(DOCUMENT, BIRTH).expect("look-up").len(), 1, "indexed when stored");
    }
    // As a database from before the index: the column empty.
    let conn = rusqlite::Connection::open(&database).expect("sqlite");
    assert_eq!(conn.execute("UPDATE applications SET holder_index = NULL", []).expect("cleared"), 1);
    drop(conn);
    let central = Central::open(&CentralOptions::new(database.clone())).expect("central");
    assert!(central.store().statuses_for_holder(DOCUMENT, BIRTH).expect("look-up").is_empty(), "not found without its index");
    central.housekeeping().expect("housekeeping");
    let found = central.store().statuses_for_holder(DOCUMENT, BIRTH).expect("look-up");
    assert_eq!(found.iter().map(|(status, _)| status.application_id).collect::<Vec<_>>(), [application.application_id]);
}
