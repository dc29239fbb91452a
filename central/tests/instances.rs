//! Several central instances on one PostgreSQL database, as a territory runs them: nothing one
//! instance needs is in another's memory. Each instance here is a `Central` with its own
//! connection pool and state, as a separate process would have. And the database itself going
//! away: 503 with `Retry-After`, `/ready` says so, and nothing is lost or stored twice.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use balcao_backend_client::api::{
    CertificateChanges, PickupOutcome, PickupReceipt, PickupRecord, PickupVerdict, Problem, TicketReceipt, TicketVerdict,
};
use balcao_central::testing::{Durability, PgServer};
use balcao_central::tls::Peer;
use balcao_central::{Central, CentralOptions, DatabaseLocation, KeyFiles};
use common::{Db, submission, ticket};
use rstest::rstest;
use tower::ServiceExt;
use uuid::Uuid;

mod common;

/// Two instances on one new database, sharing their keys' folder.
fn two_instances(dir: &tempfile::TempDir, delay_on_first: Duration) -> (Arc<Central>, Arc<Central>) {
    let mut first = common::options(Db::Postgres, dir.path());
    let second = first.clone();
    first.processing_delay = delay_on_first;
    (Arc::new(Central::open(&first).expect("instance A")), Arc::new(Central::open(&second).expect("instance B")))
}

async fn send(central: &Central, mut request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    request.extensions_mut().insert(ConnectInfo(Peer::kiosk("K01", "GSC-01")));
    let response = central.router().oneshot(request).await.expect("infallible");
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body").to_vec())
}

fn post(path: &str, key: &str, body: Vec<u8>) -> Request<Body> {
    Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .header("Idempotency-Key", key)
        .body(Body::from(body))
        .expect("request")
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).expect("request")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_key_sent_to_two_instances_at_once_is_stored_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = two_instances(&dir, Duration::ZERO);
    for round in 1..=20u64 {
        let s = submission();
        let (key, body) = (s.application_id.to_string(), serde_json::to_vec(&s).expect("json"));
        let ((to_a, ..), (to_b, ..)) =
            tokio::join!(send(&a, post("/v1/applications", &key, body.clone())), send(&b, post("/v1/applications", &key, body)));
        let statuses = [to_a, to_b];
        assert!(statuses.contains(&StatusCode::CREATED), "round {round}: {statuses:?}");
        assert!(statuses.iter().all(|s| [StatusCode::CREATED, StatusCode::CONFLICT].contains(s)), "round {round}: {statuses:?}");
        assert_eq!(a.store().count_applications().expect("count"), round, "stored once");
        assert_eq!(b.store().count_applications().expect("count"), round, "both instances see it");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_in_flight_on_one_instance_answers_409_on_the_other() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = two_instances(&dir, Duration::from_millis(600));
    let s = submission();
    let (key, body) = (s.application_id.to_string(), serde_json::to_vec(&s).expect("json"));
    let first = tokio::spawn({
        let (a, key, body) = (a.clone(), key.clone(), body.clone());
        async move { send(&a, post("/v1/applications", &key, body)).await.0 }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, headers, problem) = send(&b, post("/v1/applications", &key, body.clone())).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(headers[header::RETRY_AFTER], "1");
    let problem: Problem = serde_json::from_slice(&problem).expect("problem");
    assert_eq!(problem.short_kind(), "request-in-flight");
    assert_eq!(first.await.expect("first"), StatusCode::CREATED);
    let (status, headers, _) = send(&b, post("/v1/applications", &key, body)).await;
    assert_eq!(status, StatusCode::CREATED, "the repeat on the other instance gets the first answer");
    assert_eq!(headers["Idempotent-Replayed"], "true");
    assert_eq!(b.store().count_applications().expect("count"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catalog_published_through_one_instance_is_served_by_the_other() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = two_instances(&dir, Duration::ZERO);
    let (status, headers, _) = send(&b, get("/v1/catalog")).await;
    assert_eq!(status, StatusCode::OK);
    let before = headers[header::ETAG].to_str().expect("etag").to_string();
    let (_, headers, _) = send(&a, get("/v1/catalog")).await;
    assert_eq!(headers[header::ETAG], before.as_str(), "one catalog, one ETag on every instance");

    let mut catalog = balcao_central::seed::catalog();
    catalog.services.retain(|s| s.id != "criminal-record-certificate");
    a.replace_catalog(catalog).expect("published through A");
    let (status, headers, body) =
        send(&b, Request::get("/v1/catalog").header(header::IF_NONE_MATCH, &before).body(Body::empty()).expect("request")).await;
    assert_eq!(status, StatusCode::OK, "B no longer holds the old version");
    assert_ne!(headers[header::ETAG], before.as_str());
    assert!(!String::from_utf8_lossy(&body).contains("criminal-record-certificate"));
    let refused = send(&b, post("/v1/applications", &Uuid::nil().to_string(), serde_json::to_vec(&submission()).expect("json"))).await;
    assert_eq!(refused.0, StatusCode::UNPROCESSABLE_ENTITY, "B checks applications against the new catalog");
}

fn pickup(application_id: Uuid) -> PickupRecord {
    PickupRecord {
        pickup_id: Uuid::now_v7(),
        application_id,
        kiosk_id: "K01".into(),
        centre_id: "GSC-01".into(),
        outcome: PickupOutcome::Printed,
        offline: true,
        collected_at: jiff::Timestamp::now(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_pickups_of_one_certificate_filed_on_two_instances_at_once_one_is_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = two_instances(&dir, Duration::ZERO);
    for round in 0..10 {
        let s = submission();
        let (key, body) = (s.application_id.to_string(), serde_json::to_vec(&s).expect("json"));
        assert_eq!(send(&a, post("/v1/applications", &key, body)).await.0, StatusCode::CREATED);
        a.issue_certificate(s.application_id).expect("issued");
        let (one, two) = (pickup(s.application_id), pickup(s.application_id));
        let ((s1, _, b1), (s2, _, b2)) = tokio::join!(
            send(&a, post("/v1/pickups", &one.pickup_id.to_string(), serde_json::to_vec(&one).expect("json"))),
            send(&b, post("/v1/pickups", &two.pickup_id.to_string(), serde_json::to_vec(&two).expect("json")))
        );
        assert_eq!((s1, s2), (StatusCode::CREATED, StatusCode::CREATED), "round {round}");
        let verdicts: Vec<PickupVerdict> =
            [b1, b2].iter().map(|b| serde_json::from_slice::<PickupReceipt>(b).expect("receipt").verdict).collect();
        assert_eq!(verdicts.iter().filter(|v| **v == PickupVerdict::Recorded).count(), 1, "round {round}: {verdicts:?}");
        assert_eq!(verdicts.iter().filter(|v| **v == PickupVerdict::Duplicate).count(), 1, "round {round}: {verdicts:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_one_ticket_number_filed_on_two_instances_at_once_one_is_flagged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = two_instances(&dir, Duration::ZERO);
    let verdict = |body: &[u8]| serde_json::from_slice::<TicketReceipt>(body).expect("receipt").verdict;
    for round in 0..10 {
        let number = format!("B1-{round:03}");
        let (one, two) = (ticket(&number, "K01"), ticket(&number, "K01"));
        let ((s1, _, b1), (s2, _, b2)) = tokio::join!(
            send(&a, post("/v1/queue-tickets", &one.ticket_id.to_string(), serde_json::to_vec(&one).expect("json"))),
            send(&b, post("/v1/queue-tickets", &two.ticket_id.to_string(), serde_json::to_vec(&two).expect("json")))
        );
        assert_eq!((s1, s2), (StatusCode::CREATED, StatusCode::CREATED), "round {round}");
        let mut verdicts = [verdict(&b1), verdict(&b2)];
        verdicts.sort_by_key(|v| *v == TicketVerdict::NumberReused);
        assert_eq!(verdicts, [TicketVerdict::Recorded, TicketVerdict::NumberReused], "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kiosk_follows_its_centres_feed_through_either_instance_and_misses_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = two_instances(&dir, Duration::ZERO);
    let changes = |body: &[u8]| serde_json::from_slice::<CertificateChanges>(body).expect("changes");
    let feed = |since: Option<&str>| {
        let query = since.map_or_else(String::new, |token| format!("&since={token}"));
        get(&format!("/v1/certificates/ready?centre=GSC-01{query}"))
    };
    // Certificates issued through both instances at once, the kiosk reading through either.
    let mut issued = std::collections::BTreeSet::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut token: Option<String> = None;
    for round in 0..6 {
        let mut ids = Vec::new();
        for _ in 0..4 {
            let s = submission();
            let (key, body) = (s.application_id.to_string(), serde_json::to_vec(&s).expect("json"));
            assert_eq!(send(&a, post("/v1/applications", &key, body)).await.0, StatusCode::CREATED);
            ids.push(s.application_id);
        }
        let (first, second) = (a.clone(), b.clone());
        let (x, y) = (ids[..2].to_vec(), ids[2..].to_vec());
        let issuing = [
            tokio::task::spawn_blocking(move || x.iter().for_each(|id| first.issue_certificate(*id).expect("issued through A"))),
            tokio::task::spawn_blocking(move || y.iter().for_each(|id| second.issue_certificate(*id).expect("issued through B"))),
        ];
        issued.extend(ids);
        let reader = if round % 2 == 0 { &b } else { &a };
        let (status, _, body) = send(reader, feed(token.as_deref())).await;
        assert_eq!(status, StatusCode::OK);
        let page = changes(&body);
        seen.extend(page.ready.iter().map(|c| c.application_id));
        token = Some(page.token);
        for issuing in issuing {
            issuing.await.expect("issuing");
        }
    }
    let (_, _, body) = send(&a, feed(token.as_deref())).await;
    seen.extend(changes(&body).ready.iter().map(|c| c.application_id));
    assert_eq!(seen, issued, "every certificate reached the kiosk, whichever instance it read through");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_position_given_before_an_earlier_one_commits_is_not_read_past_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = common::options(Db::Postgres, dir.path());
    let DatabaseLocation::Postgres(url) = options.database.clone() else { unreachable!("a PostgreSQL test") };
    let a = Arc::new(Central::open(&options).expect("instance A"));
    let b = Arc::new(Central::open(&options).expect("instance B"));
    let feed = |since: &str| get(&format!("/v1/certificates/ready?centre=GSC-01&since={since}"));
    let changes = |body: &[u8]| serde_json::from_slice::<CertificateChanges>(body).expect("changes");
    let stored = |central: Arc<Central>| async move {
        let s = submission();
        let (key, body) = (s.application_id.to_string(), serde_json::to_vec(&s).expect("json"));
        assert_eq!(send(&central, post("/v1/applications", &key, body)).await.0, StatusCode::CREATED);
        s.application_id
    };
    let collected = stored(a.clone()).await;
    a.issue_certificate(collected).expect("issued");
    let (_, _, body) = send(&b, get("/v1/certificates/ready?centre=GSC-01")).await;
    let listed = changes(&body);
    assert_eq!(listed.ready.len(), 1);

    // Another instance is recording the certificate's pickup: its feed row moved to a new
    // position, not yet committed.
    let collecting = std::thread::spawn(move || {
        let mut other = postgres::Client::connect(&url, postgres::NoTls).expect("other instance");
        let mut tx = other.transaction().expect("transaction");
        tx.execute("SELECT pg_advisory_xact_lock(hashtextextended('feed/GSC-01', 0))", &[]).expect("the feed's turn");
        tx.execute("DELETE FROM certificate_feed WHERE application_id = $1", &[&collected.to_string()]).expect("moved");
        tx.execute(
            "INSERT INTO certificate_feed (centre_id, application_id, change, at) VALUES ('GSC-01', $1, 'gone', 0)",
            &[&collected.to_string()],
        )
        .expect("gone");
        std::thread::sleep(Duration::from_millis(1500));
        tx.commit().expect("committed");
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Meanwhile A issues another certificate, and the kiosk catches up through B.
    let ready = stored(a.clone()).await;
    let issuing = tokio::task::spawn_blocking({
        let a = a.clone();
        move || a.issue_certificate(ready).expect("issued")
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, _, body) = send(&b, feed(&listed.token)).await;
    let early = changes(&body);
    collecting.join().expect("the pickup committed");
    issuing.await.expect("issued");
    let (_, _, body) = send(&b, feed(&early.token)).await;
    let late = changes(&body);
    let gone: Vec<Uuid> = early.gone.iter().chain(&late.gone).copied().collect();
    let ready_seen: Vec<Uuid> = early.ready.iter().chain(&late.ready).map(|c| c.application_id).collect();
    assert_eq!(gone, [collected], "the pickup committed after a later position was given is not skipped");
    assert_eq!(ready_seen, [ready]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_instance_serves_the_same_issuer_keys_under_the_same_etag() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = two_instances(&dir, Duration::ZERO);
    let (_, from_a, keys_a) = send(&a, get("/v1/identity-issuers")).await;
    let (_, from_b, keys_b) = send(&b, get("/v1/identity-issuers")).await;
    assert_eq!(from_a[header::ETAG], from_b[header::ETAG]);
    assert_eq!(keys_a, keys_b, "two instances started together made one key");
    assert!(a.store().rotate_issuer_key(jiff::Timestamp::now() + jiff::SignedDuration::from_hours(31 * 24)).expect("rotated"));
    let (_, after, _) = send(&b, get("/v1/identity-issuers")).await;
    assert_ne!(after[header::ETAG], from_b[header::ETAG], "a rotation through A is served by B");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_housekeeping_is_left_to_the_instance_doing_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = common::options(Db::Postgres, dir.path());
    let central = Central::open(&options).expect("central");
    let DatabaseLocation::Postgres(url) = options.database.clone() else { unreachable!("a PostgreSQL test") };
    // Another instance in the middle of it: it holds the housekeeping's lock.
    let other = std::thread::spawn(move || {
        let mut other = postgres::Client::connect(&url, postgres::NoTls).expect("other instance");
        let mut tx = other.transaction().expect("transaction");
        tx.execute("SELECT pg_advisory_xact_lock(hashtextextended('housekeeping', 0))", &[]).expect("lock");
        std::thread::sleep(Duration::from_millis(1500));
        tx.commit().expect("commit");
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(central.housekeeping().expect("housekeeping"), None, "skipped while another instance does it");
    other.join().expect("other instance");
    assert!(central.housekeeping().expect("housekeeping").is_some(), "done once the other finished");
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn a_schema_newer_than_this_central_is_refused_and_an_older_one_migrated(#[case] db: Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = common::options(db, dir.path());
    drop(Central::open(&options).expect("a new database is made at the current version"));
    drop(Central::open(&options).expect("and opens again"));
    match &options.database {
        DatabaseLocation::Sqlite(file) => {
            rusqlite::Connection::open(file).expect("sqlite").pragma_update(None, "user_version", 99).expect("newer");
        }
        DatabaseLocation::Postgres(url) => {
            let url = url.clone();
            std::thread::spawn(move || {
                let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
                client.execute("UPDATE schema_version SET version = 99", &[]).expect("newer");
            })
            .join()
            .expect("thread");
        }
    }
    let refused = Central::open(&options).expect_err("a newer schema");
    let message = format!("{refused}");
    assert!(message.contains("version 99") && message.contains("newer than this central"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_database_down_central_answers_503_and_ready_says_so_then_stores_everything_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = PgServer::start(Durability::None).expect("postgres");
    let url = server.create_database("central").expect("database");
    let mut options = CentralOptions::on(DatabaseLocation::Postgres(url), KeyFiles::in_folder(&dir.path().join("keys")));
    options.postgres.connect_timeout = Duration::from_secs(1);
    let central = Central::open(&options).expect("central");
    let first = submission();
    let ok = send(&central, post("/v1/applications", &first.application_id.to_string(), serde_json::to_vec(&first).expect("json"))).await;
    assert_eq!(ok.0, StatusCode::CREATED);
    assert_eq!(send(&central, get("/ready")).await.0, StatusCode::OK);

    server.stop();
    let s = submission();
    let (key, body) = (s.application_id.to_string(), serde_json::to_vec(&s).expect("json"));
    for _ in 0..2 {
        let started = std::time::Instant::now();
        let (status, headers, problem) = send(&central, post("/v1/applications", &key, body.clone())).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(headers.contains_key(header::RETRY_AFTER));
        assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
        let problem: Problem = serde_json::from_slice(&problem).expect("problem");
        assert_eq!(problem.short_kind(), "database-unavailable");
        assert!(started.elapsed() < Duration::from_secs(10), "answered within its time limits: {:?}", started.elapsed());
    }
    let (status, headers, _) = send(&central, get("/ready")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "the load balancer sends kiosks elsewhere");
    assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");

    server.restart().expect("postgres back");
    assert_eq!(send(&central, get("/ready")).await.0, StatusCode::OK);
    assert_eq!(send(&central, post("/v1/applications", &key, body.clone())).await.0, StatusCode::CREATED, "the repeat is stored");
    assert_eq!(send(&central, post("/v1/applications", &key, body)).await.0, StatusCode::CREATED, "and then replayed");
    assert_eq!(central.store().count_applications().expect("count"), 2, "nothing lost, nothing twice");
}

/// `kiosk-central` on `database`, with its keys if `keys`: its exit status and what it printed
/// on stderr.
fn kiosk_central(database: &str, keys: bool) -> (bool, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_kiosk-central"));
    command.args(["--listen", "127.0.0.1:0", "--database", database, "--dev-pki"]).arg(dir.path().join("pki"));
    if keys {
        command.arg("--keys").arg(dir.path().join("keys"));
    }
    let output = command.output().expect("kiosk-central runs");
    (output.status.success(), String::from_utf8_lossy(&output.stderr).trim().to_string())
}

#[test]
fn a_database_address_that_is_malformed_unreachable_or_refuses_the_password_is_one_clear_line_before_central_listens() {
    let server = common::postgres_server();
    let unused = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("address").port();
    let cases = [
        ("postgres://balcao:x@127.0.0.1:notaport/db".to_string(), "not a PostgreSQL URL"),
        (format!("postgres://balcao:x@127.0.0.1:{unused}/db"), "cannot reach PostgreSQL at 127.0.0.1"),
        (server.url_with_password("postgres", "wrong"), "refused the login of \"balcao\""),
    ];
    for (url, expected) in cases {
        let (ok, stderr) = kiosk_central(&url, true);
        assert!(!ok, "{url}: refused");
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.contains(" INFO ")).collect();
        assert_eq!(lines.len(), 1, "{url}: one line: {stderr}");
        assert!(lines[0].contains(expected), "{url}: {stderr}");
        assert!(!lines[0].contains(":x@") && !lines[0].contains("wrong"), "no password in the message: {stderr}");
        assert!(!stderr.contains("central listening"), "{url}: never listened");
    }
    let (ok, stderr) = kiosk_central(&server.url("postgres"), false);
    assert!(!ok && stderr.contains("--keys"), "{stderr}");
}

/// `kiosk-central` with a settings file holding `settings`: its exit status and stderr.
fn kiosk_central_with_settings(settings: &str) -> (bool, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("central.toml");
    let folder = |name: &str| dir.path().join(name).display().to_string();
    std::fs::write(&file, format!("listen = \"127.0.0.1:0\"\ndev-pki = {:?}\nkeys = {:?}\n{settings}", folder("pki"), folder("keys")))
        .expect("settings");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_kiosk-central")).arg("--config").arg(&file).output().expect("runs");
    (output.status.success(), String::from_utf8_lossy(&output.stderr).trim().to_string())
}

#[test]
fn the_database_can_come_from_the_settings_file_and_a_wrong_key_there_is_named() {
    let (ok, stderr) = kiosk_central_with_settings("database = \"postgres://balcao:x@127.0.0.1:notaport/db\"\n");
    assert!(!ok && stderr.contains("not a PostgreSQL URL"), "the file's database is the one used: {stderr}");
    let (ok, stderr) = kiosk_central_with_settings("databse = \"central.db\"\n");
    assert!(!ok && stderr.contains("databse"), "a misspelt key is named: {stderr}");
    let (ok, stderr) = kiosk_central_with_settings("database-pool = 0\n");
    assert!(!ok && stderr.contains("database-pool") && stderr.contains("1 to 1000"), "{stderr}");
}

/// An enrollment as the technician's tool sends it: no kiosk certificate yet.
async fn enroll_on(central: &Central, token: &str) -> StatusCode {
    let key = rcgen::KeyPair::generate().expect("key");
    let csr_pem =
        rcgen::CertificateParams::new(Vec::<String>::new()).expect("params").serialize_request(&key).expect("csr").pem().expect("pem");
    let body = serde_json::json!({ "token": token, "csr_pem": csr_pem }).to_string();
    let mut request =
        Request::post("/v1/enrollments").header(header::CONTENT_TYPE, "application/json").body(Body::from(body)).expect("request");
    request.extensions_mut().insert(ConnectInfo(Peer { addr: std::net::SocketAddr::from(([127, 0, 0, 1], 4000)), kiosk: None }));
    central.router().oneshot(request).await.expect("infallible").status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_offered_to_two_instances_at_once_enrolls_once_and_a_revocation_reaches_the_other() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = two_instances(&dir, Duration::ZERO);
    let pki = balcao_central::tls::DevPki::generate().expect("pki");
    for instance in [&a, &b] {
        let issuer = balcao_central::tls::KioskIssuer::of_dev_pki(&pki, jiff::SignedDuration::from_hours(24)).expect("issuer");
        instance.enable_enrollment(issuer, Some(pki.ca_pem.clone()));
    }
    for _ in 0..5 {
        let (token, _) = a.store().create_enrollment_token("K05", "GSC-01", "ana", jiff::SignedDuration::from_hours(1)).expect("token");
        let typed = token.grouped();
        let (on_a, on_b) = tokio::join!(enroll_on(&a, &typed), enroll_on(&b, &typed));
        let mut statuses = [on_a, on_b];
        statuses.sort();
        assert_eq!(statuses, [StatusCode::CREATED, StatusCode::FORBIDDEN], "one enrollment per token");
    }
    assert_eq!(a.store().kiosk_certificates("K05").expect("issued").len(), 5);

    // Revoked through A: B refuses the kiosk within a second.
    assert_eq!(send(&b, get("/v1/catalog")).await.0, StatusCode::OK);
    a.revoke_kiosk("K01", "ana").await.expect("revoked");
    assert_eq!(send(&a, get("/v1/catalog")).await.0, StatusCode::UNAUTHORIZED, "at once on the instance that revoked");
    let deadline = std::time::Instant::now() + balcao_central::api::auth::REVOCATIONS_FRESH + Duration::from_secs(1);
    loop {
        let (status, _, body) = send(&b, get("/v1/catalog")).await;
        if status == StatusCode::UNAUTHORIZED {
            let problem: Problem = serde_json::from_slice(&body).expect("problem");
            assert_eq!(problem.short_kind(), "kiosk-certificate-revoked");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "B still serves a revoked kiosk");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
