use super::*;
use balcao_backend_client::api::{ApplicationReceipt, PickupOutcome};

fn open(path: &Path) -> Result<Store, StoreError> {
    Store::open(path, &path.with_extension("key"))
}

fn new_application(day: u8) -> NewApplication {
    NewApplication {
        kiosk_id: "K01".into(),
        centre_id: "GSC-01".into(),
        service_id: "criminal-record-certificate".into(),
        language: Language::En,
        answers: [("copies".to_string(), Answer::Number(1))].into_iter().collect(),
        fee_avos: 3000,
        payment: None,
        payment_id: None,
        identity: None,
        submitted_at: Timestamp::now(),
        local_date: jiff::civil::date(2026, 11, day as i8),
    }
}

#[test]
fn store_is_durable_by_configuration() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir.path().join("kiosk.db")).expect("open");
    let mode: String = store.conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).expect("pragma");
    let sync: i64 = store.conn.query_row("PRAGMA synchronous", [], |r| r.get(0)).expect("pragma");
    assert_eq!(mode, "wal");
    assert_eq!(sync, 2, "synchronous=FULL");
}

#[test]
fn a_database_with_the_old_page_size_is_rebuilt_with_small_pages_and_keeps_everything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("kiosk.db");
    let page_size = |conn: &Connection| conn.query_row("PRAGMA page_size", [], |r| r.get::<_, u32>(0)).expect("pragma");
    let mut store = open(&path).expect("open");
    assert_eq!(page_size(&store.conn), PAGE_SIZE, "a new database");
    let saved = store.save_application(&new_application(22)).expect("save");
    drop(store);
    // As a kiosk made before the change left it: SQLite's default pages, in WAL mode.
    let conn = Connection::open(&path).expect("raw");
    conn.execute_batch("PRAGMA journal_mode = DELETE; PRAGMA page_size = 4096; VACUUM; PRAGMA journal_mode = WAL;").expect("old pages");
    assert_eq!(page_size(&conn), 4096);
    drop(conn);

    let mut store = open(&path).expect("reopen");
    assert_eq!(page_size(&store.conn), PAGE_SIZE, "rebuilt on opening");
    let mode: String = store.conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).expect("pragma");
    assert_eq!(mode, "wal");
    assert_eq!(store.application_state(saved.application_id).expect("state").as_deref(), Some("queued"));
    let due = store.due_outbox(Timestamp::now(), 10).expect("outbox");
    assert_eq!(due.len(), 1, "the outbox entry, still readable with its sealed body");
    assert_eq!(store.save_application(&new_application(22)).expect("save").reference, "K01-261122-0002");
}

#[test]
fn application_numbers_count_per_day_and_survive_reopening() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("kiosk.db");
    let mut store = open(&path).expect("open");
    assert_eq!(store.save_application(&new_application(22)).expect("save").reference, "K01-261122-0001");
    assert_eq!(store.save_application(&new_application(22)).expect("save").reference, "K01-261122-0002");
    drop(store);
    let mut store = open(&path).expect("reopen");
    assert_eq!(store.save_application(&new_application(22)).expect("save").reference, "K01-261122-0003");
    assert_eq!(store.save_application(&new_application(23)).expect("save").reference, "K01-261123-0001");
}

#[test]
fn a_saved_application_is_queued_with_its_id_as_key_until_delivered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir.path().join("kiosk.db")).expect("open");
    let saved = store.save_application(&new_application(22)).expect("save");
    let due = store.due_outbox(Timestamp::now(), 10).expect("due");
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].id, saved.application_id);
    let body: ApplicationSubmission = serde_json::from_str(&due[0].body).expect("body");
    assert_eq!(body.application_id, saved.application_id);
    assert_eq!(body.reference, saved.reference);
    assert_eq!(store.outbox_counts().expect("counts"), OutboxCounts { pending: 1, dead: 0 });

    let later = Timestamp::now() + jiff::SignedDuration::from_secs(60);
    store.outbox_settle(&[(saved.application_id, Settlement::Retry { next: later, error: "central unreachable".into() })]).expect("retry");
    assert!(store.due_outbox(Timestamp::now(), 10).expect("due").is_empty());
    assert_eq!(store.next_outbox_due().expect("next").map(|t| t.as_millisecond()), Some(later.as_millisecond()));
    let retried = store.due_outbox(later, 10).expect("due");
    assert_eq!(retried[0].attempts, 1);
    assert_eq!(retried[0].body, due[0].body, "the same bytes are sent every time");

    let receipt = ApplicationReceipt {
        application_id: saved.application_id,
        reference: saved.reference.clone(),
        state: balcao_backend_client::api::ApplicationState::Received,
        received_at: Timestamp::now(),
    };
    store
        .outbox_settle(&[(saved.application_id, Settlement::Delivered { central_state: Some(receipt.state.as_str().into()) })])
        .expect("delivered");
    assert_eq!(store.outbox_counts().expect("counts"), OutboxCounts::default());
    assert_eq!(store.application_state(saved.application_id).expect("state").as_deref(), Some("acknowledged"));
}

#[test]
fn refused_entries_are_kept_out_of_the_queue() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir.path().join("kiosk.db")).expect("open");
    let saved = store.save_application(&new_application(22)).expect("save");
    store.outbox_settle(&[(saved.application_id, Settlement::Dead { error: "422 invalid-answers".into(), alert: None })]).expect("dead");
    assert!(store.due_outbox(Timestamp::now(), 10).expect("due").is_empty());
    assert_eq!(store.outbox_counts().expect("counts"), OutboxCounts { pending: 0, dead: 1 });
    assert_eq!(store.application_state(saved.application_id).expect("state").as_deref(), Some("queued"));
}

#[test]
fn the_catalog_cache_round_trips() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir.path().join("kiosk.db")).expect("open");
    assert!(store.cached_catalog().expect("read").is_none());
    let catalog = Catalog { version: "v1".into(), services: Vec::new(), queues: Vec::new() };
    store.save_catalog(Some("\"abc\""), &catalog).expect("save");
    store.save_catalog(Some("\"def\""), &catalog).expect("save again");
    assert_eq!(store.cached_catalog().expect("read"), Some((Some("\"def\"".into()), catalog)));
}

#[test]
fn a_damaged_file_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("kiosk.db");
    std::fs::write(&path, b"this is not a database, it is a shopping list").expect("write");
    let error = open(&path).expect_err("refused");
    assert!(matches!(error, StoreError::Sqlite(_) | StoreError::Corrupt(_)), "{error:?}");
}

#[test]
fn a_waiting_entry_holds_back_everything_queued_after_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir.path().join("kiosk.db")).expect("open");
    let first = store.save_application(&new_application(22)).expect("save");
    let second = store.save_application(&new_application(22)).expect("save");
    let now = Timestamp::now();
    let later = now + jiff::SignedDuration::from_secs(30);
    store
        .outbox_settle(&[(first.application_id, Settlement::Retry { next: later, error: "central did not answer".into() })])
        .expect("retry");

    assert_eq!(store.due_outbox(now, 10).expect("due"), vec![], "the second entry must not overtake the first");
    assert_eq!(store.next_outbox_due().expect("next").map(|t| t.as_millisecond()), Some(later.as_millisecond()));
    let due: Vec<Uuid> = store.due_outbox(later, 10).expect("due").into_iter().map(|i| i.id).collect();
    assert_eq!(due, vec![first.application_id, second.application_id]);
}

#[test]
fn personal_data_is_sealed_on_disk_and_opens_only_with_the_database_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("kiosk.db");
    let mut store = open(&path).expect("open");
    let mut new = new_application(22);
    new.answers.insert("full_name".into(), Answer::Text("CHAN TAI MAN".into()));
    store.save_application(&new).expect("save");
    drop(store);
    for file in ["kiosk.db", "kiosk.db-wal"] {
        let bytes = std::fs::read(dir.path().join(file)).unwrap_or_default();
        assert!(!bytes.windows(12).any(|w| w == b"CHAN TAI MAN"), "the name is readable in {file}");
    }
    let store = open(&path).expect("reopen with its key");
    assert!(store.due_outbox(Timestamp::now(), 1).expect("due")[0].body.contains("CHAN TAI MAN"));
    drop(store);

    // Another key, or no key at all, is refused: never replaced by a new one.
    let other = dir.path().join("other.key");
    crypto::DataKey::create(&other).expect("key");
    assert!(matches!(Store::open(&path, &other), Err(StoreError::WrongKey { .. })));
    assert!(matches!(Store::open(&path, &dir.path().join("missing.key")), Err(StoreError::Key(crypto::KeyError::Read { .. }))));
}

#[test]
fn acknowledged_records_are_purged_after_retention_and_the_rest_is_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir.path().join("kiosk.db")).expect("open");
    let delivered = store.save_application(&new_application(22)).expect("save");
    let dead = store.save_application(&new_application(22)).expect("save");
    let pending = store.save_application(&new_application(22)).expect("save");
    let receipt = ApplicationReceipt {
        application_id: delivered.application_id,
        reference: delivered.reference.clone(),
        state: balcao_backend_client::api::ApplicationState::Received,
        received_at: Timestamp::now(),
    };
    store
        .outbox_settle(&[(delivered.application_id, Settlement::Delivered { central_state: Some(receipt.state.as_str().into()) })])
        .expect("delivered");
    store.outbox_settle(&[(dead.application_id, Settlement::Dead { error: "refused".into(), alert: None })]).expect("dead");

    assert_eq!(store.purge_acknowledged(Timestamp::now() - jiff::SignedDuration::from_hours(1)).expect("purge"), 0, "too recent");
    assert_eq!(store.purge_acknowledged(Timestamp::now() + jiff::SignedDuration::from_secs(1)).expect("purge"), 2);
    let left: Vec<(Uuid, String)> = store.outbox_report().expect("report").into_iter().map(|e| (e.id, e.state)).collect();
    assert_eq!(left, vec![(dead.application_id, "dead".into()), (pending.application_id, "pending".into())]);
    assert_eq!(store.application_state(delivered.application_id).expect("state"), None);
    assert_eq!(store.application_state(pending.application_id).expect("state").as_deref(), Some("queued"));
}

#[test]
fn plain_bodies_from_an_older_version_are_sealed_at_opening() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("kiosk.db");
    let mut store = open(&path).expect("open");
    let saved = store.save_application(&new_application(22)).expect("save");
    let body = store.due_outbox(Timestamp::now(), 1).expect("due").remove(0).body;
    store.conn.execute("UPDATE outbox SET body = ?1", [&body]).expect("as an older version wrote it");
    drop(store);
    let store = open(&path).expect("reopen");
    let kind: String = store.conn.query_row("SELECT typeof(body) FROM outbox", [], |r| r.get(0)).expect("typeof");
    assert_eq!(kind, "blob");
    let due = store.due_outbox(Timestamp::now(), 1).expect("due");
    assert_eq!((due[0].id, due[0].body.as_str()), (saved.application_id, body.as_str()));
}

#[test]
fn a_database_from_schema_3_keeps_its_records_order_and_counters() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("kiosk.db");
    {
        let mut conn = Connection::open(&path).expect("open");
        schema::migrations().to_version(&mut conn, 3).expect("schema 3");
        conn.execute_batch(
            "INSERT INTO applications VALUES ('0193a000-0000-7000-8000-000000000001', 'K01-261122-0001', 'svc', 1, 'acknowledged', 2, 'received');
             INSERT INTO applications VALUES ('0193a000-0000-7000-8000-000000000002', 'K01-261122-0002', 'svc', 3, 'queued', NULL, NULL);
             INSERT INTO outbox (record_id, kind, body, created_at, attempts, next_attempt_at, state, done_at)
                 VALUES ('0193a000-0000-7000-8000-000000000001', 'application', 'b1', 1, 1, 1, 'delivered', 2),
                        ('0193a000-0000-7000-8000-000000000003', 'event', 'b2', 2, 3, 2, 'dead', 4),
                        ('0193a000-0000-7000-8000-000000000002', 'application', 'b3', 3, 0, 3, 'pending', NULL);
             INSERT INTO counters VALUES ('application-number-261122', 2);",
        )
        .expect("records of schema 3");
    }
    let mut store = open(&path).expect("migrated");
    let report: Vec<(String, String)> = store.outbox_report().expect("report").into_iter().map(|r| (r.kind, r.state)).collect();
    assert_eq!(
        report,
        [("application", "delivered"), ("event", "dead"), ("application", "pending")].map(|(k, s)| (k.to_string(), s.to_string()))
    );
    assert_eq!(store.outbox_counts().expect("counts"), OutboxCounts { pending: 1, dead: 1 });
    let saved = store.save_application(&new_application(22)).expect("save");
    assert_eq!(saved.reference, "K01-261122-0003");
    let ids: Vec<Uuid> = store.outbox_report().expect("report").into_iter().map(|r| r.id).collect();
    assert_eq!((ids.len(), ids.last()), (4, Some(&saved.application_id)), "the new entry comes last");
}

/// The agency's test key: what signs the test certificates.
fn agency_key() -> ring::signature::Ed25519KeyPair {
    ring::signature::Ed25519KeyPair::from_seed_unchecked(&[9; 32]).expect("a key")
}

/// The agency's keys as a kiosk caches them.
fn document_keys() -> String {
    use base64::Engine;
    use ring::signature::KeyPair as _;
    let key = balcao_backend_client::api::IssuerKey {
        kid: "agency-1".into(),
        alg: "Ed25519".into(),
        public_key: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(agency_key().public_key().as_ref()),
        not_after: Timestamp::now() + jiff::SignedDuration::from_hours(24),
    };
    serde_json::to_string(&balcao_backend_client::api::IssuerKeys { issuer: "agency".into(), keys: vec![key] }).expect("json")
}

fn ready_certificate(number: u32) -> balcao_backend_client::api::ReadyCertificate {
    use base64::Engine;
    let pdf = format!("%PDF-1.4 certificate {number}");
    balcao_backend_client::api::ReadyCertificate {
        application_id: Uuid::now_v7(),
        reference: format!("K01-261122-{number:04}"),
        service_id: "criminal-record-certificate".into(),
        holder: balcao_backend_client::api::HolderCheck::new([number as u8; 16], "1234567(8)"),
        ready_at: Timestamp::now(),
        document_pdf: base64::engine::general_purpose::STANDARD.encode(&pdf),
        signature: Some(balcao_backend_client::api::sign_document(pdf.as_bytes(), "agency-1", |b| agency_key().sign(b).as_ref().to_vec())),
    }
}

const HERE: KioskPlace<'static> = KioskPlace { kiosk_id: "K01", centre_id: "GSC-01" };

#[test]
fn the_feed_of_ready_certificates_applies_whole_and_a_full_list_replaces_the_old_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir.path().join("kiosk.db")).expect("open");
    assert_eq!(store.certificate_sync_token().expect("token"), None);
    let (one, two, three) = (ready_certificate(1), ready_certificate(2), ready_certificate(3));
    store.apply_certificate_changes(true, &[one.clone(), two.clone()], &[], "e.2").expect("apply");
    assert_eq!(store.certificate_sync_token().expect("token").as_deref(), Some("e.2"));
    let found = store.find_certificate(" k01-261122-0001 ").expect("find").expect("found by the receipt's number, however typed");
    assert_eq!(found.application_id, one.application_id);
    assert!(found.holder.matches("12345678"));
    // Printable only once the agency's keys are here, and only as signed.
    let document = |store: &Store, id| store.certificate_document(id, Timestamp::now()).expect("document").expect("cached");
    assert_eq!(document(&store, one.application_id), Err(balcao_backend_client::api::CertificateRefusal::UnknownKey));
    store.save_reference_data(crate::runtime::sync::DOCUMENT_KEYS, None, &document_keys()).expect("keys");
    assert_eq!(document(&store, one.application_id).as_deref(), Ok(&b"%PDF-1.4 certificate 1"[..]));
    let mut altered = ready_certificate(7);
    altered.document_pdf = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "%PDF-1.4 certificate 8");
    let mut unsigned = ready_certificate(9);
    unsigned.signature = None;
    store.apply_certificate_changes(false, &[altered.clone(), unsigned.clone()], &[], "e.3").expect("apply");
    assert_eq!(document(&store, altered.application_id), Err(balcao_backend_client::api::CertificateRefusal::HashMismatch));
    assert_eq!(document(&store, unsigned.application_id), Err(balcao_backend_client::api::CertificateRefusal::Malformed));
    store.apply_certificate_changes(false, &[], &[altered.application_id, unsigned.application_id], "e.3").expect("apply");
    // The document is sealed at rest.
    let raw: Vec<u8> = store.conn.query_row("SELECT sealed FROM ready_certificates LIMIT 1", [], |r| r.get(0)).expect("raw");
    assert!(!String::from_utf8_lossy(&raw).contains("%PDF") && !String::from_utf8_lossy(&raw).contains("salt"));

    // A catch-up: one gone, one new.
    store.apply_certificate_changes(false, std::slice::from_ref(&three), &[one.application_id], "e.4").expect("apply");
    assert!(store.find_certificate(&one.reference).expect("find").is_none());
    assert_eq!(store.ready_certificate_count().expect("count"), 2);
    // A full list replaces everything.
    store.apply_certificate_changes(true, std::slice::from_ref(&three), &[], "e.5").expect("apply");
    assert_eq!(store.ready_certificate_count().expect("count"), 1);
    assert!(store.find_certificate(&two.reference).expect("find").is_none());
}

#[test]
fn a_pickup_is_recorded_before_printing_queued_after_and_never_handed_out_twice_here() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("kiosk.db");
    let mut store = open(&path).expect("open");
    let (one, two) = (ready_certificate(1), ready_certificate(2));
    store.apply_certificate_changes(true, &[one.clone(), two.clone()], &[], "e.2").expect("apply");

    // Printed: recorded, queued, gone from the list — and a full list from central that still
    // names it (the pickup has not reached central yet) does not bring it back.
    let pickup = store.begin_pickup(one.application_id, true).expect("begin");
    assert!(store.outbox_report().expect("report").is_empty(), "nothing is sent before the printer reported");
    store.finish_pickup(pickup, PickupOutcome::Printed, HERE).expect("finish");
    let report = store.outbox_report().expect("report");
    assert_eq!(report.iter().map(|r| (r.id, r.kind.as_str())).collect::<Vec<_>>(), vec![(pickup, "pickup")]);
    let due = store.due_outbox(Timestamp::now(), 10).expect("due");
    let record: balcao_backend_client::api::PickupRecord = serde_json::from_str(&due[0].body).expect("pickup record");
    assert_eq!((record.application_id, record.offline, record.outcome), (one.application_id, true, PickupOutcome::Printed));
    store.apply_certificate_changes(true, &[one.clone(), two.clone()], &[], "e.3").expect("apply");
    assert!(store.find_certificate(&one.reference).expect("find").is_none());
    assert!(store.finish_pickup(pickup, PickupOutcome::Printed, HERE).is_err(), "a pickup finishes once");

    // Not printed: nothing recorded for central, the certificate stays available.
    let failed = store.begin_pickup(two.application_id, false).expect("begin");
    store.abandon_pickup(failed).expect("abandon");
    assert!(store.find_certificate(&two.reference).expect("find").is_some());
    assert_eq!(store.outbox_counts().expect("counts").pending, 1);

    // Cut short mid-print: found at the next start.
    let cut = store.begin_pickup(two.application_id, false).expect("begin");
    drop(store);
    let store = open(&path).expect("reopen");
    assert_eq!(store.interrupted_pickups().expect("interrupted"), vec![cut]);
}

#[test]
fn reference_data_is_kept_with_its_etag() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir.path().join("kiosk.db")).expect("open");
    assert_eq!(store.reference_data("identity-issuers").expect("read"), None);
    store.save_reference_data("identity-issuers", Some("\"a\""), "{\"keys\":[]}").expect("save");
    store.save_reference_data("identity-issuers", Some("\"b\""), "{\"keys\":[1]}").expect("save");
    assert_eq!(store.reference_data("identity-issuers").expect("read"), Some((Some("\"b\"".to_string()), "{\"keys\":[1]}".to_string())));
}

#[test]
fn queue_tickets_are_numbered_per_queue_and_day_recorded_before_printing_and_queued_after() {
    use balcao_backend_client::api::{QueueTicket, TicketOutcome};
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("kiosk.db");
    let mut store = open(&path).expect("open");
    let day = jiff::civil::date(2026, 11, 23);

    let first = store.begin_ticket("civil-registry", 'B', '1', day, true).expect("begin");
    assert_eq!(first.number, "B1-001");
    assert!(store.outbox_report().expect("report").is_empty(), "nothing is sent before the printer reported");
    store.finish_ticket(first.ticket_id, TicketOutcome::Printed, HERE).expect("finish");
    assert!(store.finish_ticket(first.ticket_id, TicketOutcome::Printed, HERE).is_err(), "a ticket is issued once");
    let due = store.due_outbox(Timestamp::now(), 10).expect("due");
    assert_eq!((due[0].id, due[0].kind.as_str()), (first.ticket_id, "queue-ticket"));
    let sent: QueueTicket = serde_json::from_str(&due[0].body).expect("ticket record");
    assert_eq!(
        (sent.number.as_str(), sent.queue_id.as_str(), sent.service_day, sent.offline, sent.outcome, sent.kiosk_id.as_str()),
        ("B1-001", "civil-registry", day, true, TicketOutcome::Printed, "K01")
    );

    // A ticket that did not print skips its number and sends nothing.
    let jammed = store.begin_ticket("civil-registry", 'B', '1', day, false).expect("begin");
    store.abandon_ticket(jammed.ticket_id).expect("abandon");
    assert_eq!(store.outbox_counts().expect("counts").pending, 1);
    // Each queue counts on its own; numbers go on across a restart and start again each day.
    assert_eq!(store.begin_ticket("identity-documents", 'A', '1', day, false).expect("begin").number, "A1-001");
    let cut = store.begin_ticket("civil-registry", 'B', '1', day, false).expect("begin");
    assert_eq!(cut.number, "B1-003");
    drop(store);
    let mut store = open(&path).expect("reopen");
    let interrupted = store.interrupted_tickets().expect("interrupted");
    assert_eq!(interrupted.len(), 2, "A1-001 and B1-003 were never finished");
    assert!(interrupted.contains(&cut.ticket_id));
    assert_eq!(store.begin_ticket("civil-registry", 'B', '1', day, false).expect("begin").number, "B1-004");
    assert_eq!(store.begin_ticket("civil-registry", 'B', '1', day.tomorrow().expect("day"), false).expect("begin").number, "B1-001");

    // Issued and acknowledged tickets are purged after the retention period, like the rest.
    let settled = vec![(first.ticket_id, Settlement::Delivered { central_state: None })];
    store.outbox_settle(&settled).expect("settle");
    store.purge_acknowledged(Timestamp::now() + jiff::SignedDuration::from_secs(1)).expect("purge");
    let left: Vec<String> = store
        .conn
        .prepare("SELECT id FROM queue_tickets")
        .expect("sql")
        .query_map([], |r| r.get(0))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert!(!left.contains(&first.ticket_id.to_string()), "issued and acknowledged: purged");
    assert!(!left.contains(&jammed.ticket_id.to_string()), "never printed: purged");
    assert!(left.contains(&cut.ticket_id.to_string()), "a ticket still being printed stays");
}

#[test]
fn the_payment_journal_refuses_steps_out_of_order_and_keeps_only_masked_card_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir.path().join("kiosk.db")).expect("open");
    let id = Uuid::now_v7();
    store.payment_intent(id, "criminal-record-certificate", 3000, "2026-12-02").expect("intent");
    // Authorised before the reservation was sent: refused, and nothing changes.
    assert!(store.payment_authorised(id, &Approval { receipt_number: 7, ..Approval::default() }).is_err());
    assert_eq!(store.payment(id).expect("read").expect("there").state, PaymentState::Intent);
    store.payment_step(id, PaymentState::PreauthSent).expect("sent");
    let approval =
        Approval { receipt_number: 7, trace_number: 107, card_brand: Some("VISA".into()), card_last4: Some("4111111111111111".into()) };
    store.payment_authorised(id, &approval).expect("authorised");
    let payment = store.payment(id).expect("read").expect("there");
    assert_eq!((payment.receipt_number, payment.trace_number), (Some(7), Some(107)));
    assert_eq!(payment.card_last4, None, "more than four digits is never kept");
    assert!(store.payment_step(id, PaymentState::Captured).is_err(), "captured before delivered");
}

#[test]
fn saving_the_application_marks_its_payment_fulfilled_in_the_same_transaction() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir.path().join("kiosk.db")).expect("open");
    let id = Uuid::now_v7();
    store.payment_intent(id, "criminal-record-certificate", 3000, "2026-12-02").expect("intent");
    store.payment_step(id, PaymentState::PreauthSent).expect("sent");
    store.payment_authorised(id, &Approval { receipt_number: 1, ..Approval::default() }).expect("authorised");
    // Not yet fulfilling: the save is refused whole, and no application is queued.
    let mut new = new_application(22);
    new.payment_id = Some(id);
    assert!(store.save_application(&new).is_err());
    assert_eq!(store.outbox_counts().expect("counts").pending, 0);
    store.payment_step(id, PaymentState::Fulfilling).expect("fulfilling");
    let saved = store.save_application(&new).expect("saved");
    let payment = store.payment(id).expect("read").expect("there");
    assert_eq!((payment.state, payment.application_id), (PaymentState::Fulfilled, Some(saved.application_id)));
    assert_eq!(store.payments_of_day("2026-12-02").expect("day").len(), 1);
}

#[test]
fn a_known_status_is_told_only_to_the_applicants_date_of_birth_and_follows_central() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir.path().join("kiosk.db")).expect("open");
    let mut new = new_application(22);
    new.answers.insert("date_of_birth".into(), Answer::Text("1985-03-14".into()));
    let saved = store.save_application(&new).expect("save");
    let known = store.known_status(&saved.reference.to_lowercase(), "1985-03-14").expect("read").expect("found");
    assert_eq!((known.application_id, known.central), (saved.application_id, None), "not sent yet");
    assert_eq!(store.known_status(&saved.reference, "1985-03-15").expect("read"), None, "a wrong date finds nothing");
    assert_eq!(store.known_status("K01-261122-9999", "1985-03-14").expect("read"), None);
    let without = store.save_application(&new_application(22)).expect("save");
    assert_eq!(store.known_status(&without.reference, "").expect("read"), None, "no date of birth: never told");

    store.outbox_settle(&[(saved.application_id, Settlement::Delivered { central_state: Some("in_review".into()) })]).expect("settle");
    let known = store.known_status(&saved.reference, "1985-03-14").expect("read").expect("found");
    assert_eq!(known.central.map(|(state, _)| state), Some(balcao_backend_client::api::ApplicationState::InReview));
}
