//! The API at its boundary: requests in, status codes, headers and problem bodies out, against
//! a real database: each test runs on SQLite and on PostgreSQL.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use balcao_backend_client::api::Catalog;
use balcao_backend_client::api::{
    Answer, ApplicationState, ApplicationSubmission, CertificateChanges, IssuerKeys, PickupOutcome, PickupReceipt, PickupRecord,
    PickupVerdict, Problem, QueueTicket, TicketReceipt, TicketVerdict,
};
use balcao_central::Central;
use balcao_central::tls::Peer;
use common::{Db, submission, ticket, today, today_code};
use rstest::rstest;
use tower::ServiceExt;
use uuid::Uuid;

mod common;

fn central(db: Db, dir: &tempfile::TempDir) -> Central {
    Central::open(&common::options(db, dir.path())).expect("central opens")
}

/// Sends a request as the kiosk K01 would: over a connection whose certificate names it.
async fn send(central: &Central, mut request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    request.extensions_mut().insert(ConnectInfo(Peer::kiosk("K01", "GSC-01")));
    send_as(central, request).await
}

/// The console's applications page, as a staff member signed in sees it.
async fn console_page(central: &Central) -> (StatusCode, Vec<u8>) {
    const PASSWORD: &str = "a password for the tests";
    if central.store().staff().expect("staff").is_empty() {
        central.store().add_staff("tester", "Tester", balcao_central::store::staff::Role::Viewer, &[], PASSWORD).expect("staff");
    }
    let (token, _) = central.store().log_in("tester", PASSWORD).expect("logged in");
    let request = Request::get("/console/applications?lang=en")
        .header(header::COOKIE, format!("__Host-balcao-session={token}"))
        .body(Body::empty())
        .expect("req");
    let (status, _, body) = send_as(central, request).await;
    (status, body)
}

/// Sends a request with whatever connection information it carries.
async fn send_as(central: &Central, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let response = central.router().oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body").to_vec();
    (status, headers, body)
}

fn post(key: Option<&str>, body: impl Into<Body>) -> Request<Body> {
    let mut request = Request::post("/v1/applications").header(header::CONTENT_TYPE, "application/json");
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    request.body(body.into()).expect("request")
}

fn problem(status: StatusCode, headers: &axum::http::HeaderMap, body: &[u8]) -> Problem {
    assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json", "status {status}");
    let problem: Problem = serde_json::from_slice(body).expect("problem body");
    assert_eq!(problem.status, status.as_u16());
    problem
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn catalog_has_an_etag_and_a_repeat_is_a_tiny_304(#[case] db: Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = central(db, &dir);
    let (status, headers, body) = send(&central, Request::get("/v1/catalog").body(Body::empty()).expect("req")).await;
    assert_eq!(status, StatusCode::OK);
    let catalog: Catalog = serde_json::from_slice(&body).expect("catalog");
    assert!(catalog.services.len() >= 6);
    let etag = headers[header::ETAG].to_str().expect("etag").to_string();

    let request = Request::get("/v1/catalog").header(header::IF_NONE_MATCH, &etag).body(Body::empty()).expect("req");
    let (status, headers, body) = send(&central, request).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    assert_eq!(headers[header::ETAG], etag.as_str());

    // A changed catalog has a new ETag, and the old one no longer matches.
    let mut changed = catalog.clone();
    changed.services[0].fee_avos += 100;
    central.replace_catalog(changed).expect("replace");
    let request = Request::get("/v1/catalog").header(header::IF_NONE_MATCH, &etag).body(Body::empty()).expect("req");
    let (status, headers, _) = send(&central, request).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(headers[header::ETAG], etag.as_str());
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn a_repeat_returns_the_first_answer_and_stores_nothing_twice(#[case] db: Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = central(db, &dir);
    let s = submission();
    let key = s.application_id.to_string();
    let body = serde_json::to_vec(&s).expect("json");
    let (first_status, _, first) = send(&central, post(Some(&key), body.clone())).await;
    assert_eq!(first_status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&first));
    // The same request with its keys in another order is the same request.
    let reordered = serde_json::to_vec(&serde_json::from_slice::<serde_json::Value>(&body).expect("value")).expect("json");
    let (status, headers, again) = send(&central, post(Some(&key), reordered)).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(headers["Idempotent-Replayed"], "true");
    assert_eq!(again, first);
    assert_eq!(central.store().count_applications().expect("count"), 1);
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn the_same_key_with_another_body_is_refused(#[case] db: Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = central(db, &dir);
    let s = submission();
    let key = s.application_id.to_string();
    assert_eq!(send(&central, post(Some(&key), serde_json::to_vec(&s).expect("json"))).await.0, StatusCode::CREATED);
    let mut changed = s.clone();
    changed.answers.insert("purpose".into(), Answer::Text("study".into()));
    let (status, headers, body) = send(&central, post(Some(&key), serde_json::to_vec(&changed).expect("json"))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem(status, &headers, &body).short_kind(), "idempotency-key-reused");
    assert_eq!(central.store().count_applications().expect("count"), 1);
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn a_repeat_while_the_first_is_in_flight_gets_409_with_retry_after(#[case] db: Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut options = common::options(db, dir.path());
    options.processing_delay = std::time::Duration::from_millis(400);
    let central = Arc::new(Central::open(&options).expect("central"));
    let s = submission();
    let key = s.application_id.to_string();
    let body = serde_json::to_vec(&s).expect("json");
    let first = tokio::spawn({
        let (central, key, body) = (central.clone(), key.clone(), body.clone());
        async move { send(&central, post(Some(&key), body)).await.0 }
    });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let (status, headers, body_409) = send(&central, post(Some(&key), body.clone())).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(headers[header::RETRY_AFTER], "1");
    assert_eq!(problem(status, &headers, &body_409).short_kind(), "request-in-flight");
    assert_eq!(first.await.expect("first"), StatusCode::CREATED);
    assert_eq!(send(&central, post(Some(&key), body)).await.0, StatusCode::CREATED);
    assert_eq!(central.store().count_applications().expect("count"), 1);
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn each_copy_ordered_is_paid_for(#[case] db: Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = central(db, &dir);
    let mut two = submission();
    two.answers.insert("copies".into(), Answer::Number(2));
    let key = two.application_id.to_string();
    let (status, headers, body) = send(&central, post(Some(&key), serde_json::to_vec(&two).expect("json"))).await;
    assert_eq!(problem(status, &headers, &body).short_kind(), "fee-mismatch", "one fee for two copies is refused");
    two.fee_avos = 6000;
    let (status, headers, body) = send(&central, post(Some(&key), serde_json::to_vec(&two).expect("json"))).await;
    assert_eq!(problem(status, &headers, &body).short_kind(), "payment-mismatch", "and so is one payment");
    two.payment.as_mut().expect("paid").amount_avos = 6000;
    assert_eq!(send(&central, post(Some(&key), serde_json::to_vec(&two).expect("json"))).await.0, StatusCode::CREATED);

    // Its certificate has a page per copy.
    central.issue_certificate(two.application_id).expect("issued");
    let pdf = central.store().certificate_changes("GSC-01", None, 10).expect("feed").ready.pop().expect("ready").document_pdf;
    let pdf = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, pdf).expect("base64");
    let file = dir.path().join("two-copies.pdf");
    std::fs::write(&file, pdf).expect("write");
    let info = std::process::Command::new("pdfinfo").arg(&file).output().expect("pdfinfo (tools/setup installs poppler-utils)");
    let info = String::from_utf8_lossy(&info.stdout);
    assert!(info.lines().any(|l| l.starts_with("Pages:") && l.ends_with(" 2")), "two pages: {info}");
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn bad_requests_get_problems(#[case] db: Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = central(db, &dir);
    let s = submission();
    let key = s.application_id.to_string();

    let mut wrong_answers = s.clone();
    wrong_answers.answers.insert("copies".into(), Answer::Number(9));
    wrong_answers.answers.remove("purpose");
    wrong_answers.answers.insert("document_number".into(), Answer::Text("1234567)8/".into()));
    let mut wrong_fee = s.clone();
    wrong_fee.fee_avos = 1;
    let mut unpaid = s.clone();
    unpaid.payment = None;
    let mut unknown = s.clone();
    unknown.service_id = "moon-landing-permit".into();

    let cases: Vec<(Option<String>, Vec<u8>, StatusCode, &str)> = vec![
        (None, serde_json::to_vec(&s).expect("json"), StatusCode::BAD_REQUEST, "idempotency-key-required"),
        (Some("not-a-uuid".into()), serde_json::to_vec(&s).expect("json"), StatusCode::BAD_REQUEST, "idempotency-key-required"),
        (Some(key.clone()), b"{not json".to_vec(), StatusCode::BAD_REQUEST, "malformed-body"),
        (Some(key.clone()), br#"{"application_id": 5}"#.to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "invalid-application"),
        (
            Some(Uuid::now_v7().to_string()),
            serde_json::to_vec(&s).expect("json"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency-key-mismatch",
        ),
        (Some(key.clone()), serde_json::to_vec(&wrong_answers).expect("json"), StatusCode::UNPROCESSABLE_ENTITY, "invalid-answers"),
        (Some(key.clone()), serde_json::to_vec(&wrong_fee).expect("json"), StatusCode::UNPROCESSABLE_ENTITY, "fee-mismatch"),
        (Some(key.clone()), serde_json::to_vec(&unpaid).expect("json"), StatusCode::UNPROCESSABLE_ENTITY, "payment-mismatch"),
        (Some(key.clone()), serde_json::to_vec(&unknown).expect("json"), StatusCode::UNPROCESSABLE_ENTITY, "unknown-service"),
    ];
    for (key, body, expected_status, kind) in cases {
        let (status, headers, body) = send(&central, post(key.as_deref(), body)).await;
        assert_eq!(status, expected_status, "{kind}");
        let problem = problem(status, &headers, &body);
        assert_eq!(problem.short_kind(), kind);
        if kind == "invalid-answers" {
            let fields: Vec<_> = problem.errors.iter().map(|e| e.field.as_str()).collect();
            assert_eq!(fields, ["copies", "document_number", "purpose"]);
        }
    }
    assert_eq!(central.store().count_applications().expect("count"), 0, "nothing refused was stored");

    let (status, headers, body) = send(&central, Request::get("/v1/applications/nope").body(Body::empty()).expect("req")).await;
    assert_eq!(problem(status, &headers, &body).short_kind(), "invalid-id");
    let (status, headers, body) = send(&central, Request::get(format!("/v1/applications/{key}")).body(Body::empty()).expect("req")).await;
    assert_eq!(problem(status, &headers, &body).short_kind(), "unknown-application");
    let (status, headers, body) = send(&central, Request::get("/v2/anything").body(Body::empty()).expect("req")).await;
    assert_eq!(problem(status, &headers, &body).short_kind(), "not-found");
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn status_and_the_console_page_show_a_stored_application(#[case] db: Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = central(db, &dir);
    let s = submission();
    let key = s.application_id.to_string();
    assert_eq!(send(&central, post(Some(&key), serde_json::to_vec(&s).expect("json"))).await.0, StatusCode::CREATED);
    let (status, _, body) = send(&central, Request::get(format!("/v1/applications/{key}")).body(Body::empty()).expect("req")).await;
    assert_eq!(status, StatusCode::OK);
    let found: balcao_backend_client::api::ApplicationStatus = serde_json::from_slice(&body).expect("status");
    assert_eq!(found.reference, format!("K01-{}-0001", today_code()));
    assert_eq!(found.history.len(), 1);

    let (status, page) = console_page(&central).await;
    assert_eq!(status, StatusCode::OK);
    let page = String::from_utf8(page).expect("utf-8");
    assert!(page.contains(&format!("K01-{}-0001", today_code())) && page.contains("Certificate of Criminal Record"), "{page}");
    assert!(!page.contains("CHAN TAI MAN"), "the page shows no applicant data");

    let (status, _, doc) = send(&central, Request::get("/openapi.json").body(Body::empty()).expect("req")).await;
    assert_eq!(status, StatusCode::OK);
    let doc: serde_json::Value = serde_json::from_slice(&doc).expect("openapi json");
    assert!(doc["paths"]["/v1/applications"]["post"].is_object());
}

fn status_check(reference: &str, date_of_birth: &str) -> Request<Body> {
    let body = serde_json::json!({ "reference": reference, "date_of_birth": date_of_birth });
    Request::post("/v1/status-checks").header(header::CONTENT_TYPE, "application/json").body(Body::from(body.to_string())).expect("request")
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn status_is_told_only_to_the_number_with_its_applicants_date_of_birth(#[case] db: Db) {
    use balcao_backend_client::api::{CitizenStatus, NextStep};
    let dir = tempfile::tempdir().expect("tempdir");
    let central = central(db, &dir);
    let s = submission();
    let key = s.application_id.to_string();
    assert_eq!(send(&central, post(Some(&key), serde_json::to_vec(&s).expect("json"))).await.0, StatusCode::CREATED);

    // A wrong date and an unknown number get the same answer.
    let (status, headers, body) = send(&central, status_check(&s.reference, "1985-03-15")).await;
    let wrong = problem(status, &headers, &body);
    let (status, headers, body) = send(&central, status_check("K01-990101-0001", "1985-03-14")).await;
    let unknown = problem(status, &headers, &body);
    assert_eq!((wrong.status, wrong.kind.as_str()), (404, "urn:balcao:problem:no-match"));
    assert_eq!((wrong.kind, wrong.title), (unknown.kind, unknown.title), "nothing tells whether the number exists");
    let (status, headers, body) = send(&central, status_check(&s.reference, "14/03/1985")).await;
    assert_eq!(problem(status, &headers, &body).kind, "urn:balcao:problem:invalid-date-of-birth");
    // A body that is not a status query is refused as the other kiosk doors refuse one: 422,
    // naming what is wrong.
    for (body, fault) in [("{not json", "key must be a string"), (r#"{"reference": "K01-990101-0001"}"#, "date_of_birth")] {
        let request = Request::post("/v1/status-checks").header(header::CONTENT_TYPE, "application/json").body(Body::from(body));
        let (status, headers, answer) = send(&central, request.expect("request")).await;
        let refused = problem(status, &headers, &answer);
        assert_eq!((refused.status, refused.kind.as_str()), (422, "urn:balcao:problem:invalid-status-query"), "{body}");
        assert!(refused.detail.as_deref().unwrap_or_default().contains(fault), "{refused:?}");
    }

    // The number (in any case) with the applicant's date of birth: the status and what next.
    let (status, _, body) = send(&central, status_check(&s.reference.to_lowercase(), "1985-03-14")).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let seen: CitizenStatus = serde_json::from_slice(&body).expect("status");
    assert_eq!((seen.state, seen.next_step, seen.on_time), (ApplicationState::Received, NextStep::Wait, true));
    assert!(seen.due > jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::system()).date(), "three working days ahead");
    assert_eq!(seen.history.len(), 1);
    central.issue_certificate(s.application_id).expect("issued");
    let (_, _, body) = send(&central, status_check(&s.reference, "1985-03-14")).await;
    let seen: CitizenStatus = serde_json::from_slice(&body).expect("status");
    assert_eq!((seen.state, seen.next_step, seen.history.len()), (ApplicationState::Ready, NextStep::CollectAtKiosk, 2));

    // Five wrong tries close the number, even to the right date, and say for how long.
    for _ in 0..5 {
        assert_eq!(send(&central, status_check(&s.reference, "2000-01-01")).await.0, StatusCode::NOT_FOUND);
    }
    let (status, headers, body) = send(&central, status_check(&s.reference, "1985-03-14")).await;
    assert_eq!(problem(status, &headers, &body).kind, "urn:balcao:problem:too-many-tries");
    let wait: u64 = headers[header::RETRY_AFTER].to_str().expect("ascii").parse().expect("seconds");
    assert!((800..=900).contains(&wait), "about 15 minutes: {wait}");
    // Another number is not held up by this one's tries.
    assert_eq!(send(&central, status_check("K01-990101-0002", "1985-03-14")).await.0, StatusCode::NOT_FOUND);
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn the_public_status_page_asks_for_the_date_of_birth_and_answers_in_three_languages(#[case] db: Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = central(db, &dir);
    let s = submission();
    let key = s.application_id.to_string();
    assert_eq!(send(&central, post(Some(&key), serde_json::to_vec(&s).expect("json"))).await.0, StatusCode::CREATED);
    let phone = |request: Request<Body>| send_as(&central, request);
    let text = |body: Vec<u8>| String::from_utf8(body).expect("utf-8");

    // The receipt's QR: the number in the address, no certificate, the date asked for.
    let (status, headers, body) = phone(Request::get(format!("/status/{}?lang=pt", s.reference)).body(Body::empty()).expect("req")).await;
    let page = text(body);
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert!(page.contains("Data de nascimento do requerente") && page.contains(&s.reference) && page.contains(r#"type="date""#), "{page}");
    assert!(!page.contains("Registo Criminal"), "nothing of the application before the date of birth");

    let form = |born: &str, lang: &str| {
        Request::post(format!("/status/{}?lang={lang}", s.reference))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("reference={}&date_of_birth={born}", s.reference)))
            .expect("req")
    };
    let (status, _, body) = phone(form("1985-03-14", "zh-Hant")).await;
    let page = text(body);
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("已收件") && page.contains("按時處理中") && page.contains("刑事紀錄證明書"), "{page}");
    let (status, _, body) = phone(form("1985-03-14", "en")).await;
    let page = text(body);
    assert!(status == StatusCode::OK && page.contains("Received") && page.contains("Nothing to do"), "{page}");
    assert!(!page.contains("1985-03-14") && !page.contains("CHAN TAI MAN"), "the page repeats no personal data");

    let (status, headers, body) = phone(form("1999-12-31", "en")).await;
    let page = text(body);
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8", "a page for people stays a page: {page}");
    assert!(page.contains("No application with this number and date of birth") && !page.contains("Received"), "{page}");
    let (status, _, body) = phone(form("yesterday", "pt")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(body).contains("data de nascimento completa"));
    // A script in the address is text, not markup.
    let (status, _, body) = phone(Request::get("/status/%3Cscript%3E").body(Body::empty()).expect("req")).await;
    assert!(status == StatusCode::OK && !text(body).contains("<script"), "escaped and filtered");

    // One address trying number after number is stopped too (20 wrong tries, one made above),
    // even for a right answer after.
    for i in 0..19 {
        let request = Request::post(format!("/status/K01-990101-{i:04}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("reference=K01-990101-{i:04}&date_of_birth=1985-03-14")))
            .expect("req");
        assert_eq!(phone(request).await.0, StatusCode::NOT_FOUND, "try {i}");
    }
    let (status, _, body) = phone(form("1985-03-14", "en")).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(text(body).contains("Too many wrong tries"));
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn kiosk_events_are_recorded_once_and_a_reused_id_is_refused(#[case] db: Db) {
    use balcao_backend_client::api::{KioskEvent, KioskEventKind, Severity};
    let dir = tempfile::tempdir().expect("tempdir");
    let central = central(db, &dir);
    let event = KioskEvent {
        event_id: Uuid::now_v7(),
        kiosk_id: "K01".into(),
        centre_id: "GSC-01".into(),
        kind: KioskEventKind::DeadLetter,
        severity: Severity::Critical,
        detail: "outbox entry refused".into(),
        at: jiff::Timestamp::now(),
        day_totals: None,
    };
    let to_events = |key: Option<String>, body: Vec<u8>| {
        let mut request = Request::post("/v1/events").header(header::CONTENT_TYPE, "application/json");
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        request.body(Body::from(body)).expect("request")
    };
    let key = Some(event.event_id.to_string());
    let body = serde_json::to_vec(&event).expect("json");
    for _ in 0..2 {
        let (status, _, _) = send(&central, to_events(key.clone(), body.clone())).await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    assert_eq!(central.store().recent_events(10).expect("events"), vec![event.clone()], "recorded once");

    let mut other = event.clone();
    other.detail = "something else".into();
    let (status, headers, body) = send(&central, to_events(key.clone(), serde_json::to_vec(&other).expect("json"))).await;
    assert_eq!(problem(status, &headers, &body).short_kind(), "idempotency-key-reused");
    let (status, headers, body) = send(&central, to_events(None, serde_json::to_vec(&event).expect("json"))).await;
    assert_eq!((status, problem(status, &headers, &body).short_kind()), (StatusCode::BAD_REQUEST, "idempotency-key-required"));
    let (status, headers, body) =
        send(&central, to_events(Some(Uuid::now_v7().to_string()), serde_json::to_vec(&event).expect("json"))).await;
    assert_eq!(problem(status, &headers, &body).short_kind(), "idempotency-key-mismatch");
    let (status, headers, body) = send(&central, to_events(key, b"{\"kind\":\"nonsense\"}".to_vec())).await;
    assert_eq!((status, problem(status, &headers, &body).short_kind()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid-event"));
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn only_an_enrolled_kiosk_may_call_and_only_in_its_own_name(#[case] db: Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = central(db, &dir);
    let submission = submission();
    let body = serde_json::to_vec(&submission).expect("json");
    let key = submission.application_id.to_string();

    // No client certificate (a browser, or anything not enrolled): refused.
    let (status, headers, body_out) = send_as(&central, Request::get("/v1/catalog").body(Body::empty()).expect("req")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(problem(status, &headers, &body_out).short_kind(), "kiosk-certificate-required");
    let mut request = post(Some(&key), body.clone());
    request.extensions_mut().insert(ConnectInfo(Peer { addr: ([127, 0, 0, 1], 9).into(), kiosk: None }));
    assert_eq!(send_as(&central, request).await.0, StatusCode::UNAUTHORIZED);

    // Kiosk K02 filing an application in K01's name: refused, nothing stored.
    let mut request = post(Some(&key), body.clone());
    request.extensions_mut().insert(ConnectInfo(Peer::kiosk("K02", "GSC-01")));
    let (status, headers, body_out) = send_as(&central, request).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(problem(status, &headers, &body_out).short_kind(), "kiosk-mismatch");
    // K01's certificate with the record of a kiosk at another centre: refused too.
    let mut elsewhere = submission.clone();
    elsewhere.centre_id = "GSC-02".into();
    let (status, headers, body_out) = send(&central, post(Some(&key), serde_json::to_vec(&elsewhere).expect("json"))).await;
    assert_eq!(problem(status, &headers, &body_out).short_kind(), "centre-mismatch");
    assert_eq!(central.store().count_applications().expect("count"), 0);

    // K01 itself: stored. The console needs no kiosk certificate: it asks staff to log in.
    assert_eq!(send(&central, post(Some(&key), body)).await.0, StatusCode::CREATED);
    let (status, headers, _) = send_as(&central, Request::get("/console/").body(Body::empty()).expect("req")).await;
    assert_eq!((status, headers[header::LOCATION].to_str().expect("ascii")), (StatusCode::SEE_OTHER, "/console/login"));
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn a_batch_stores_each_application_once_in_order_with_its_own_verdict(#[case] db: Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = central(db, &dir);
    let stored_before = submission();
    let key = stored_before.application_id.to_string();
    assert_eq!(send(&central, post(Some(&key), serde_json::to_vec(&stored_before).expect("json"))).await.0, StatusCode::CREATED);
    let new = submission();
    let mut wrong_fee = submission();
    wrong_fee.fee_avos = 1;
    let mut other_kiosk = submission();
    other_kiosk.kiosk_id = "K02".into();
    let batch = serde_json::json!({ "applications": [stored_before, new, wrong_fee, {"application_id": "nope"}, other_kiosk] });
    let request = Request::post("/v1/applications/batch")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(serde_json::to_vec(&batch).expect("json")))
        .expect("request");
    let (status, _, body) = send(&central, request).await;
    assert_eq!(status, StatusCode::OK);
    let results: balcao_backend_client::api::BatchResults = serde_json::from_slice(&body).expect("results");
    let verdicts: Vec<(u16, Option<String>)> =
        results.results.iter().map(|r| (r.status, r.problem.as_ref().map(|p| p.short_kind().to_string()))).collect();
    assert_eq!(
        verdicts,
        [
            (201, None),
            (201, None),
            (422, Some("fee-mismatch".into())),
            (422, Some("invalid-application".into())),
            (403, Some("kiosk-mismatch".into()))
        ]
    );
    assert_eq!(results.results[1].receipt.as_ref().map(|r| r.application_id), Some(new.application_id));
    assert_eq!(central.store().count_applications().expect("count"), 2, "the repeat was not stored again");

    // Not a batch: refused as a whole.
    for bad in [serde_json::json!({"applications": []}), serde_json::json!({"apps": [new]})] {
        let request = Request::post("/v1/applications/batch").body(Body::from(bad.to_string())).expect("request");
        assert_eq!(send(&central, request).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    }
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn a_batch_stops_before_an_application_another_request_is_processing(#[case] db: Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut options = common::options(db, dir.path());
    options.processing_delay = std::time::Duration::from_millis(400);
    let central = Arc::new(Central::open(&options).expect("central"));
    let (before, busy, after) = (submission(), submission(), submission());
    let first = tokio::spawn({
        let (central, key, body) = (central.clone(), busy.application_id.to_string(), serde_json::to_vec(&busy).expect("json"));
        async move { send(&central, post(Some(&key), body)).await.0 }
    });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let batch = serde_json::json!({ "applications": [before, busy, after] });
    let request = Request::post("/v1/applications/batch").body(Body::from(batch.to_string())).expect("request");
    let (status, _, body) = send(&central, request).await;
    assert_eq!(status, StatusCode::OK);
    let results: balcao_backend_client::api::BatchResults = serde_json::from_slice(&body).expect("results");
    let ids: Vec<_> = results.results.iter().map(|r| (r.application_id, r.status)).collect();
    assert_eq!(ids, [(Some(before.application_id), 201)], "processed up to the one in flight, and nothing after it");
    assert_eq!(first.await.expect("first"), StatusCode::CREATED);
    assert_eq!(central.store().count_applications().expect("count"), 2, "the one after it waits for the kiosk's next try");
}

/// Stores an application at `centre` and issues its certificate.
/// An application filed by K01 at GSC-01, or K31 at another centre, and its certificate issued.
async fn issued(central: &Central, centre: &str, number: u32) -> Uuid {
    let mut s = submission();
    s.centre_id = centre.into();
    s.kiosk_id = if centre == "GSC-01" { "K01".into() } else { "K31".into() };
    s.reference = format!("{}-{}-{number:04}", s.kiosk_id, today_code());
    let key = s.application_id.to_string();
    let mut request = post(Some(&key), serde_json::to_vec(&s).expect("json"));
    request.extensions_mut().insert(ConnectInfo(Peer::kiosk(&s.kiosk_id, centre)));
    assert_eq!(send_as(central, request).await.0, StatusCode::CREATED);
    central.issue_certificate(s.application_id).expect("issued");
    s.application_id
}

async fn feed(central: &Central, centre: &str, since: Option<&str>) -> (StatusCode, Vec<u8>) {
    let uri = match since {
        Some(token) => format!("/v1/certificates/ready?centre={centre}&since={token}"),
        None => format!("/v1/certificates/ready?centre={centre}"),
    };
    let (status, _, body) = send(central, Request::get(uri).body(Body::empty()).expect("req")).await;
    (status, body)
}

fn changes(body: &[u8]) -> CertificateChanges {
    serde_json::from_slice(body).expect("changes")
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn a_centres_feed_lists_its_certificates_and_a_catch_up_names_only_what_changed(#[case] db: Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = central(db, &dir);
    let first = issued(&central, "GSC-01", 1).await;
    let second = issued(&central, "GSC-01", 2).await;
    issued(&central, "GSC-02", 3).await;

    let (status, body) = feed(&central, "GSC-01", None).await;
    assert_eq!(status, StatusCode::OK);
    let full = changes(&body);
    // Another centre's list is not this kiosk's to read.
    let (status, body) = feed(&central, "GSC-02", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("centre-mismatch"));
    assert!(full.reset && !full.more && full.gone.is_empty());
    assert_eq!(full.ready.iter().map(|c| c.application_id).collect::<Vec<_>>(), vec![first, second], "only this centre's, in order");
    let certificate = &full.ready[0];
    assert_eq!(certificate.reference, format!("K01-{}-0001", today_code()));
    assert!(certificate.holder.matches("12345678") && !certificate.holder.matches("12345679"));
    let pdf = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &certificate.document_pdf).expect("base64");
    assert!(pdf.starts_with(b"%PDF-") && String::from_utf8_lossy(&pdf).contains(&format!("K01-{}-0001", today_code())));
    assert!(!String::from_utf8_lossy(&body).contains("1234567"), "the feed carries no document number");

    // Nothing new: an empty page with the same token.
    let (_, body) = feed(&central, "GSC-01", Some(&full.token)).await;
    let nothing = changes(&body);
    assert!(!nothing.reset && nothing.ready.is_empty() && nothing.gone.is_empty());
    assert_eq!(nothing.token, full.token);

    // A new certificate and a pickup: the catch-up names both, the full list only what is left.
    let third = issued(&central, "GSC-01", 4).await;
    let pickup = pickup_record(first, "K01");
    let (status, _, _) = send(&central, post_pickup(&pickup)).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, body) = feed(&central, "GSC-01", Some(&full.token)).await;
    let caught_up = changes(&body);
    assert_eq!(caught_up.ready.iter().map(|c| c.application_id).collect::<Vec<_>>(), vec![third]);
    assert_eq!(caught_up.gone, vec![first]);
    let (_, body) = feed(&central, "GSC-01", None).await;
    assert_eq!(changes(&body).ready.iter().map(|c| c.application_id).collect::<Vec<_>>(), vec![second, third]);
    let status = central.store().application_status(first, None).expect("status").expect("found");
    assert_eq!(status.state, ApplicationState::Collected);
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn a_long_feed_comes_in_pages_and_a_token_central_no_longer_knows_gets_410(#[case] db: Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = central(db, &dir);
    let mut ids = Vec::new();
    for n in 1..=5 {
        ids.push(issued(&central, "GSC-01", n).await);
    }
    let store = central.store();
    let full_list = || {
        let mut pages = vec![store.certificate_changes("GSC-01", None, 2).expect("page")];
        while pages.last().expect("page").more {
            let token = pages.last().expect("page").token.clone();
            pages.push(store.certificate_changes("GSC-01", Some(&token), 2).expect("page"));
        }
        pages
    };
    let pages = full_list();
    assert_eq!(pages.iter().map(|p| p.ready.len()).collect::<Vec<_>>(), vec![2, 2, 1]);
    assert!(pages[0].reset && !pages[1].reset);
    assert_eq!(pages.iter().flat_map(|p| p.ready.iter().map(|c| c.application_id)).collect::<Vec<_>>(), ids);

    for bad in ["0000000000000000.1", "nonsense", "", &format!("{}9", pages[2].token)] {
        let (status, body) = feed(&central, "GSC-01", Some(bad)).await;
        assert_eq!(status, StatusCode::GONE, "token {bad:?}");
        let problem: Problem = serde_json::from_slice(&body).expect("problem");
        assert!(problem.kind.ends_with("sync-token-expired"), "{}", problem.kind);
    }
    // Once collected certificates leave the feed, a token from before them is too old.
    let old_token = pages[2].token.clone();
    assert_eq!(send(&central, post_pickup(&pickup_record(ids[4], "K01"))).await.0, StatusCode::CREATED);
    assert_eq!(store.purge_feed(jiff::Timestamp::now() + jiff::SignedDuration::from_secs(1)).expect("purge"), 1);
    assert_eq!(feed(&central, "GSC-01", Some(&old_token)).await.0, StatusCode::GONE);
    // The full list still pages through (its pages are not held to the horizon) and ends on
    // a token that is current.
    let pages = full_list();
    assert_eq!(pages.iter().flat_map(|p| p.ready.iter().map(|c| c.application_id)).collect::<Vec<_>>(), ids[..4]);
    let (status, body) = feed(&central, "GSC-01", Some(&pages.last().expect("page").token)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(changes(&body).ready.is_empty());
}

fn pickup_record(application_id: Uuid, kiosk: &str) -> PickupRecord {
    PickupRecord {
        pickup_id: Uuid::now_v7(),
        application_id,
        kiosk_id: kiosk.into(),
        centre_id: "GSC-01".into(),
        outcome: PickupOutcome::Printed,
        offline: true,
        collected_at: jiff::Timestamp::now(),
    }
}

/// A write of `record` to `path` with `key` as its Idempotency-Key.
fn post_record(path: &str, key: Uuid, record: &impl serde::Serialize) -> Request<Body> {
    Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .header("Idempotency-Key", key.to_string())
        .body(Body::from(serde_json::to_vec(record).expect("json")))
        .expect("request")
}

fn post_pickup(pickup: &PickupRecord) -> Request<Body> {
    post_record("/v1/pickups", pickup.pickup_id, pickup)
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn a_certificate_handed_out_twice_is_recorded_twice_and_flagged(#[case] db: Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = central(db, &dir);
    let application = issued(&central, "GSC-01", 1).await;
    let verdict = |body: &[u8]| serde_json::from_slice::<PickupReceipt>(body).expect("receipt").verdict;

    let at_k01 = pickup_record(application, "K01");
    let (status, _, body) = send(&central, post_pickup(&at_k01)).await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
    assert_eq!(verdict(&body), PickupVerdict::Recorded);
    // A repeat (the answer was lost) is the same pickup, not a second one.
    let (status, _, body) = send(&central, post_pickup(&at_k01)).await;
    assert_eq!((status, verdict(&body)), (StatusCode::CREATED, PickupVerdict::Recorded));

    // K02 handed the same certificate out while both were offline.
    let at_k02 = pickup_record(application, "K02");
    let mut request = post_pickup(&at_k02);
    request.extensions_mut().insert(ConnectInfo(Peer::kiosk("K02", "GSC-01")));
    let (status, _, body) = send_as(&central, request).await;
    assert_eq!((status, verdict(&body)), (StatusCode::CREATED, PickupVerdict::Duplicate));
    let flagged = central.store().recent_pickups(10, true).expect("pickups");
    assert_eq!(flagged.iter().map(|p| (p.pickup_id, p.kiosk_id.as_str())).collect::<Vec<_>>(), vec![(at_k02.pickup_id, "K02")]);
    assert_eq!(central.store().recent_pickups(10, false).expect("pickups").len(), 2);
    let (_, page) = console_page(&central).await;
    let page = String::from_utf8(page).expect("utf-8");
    assert!(page.contains("Certificates handed out twice") && page.contains(&format!("K01-{}-0001", today_code())), "{page}");

    // Refusals: no such certificate, a reused id, a pickup in another kiosk's name.
    let (status, headers, body) = send(&central, post_pickup(&pickup_record(Uuid::now_v7(), "K01"))).await;
    assert!(problem(status, &headers, &body).kind.ends_with("unknown-certificate"));
    let mut reused = at_k01.clone();
    reused.offline = false;
    let (status, headers, body) = send(&central, post_pickup(&reused)).await;
    assert!(problem(status, &headers, &body).kind.ends_with("idempotency-key-reused"));
    let (status, _, _) = send(&central, post_pickup(&pickup_record(application, "K03"))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(central.store().recent_pickups(10, false).expect("pickups").len(), 2, "refusals record nothing");
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn identity_issuer_keys_have_an_etag_and_a_repeat_is_a_304(#[case] db: Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = central(db, &dir);
    let (status, headers, body) = send(&central, Request::get("/v1/identity-issuers").body(Body::empty()).expect("req")).await;
    assert_eq!(status, StatusCode::OK);
    let keys: IssuerKeys = serde_json::from_slice(&body).expect("keys");
    assert_eq!(keys.keys.len(), 1);
    let key = &keys.keys[0];
    assert_eq!(key.alg, "Ed25519");
    let public = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &key.public_key).expect("base64url");
    assert_eq!(public.len(), 32);
    assert!(key.not_after > jiff::Timestamp::now());
    assert!(!String::from_utf8_lossy(&body).contains("pkcs8"), "no private key leaves central");
    let etag = headers[header::ETAG].to_str().expect("etag").to_string();
    let request = Request::get("/v1/identity-issuers").header(header::IF_NONE_MATCH, &etag).body(Body::empty()).expect("req");
    let (status, _, body) = send(&central, request).await;
    assert_eq!((status, body.len()), (StatusCode::NOT_MODIFIED, 0));

    // A rotation (due after 30 days) changes the set and its tag; the old key stays listed.
    assert!(!central.store().rotate_issuer_key(jiff::Timestamp::now()).expect("rotate"), "not due yet");
    assert!(central.store().rotate_issuer_key(jiff::Timestamp::now() + jiff::SignedDuration::from_hours(31 * 24)).expect("rotate"));
    let request = Request::get("/v1/identity-issuers").header(header::IF_NONE_MATCH, &etag).body(Body::empty()).expect("req");
    let (status, _, body) = send(&central, request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(serde_json::from_slice::<IssuerKeys>(&body).expect("keys").keys.len(), 2);
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn the_demo_agency_issues_certificates_of_received_applications_once(#[case] db: Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = central(db, &dir);
    let s = submission();
    assert_eq!(
        send(&central, post(Some(&s.application_id.to_string()), serde_json::to_vec(&s).expect("json"))).await.0,
        StatusCode::CREATED
    );
    assert_eq!(central.issue_due_certificates(std::time::Duration::from_secs(3600)).expect("issue"), 0, "not old enough");
    assert_eq!(central.issue_due_certificates(std::time::Duration::ZERO).expect("issue"), 1);
    assert_eq!(central.issue_due_certificates(std::time::Duration::ZERO).expect("issue"), 0, "already ready");
    assert_eq!(central.store().certificate_changes("GSC-01", None, 10).expect("feed").ready.len(), 1);
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn queue_tickets_are_filed_once_and_a_number_issued_twice_is_flagged(#[case] db: Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = central(db, &dir);
    let verdict = |body: &[u8]| serde_json::from_slice::<TicketReceipt>(body).expect("receipt").verdict;
    let post_ticket = |t: &QueueTicket| post_record("/v1/queue-tickets", t.ticket_id, t);

    let first = ticket("B1-001", "K01");
    let (status, _, body) = send(&central, post_ticket(&first)).await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
    assert_eq!(verdict(&body), TicketVerdict::Recorded);
    // The answer was lost and the kiosk sends it again: still one ticket.
    let (status, _, body) = send(&central, post_ticket(&first)).await;
    assert_eq!((status, verdict(&body)), (StatusCode::CREATED, TicketVerdict::Recorded));
    let (status, _, body) = send(&central, post_ticket(&ticket("B1-002", "K01"))).await;
    assert_eq!((status, verdict(&body)), (StatusCode::CREATED, TicketVerdict::Recorded));

    // K02 was given the same series by mistake: its B1-001 is filed, and flagged.
    let clash = ticket("B1-001", "K02");
    let mut request = post_ticket(&clash);
    request.extensions_mut().insert(ConnectInfo(Peer::kiosk("K02", "GSC-01")));
    let (status, _, body) = send_as(&central, request).await;
    assert_eq!((status, verdict(&body)), (StatusCode::CREATED, TicketVerdict::NumberReused));
    // The same number on another day, or at another centre, is no clash.
    let tomorrow = QueueTicket { service_day: today().tomorrow().expect("a tomorrow"), ..ticket("B1-001", "K01") };
    assert_eq!(verdict(&send(&central, post_ticket(&tomorrow)).await.2), TicketVerdict::Recorded);
    let elsewhere = QueueTicket { centre_id: "GSC-02".into(), ..ticket("B1-001", "K31") };
    let mut request = post_ticket(&elsewhere);
    request.extensions_mut().insert(ConnectInfo(Peer::kiosk("K31", "GSC-02")));
    assert_eq!(verdict(&send_as(&central, request).await.2), TicketVerdict::Recorded);
    // K01 cannot file for the other centre.
    let (status, headers, body) = send(&central, post_ticket(&QueueTicket { centre_id: "GSC-02".into(), ..ticket("B1-002", "K01") })).await;
    assert_eq!(problem(status, &headers, &body).short_kind(), "centre-mismatch");

    let reused = central.store().reused_ticket_numbers(10).expect("reused");
    assert_eq!(reused.iter().map(|r| (r.kiosk_id.as_str(), r.number.as_str())).collect::<Vec<_>>(), vec![("K02", "B1-001")]);
    let days = central.store().queue_days(3).expect("days");
    let gsc01 = days.iter().find(|d| d.service_day == today().to_string() && d.centre_id == "GSC-01").expect("today at GSC-01");
    assert_eq!((gsc01.issued, gsc01.offline, gsc01.queue_id.as_str()), (3, 3, "civil-registry"));
    let (_, page) = console_page(&central).await;
    let page = String::from_utf8(page).expect("utf-8");
    assert!(page.contains("Queue ticket numbers issued twice") && page.contains(">Civil registry<"), "{page}");

    // Refusals: a reused id, an empty number, another kiosk's name, no key.
    let mut changed = first.clone();
    changed.number = "B1-009".into();
    let (status, headers, body) = send(&central, post_ticket(&changed)).await;
    assert!(problem(status, &headers, &body).kind.ends_with("idempotency-key-reused"));
    let (status, headers, body) = send(&central, post_ticket(&ticket(" ", "K01"))).await;
    assert!(problem(status, &headers, &body).kind.ends_with("invalid-ticket"));
    assert_eq!(send(&central, post_ticket(&ticket("B1-003", "K03"))).await.0, StatusCode::FORBIDDEN);
    let mut keyless = post_ticket(&ticket("B1-004", "K01"));
    keyless.headers_mut().remove("Idempotency-Key");
    assert_eq!(send(&central, keyless).await.0, StatusCode::BAD_REQUEST);
    let total: u32 = central.store().queue_days(3).expect("days").iter().map(|d| d.issued).sum();
    assert_eq!(total, 5, "refusals file nothing");
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn a_service_for_the_holder_only_takes_applications_whose_applicant_was_identified_as_the_holder(#[case] db: Db) {
    use balcao_backend_client::api::{HolderCheck, IdentityMethod, IdentityProof};
    let dir = tempfile::tempdir().expect("tempdir");
    let central = central(db, &dir);
    let application = |identity: Option<IdentityProof>| {
        let mut s = submission();
        s.application_id = Uuid::now_v7();
        s.service_id = "identification-data-certificate".into();
        s.answers.remove("purpose");
        s.answers.insert("include_address".into(), Answer::Bool(false));
        s.fee_avos = 4000;
        if let Some(payment) = s.payment.as_mut() {
            payment.amount_avos = 4000;
        }
        s.identity = identity;
        s
    };
    let submit = |s: ApplicationSubmission| {
        let central = &central;
        async move {
            let (status, headers, body) =
                send(central, post(Some(&s.application_id.to_string()), serde_json::to_vec(&s).expect("json"))).await;
            (status, (status != StatusCode::CREATED).then(|| problem(status, &headers, &body).short_kind().to_string()))
        }
    };
    let proof = |method, number: &str| Some(IdentityProof { method, holder: HolderCheck::new([3; 16], number) });

    assert_eq!(submit(application(None)).await, (StatusCode::UNPROCESSABLE_ENTITY, Some("identity-required".into())));
    // The holder's number is 1234567(8): a proof for another number is refused.
    let other = application(proof(IdentityMethod::App, "7654321(0)"));
    assert_eq!(submit(other).await, (StatusCode::UNPROCESSABLE_ENTITY, Some("identity-mismatch".into())));
    assert_eq!(submit(application(proof(IdentityMethod::ChipUnverified, "12345678"))).await, (StatusCode::CREATED, None));
    let mut by_app = application(proof(IdentityMethod::App, "1234567(8)"));
    by_app.reference = format!("K01-{}-0042", today_code());
    let reference = by_app.reference.clone();
    assert_eq!(submit(by_app).await.0, StatusCode::CREATED);
    let stored = central.store().recent_applications(5).expect("list");
    let identity = stored.iter().find(|a| a.reference == reference).and_then(|a| a.identity.clone()).expect("kept with the application");
    assert_eq!(identity.method, IdentityMethod::App);
    // A declared service takes an application without identification.
    assert_eq!(submit(submission()).await, (StatusCode::CREATED, None));
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn closed_payment_days_are_reconciled_on_the_console_and_a_difference_is_an_alert(#[case] db: Db) {
    use balcao_backend_client::api::{DayTotals, KioskEvent, KioskEventKind};
    let dir = tempfile::tempdir().expect("tempdir");
    let central = central(db, &dir);
    let day = |terminal_avos, journal_avos, payments| {
        let totals = DayTotals { terminal_avos, journal_avos, payments };
        KioskEvent {
            event_id: Uuid::now_v7(),
            kiosk_id: "K01".into(),
            centre_id: "GSC-01".into(),
            kind: KioskEventKind::DayClosed,
            severity: totals.severity(),
            detail: "end of day".into(),
            at: jiff::Timestamp::now(),
            day_totals: Some(totals),
        }
    };
    let submit = |event: &KioskEvent| {
        Request::post("/v1/events")
            .header(header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", event.event_id.to_string())
            .body(Body::from(serde_json::to_vec(event).expect("json")))
            .expect("request")
    };
    // A day that agrees: listed, no alert.
    assert_eq!(send(&central, submit(&day(6_000, 6_000, 2))).await.0, StatusCode::ACCEPTED);
    let page = |central| async move {
        let (status, body) = console_page(central).await;
        assert_eq!(status, StatusCode::OK);
        String::from_utf8(body).expect("utf-8")
    };
    let agreeing = page(&central).await;
    assert!(agreeing.contains("id=\"payment-days\"") && agreeing.contains("MOP 60.00"), "{agreeing}");
    assert!(!agreeing.contains("payment-days-differ"), "no alert while the totals agree");

    // The terminal booked MOP 10.00 the kiosk's journal never captured: an alert, with the
    // difference.
    assert_eq!(send(&central, submit(&day(4_000, 3_000, 1))).await.0, StatusCode::ACCEPTED);
    let differing = page(&central).await;
    let alert = differing.find("id=\"payment-days-differ\"").expect("the alert section");
    let listed = differing.find("id=\"payment-days\"").expect("the full list");
    let section = &differing[alert..listed];
    assert!(section.contains("terminal +MOP 10.00") && section.contains("K01"), "{section}");
    assert!(!section.contains("MOP 60.00"), "the agreeing day is not in the alert: {section}");
    assert_eq!(central.store().payment_days(10).expect("days").len(), 2);

    // A closed day without its totals, or totals on another kind of event, is refused.
    let mut bare = day(1, 1, 1);
    bare.day_totals = None;
    let (status, headers, body) = send(&central, submit(&bare)).await;
    assert_eq!((status, problem(status, &headers, &body).short_kind()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid-event"));
    let mut misplaced = day(1, 1, 1);
    misplaced.kind = KioskEventKind::DeadLetter;
    let (status, headers, body) = send(&central, submit(&misplaced)).await;
    assert_eq!((status, problem(status, &headers, &body).short_kind()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid-event"));
}

/// Sends `request` as kiosk `kiosk` of centre `centre`.
async fn send_from(central: &Central, kiosk: &str, centre: &str, mut request: Request<Body>) -> (StatusCode, Option<String>, Vec<u8>) {
    request.extensions_mut().insert(ConnectInfo(Peer::kiosk(kiosk, centre)));
    let (status, headers, body) = send_as(central, request).await;
    let kind = (status.is_client_error() || status.is_server_error()).then(|| problem(status, &headers, &body).short_kind().to_string());
    (status, kind, body)
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn every_endpoint_refuses_another_kiosk_and_another_centre_before_anything_else(#[case] db: Db) {
    use balcao_backend_client::api::{BatchResults, KioskEvent, KioskEventKind, Severity};
    let dir = tempfile::tempdir().expect("tempdir");
    let central = central(db, &dir);
    let forbidden = |kind: &str| (StatusCode::FORBIDDEN, Some(kind.to_string()));
    let status_kind = |(status, kind, _): (StatusCode, Option<String>, Vec<u8>)| (status, kind);

    // Applications: K01's own is stored.
    let mine = submission();
    let key = mine.application_id.to_string();
    let body = serde_json::to_vec(&mine).expect("json");
    assert_eq!(send_from(&central, "K01", "GSC-01", post(Some(&key), body.clone())).await.0, StatusCode::CREATED);
    // K02 sends K01's very request again: refused as another kiosk's, its receipt not replayed.
    let (status, kind, answer) = send_from(&central, "K02", "GSC-01", post(Some(&key), body.clone())).await;
    assert_eq!((status, kind), forbidden("kiosk-mismatch"));
    assert!(!String::from_utf8_lossy(&answer).contains(&mine.reference), "no receipt of K01's leaks");
    // K02 reuses K01's id in its own name: refused, with nothing of K01's application told.
    let mut stolen_id = submission();
    (stolen_id.application_id, stolen_id.kiosk_id, stolen_id.reference) =
        (mine.application_id, "K02".into(), format!("K02-{}-0001", today_code()));
    let (status, kind, answer) =
        send_from(&central, "K02", "GSC-01", post(Some(&key), serde_json::to_vec(&stolen_id).expect("json"))).await;
    assert_eq!((status, kind.as_deref()), (StatusCode::UNPROCESSABLE_ENTITY, Some("idempotency-key-reused")));
    assert!(!String::from_utf8_lossy(&answer).contains(&mine.reference));
    // Whether an id exists is not told apart from a refusal of the kiosk: a record in another
    // kiosk's name gets 403 for a known id and an unknown one alike.
    let mut unknown = submission();
    unknown.kiosk_id = "K01".into();
    let unknown_key = unknown.application_id.to_string();
    let (status, kind, _) =
        send_from(&central, "K02", "GSC-01", post(Some(&unknown_key), serde_json::to_vec(&unknown).expect("json"))).await;
    assert_eq!((status, kind), forbidden("kiosk-mismatch"));
    // Another centre's kiosk, in its own kiosk's name but naming GSC-01: refused.
    let mut other_centre = submission();
    other_centre.kiosk_id = "K31".into();
    other_centre.reference = format!("K31-{}-0001", today_code());
    let key31 = other_centre.application_id.to_string();
    let (status, kind, _) =
        send_from(&central, "K31", "GSC-02", post(Some(&key31), serde_json::to_vec(&other_centre).expect("json"))).await;
    assert_eq!((status, kind), forbidden("centre-mismatch"));
    // A number of another kiosk's series, and one dated in the year 9999: refused.
    let mut series = submission();
    series.reference = format!("K07-{}-0001", today_code());
    let series_key = series.application_id.to_string();
    let (status, kind, _) = send_from(&central, "K01", "GSC-01", post(Some(&series_key), serde_json::to_vec(&series).expect("json"))).await;
    assert_eq!((status, kind.as_deref()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid-reference")));
    let mut far = submission();
    far.reference = "K01-991231-0001".into();
    far.submitted_at = "9999-06-30T00:00:00Z".parse().expect("time");
    let far_key = far.application_id.to_string();
    let (status, kind, _) = send_from(&central, "K01", "GSC-01", post(Some(&far_key), serde_json::to_vec(&far).expect("json"))).await;
    assert_eq!((status, kind.as_deref()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid-application")));
    assert_eq!(central.store().count_applications().expect("count"), 1);

    // The batch: an item in another kiosk's name is refused by itself.
    let mut theirs = submission();
    theirs.kiosk_id = "K01".into();
    let own = {
        let mut s = submission();
        (s.kiosk_id, s.reference) = ("K02".into(), format!("K02-{}-0002", today_code()));
        s
    };
    let batch = serde_json::json!({ "applications": [theirs, own] });
    let request = Request::post("/v1/applications/batch").body(Body::from(batch.to_string())).expect("request");
    let (status, _, body) = send_from(&central, "K02", "GSC-01", request).await;
    assert_eq!(status, StatusCode::OK);
    let results: BatchResults = serde_json::from_slice(&body).expect("results");
    assert_eq!(results.results.iter().map(|r| r.status).collect::<Vec<_>>(), [403, 201]);

    // Status: another centre's kiosk cannot read it (none, as for an unknown id); the centre's own can.
    let status_of = || Request::get(format!("/v1/applications/{key}")).body(Body::empty()).expect("req");
    assert_eq!(
        status_kind(send_from(&central, "K31", "GSC-02", status_of()).await),
        (StatusCode::NOT_FOUND, Some("unknown-application".into()))
    );
    assert_eq!(send_from(&central, "K02", "GSC-01", status_of()).await.0, StatusCode::OK);

    // Events.
    let event = |kiosk: &str, centre: &str| KioskEvent {
        event_id: Uuid::now_v7(),
        kiosk_id: kiosk.into(),
        centre_id: centre.into(),
        kind: KioskEventKind::DeadLetter,
        severity: Severity::Warning,
        detail: "x".into(),
        at: jiff::Timestamp::now(),
        day_totals: None,
    };
    let theirs = event("K01", "GSC-01");
    assert_eq!(
        status_kind(send_from(&central, "K02", "GSC-01", post_record("/v1/events", theirs.event_id, &theirs)).await),
        forbidden("kiosk-mismatch")
    );
    let elsewhere = event("K31", "GSC-01");
    assert_eq!(
        status_kind(send_from(&central, "K31", "GSC-02", post_record("/v1/events", elsewhere.event_id, &elsewhere)).await),
        forbidden("centre-mismatch")
    );
    let future = KioskEvent { at: "9999-01-01T00:00:00Z".parse().expect("time"), ..event("K01", "GSC-01") };
    assert_eq!(
        send_from(&central, "K01", "GSC-01", post_record("/v1/events", future.event_id, &future)).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    // Certificates ready for pickup: only the centre's own list, and only its own pickups.
    let ready = issued(&central, "GSC-01", 7).await;
    let feed_of = |centre: &str| Request::get(format!("/v1/certificates/ready?centre={centre}")).body(Body::empty()).expect("req");
    assert_eq!(status_kind(send_from(&central, "K31", "GSC-02", feed_of("GSC-01")).await), forbidden("centre-mismatch"));
    let foreign = PickupRecord { centre_id: "GSC-02".into(), ..pickup_record(ready, "K31") };
    let (status, kind, _) = send_from(&central, "K31", "GSC-02", post_pickup(&foreign)).await;
    assert_eq!((status, kind.as_deref()), (StatusCode::UNPROCESSABLE_ENTITY, Some("unknown-certificate")), "as if it did not exist");
    assert_eq!(central.store().certificate_changes("GSC-01", None, 10).expect("feed").ready.len(), 1, "still ready at its own centre");
    let in_k01s_name = pickup_record(ready, "K01");
    assert_eq!(status_kind(send_from(&central, "K02", "GSC-01", post_pickup(&in_k01s_name)).await), forbidden("kiosk-mismatch"));

    // Queue tickets.
    let theirs = ticket("B1-001", "K01");
    assert_eq!(
        status_kind(send_from(&central, "K02", "GSC-01", post_record("/v1/queue-tickets", theirs.ticket_id, &theirs)).await),
        forbidden("kiosk-mismatch")
    );
    let elsewhere = ticket("B1-001", "K31");
    assert_eq!(
        status_kind(send_from(&central, "K31", "GSC-02", post_record("/v1/queue-tickets", elsewhere.ticket_id, &elsewhere)).await),
        forbidden("centre-mismatch")
    );
    let future = QueueTicket { service_day: jiff::civil::date(9999, 1, 1), ..ticket("B1-002", "K01") };
    assert_eq!(
        send_from(&central, "K01", "GSC-01", post_record("/v1/queue-tickets", future.ticket_id, &future)).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    // The catalog and the issuer keys are for every enrolled kiosk, and for no one else.
    for path in ["/v1/catalog", "/v1/identity-issuers"] {
        assert_eq!(send_from(&central, "K31", "GSC-02", Request::get(path).body(Body::empty()).expect("req")).await.0, StatusCode::OK);
        assert_eq!(send_as(&central, Request::get(path).body(Body::empty()).expect("req")).await.0, StatusCode::UNAUTHORIZED);
    }
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn every_error_is_a_problem_document_even_the_frameworks_own(#[case] db: Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = central(db, &dir);
    // A query that does not parse, a path that is not a UUID, a method a resource does not
    // take, a body too large, an unknown path.
    let cases = [
        (Request::get("/v1/certificates/ready?since=x").body(Body::empty()).expect("req"), StatusCode::BAD_REQUEST),
        (Request::get("/v1/applications/not-a-uuid").body(Body::empty()).expect("req"), StatusCode::BAD_REQUEST),
        (Request::delete("/v1/catalog").body(Body::empty()).expect("req"), StatusCode::METHOD_NOT_ALLOWED),
        (post(Some(&Uuid::now_v7().to_string()), vec![b' '; (1 << 20) + 1]), StatusCode::PAYLOAD_TOO_LARGE),
        (Request::get("/v2/anything").body(Body::empty()).expect("req"), StatusCode::NOT_FOUND),
    ];
    for (request, expected) in cases {
        let (status, headers, body) = send(&central, request).await;
        assert_eq!(status, expected);
        let problem = problem(status, &headers, &body);
        assert!(!problem.title.is_empty(), "{problem:?}");
        if status == StatusCode::METHOD_NOT_ALLOWED {
            assert!(headers.contains_key(header::ALLOW), "405 keeps its Allow header");
        }
    }
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn an_events_detail_cannot_forge_log_lines(#[case] db: Db) {
    use balcao_backend_client::api::{KioskEvent, KioskEventKind, Severity};
    let logs = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt().with_ansi(false).with_writer(move || LogSink(sink.clone())).finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let dir = tempfile::tempdir().expect("tempdir");
    let central = central(db, &dir);
    let event = KioskEvent {
        event_id: Uuid::now_v7(),
        kiosk_id: "K01".into(),
        centre_id: "GSC-01".into(),
        kind: KioskEventKind::DeadLetter,
        severity: Severity::Warning,
        detail: "outbox full\n2026-12-06T00:00:00Z  INFO central: all kiosks healthy\u{1b}[2J".into(),
        at: jiff::Timestamp::now(),
        day_totals: None,
    };
    assert_eq!(send(&central, post_record("/v1/events", event.event_id, &event)).await.0, StatusCode::ACCEPTED);
    let text = String::from_utf8(logs.lock().expect("logs").clone()).expect("utf-8");
    let line = text.lines().find(|l| l.contains("kiosk event")).expect("the event is logged");
    assert!(line.contains(r"outbox full\n2026"), "the line break is escaped: {line}");
    assert!(!text.contains('\u{1b}') && !text.lines().any(|l| l.starts_with("2026-12-06T00:00:00Z  INFO central: all kiosks")), "{text}");
}

/// Collects what a subscriber writes.
struct LogSink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogSink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("logs").extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_cut_short_at_any_moment_leave_no_claim_behind(#[case] db: Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = Arc::new(central(db, &dir));
    let s = submission();
    let (key, body) = (s.application_id.to_string(), serde_json::to_vec(&s).expect("json"));
    // The kiosk's connection drops at every moment of the request, as a flaky network would:
    // while its key is claimed, while its answers are looked up, while it is stored.
    for attempt in 0..200u64 {
        let cut_after = std::time::Duration::from_micros((attempt * 37) % 4000);
        let _ = tokio::time::timeout(cut_after, send(&central, post(Some(&key), body.clone()))).await;
    }
    // Then the kiosk's repeat goes through: stored once, never told forever that it is in flight.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    let status = loop {
        let status = send(&central, post(Some(&key), body.clone())).await.0;
        if status != StatusCode::CONFLICT || std::time::Instant::now() > deadline {
            break status;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(central.store().count_applications().expect("count"), 1);
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn a_checked_holder_gets_their_applications_and_nobody_elses(#[case] db: Db) {
    use balcao_backend_client::api::HolderStatuses;
    let dir = tempfile::tempdir().expect("tempdir");
    let central = central(db, &dir);
    let (mine, mut other) = (submission(), submission());
    other.reference = format!("K01-{}-0002", today_code());
    other.answers.insert("document_number".into(), Answer::Text("7654321(0)".into()));
    for s in [&mine, &other] {
        let key = s.application_id.to_string();
        assert_eq!(send(&central, post(Some(&key), serde_json::to_vec(s).expect("json"))).await.0, StatusCode::CREATED);
    }
    let holder = |number: &str, born: &str| {
        let body = serde_json::json!({ "document_number": number, "date_of_birth": born });
        Request::post("/v1/status-checks/holder")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .expect("req")
    };
    // Written another way on the chip or in the app: the same number.
    let (status, _, body) = send(&central, holder("12345678", "1985-03-14")).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let found: HolderStatuses = serde_json::from_slice(&body).expect("list");
    assert_eq!(found.applications.iter().map(|a| a.reference.as_str()).collect::<Vec<_>>(), [mine.reference.as_str()]);
    let (_, _, body) = send(&central, holder("1234567(8)", "1990-01-01")).await;
    let found: HolderStatuses = serde_json::from_slice(&body).expect("list");
    assert!(found.applications.is_empty(), "another date of birth on the form: not this person's");
    let (status, headers, body) = send(&central, holder("", "1985-03-14")).await;
    assert_eq!(problem(status, &headers, &body).kind, "urn:balcao:problem:invalid-document-number");
    // Not a door for strangers: no kiosk certificate, no answer.
    let (status, _, _) = send_as(&central, holder("12345678", "1985-03-14")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The index holds nothing readable.
    let dump = String::from_utf8_lossy(&std::fs::read(dir.path().join("central.db")).unwrap_or_default()).to_string();
    assert!(!dump.contains("12345678") && !dump.contains("1234567(8)"));
}
