//! The fleet's monitoring through central's API, on both databases: heartbeats kept and
//! judged, commands handed out in heartbeats' answers to their kiosk only, reported on once,
//! and bad heartbeats refused with a problem.

mod common;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use balcao_backend_client::api::{
    CommandAction, CommandOutcome, CommandReport, DeviceClass, DeviceCondition, Heartbeat, HeartbeatAnswer, LocalizedText, Problem,
};
use balcao_central::Central;
use balcao_central::store::fleet::{CommandRefused, Finding, KioskState};
use balcao_central::tls::Peer;
use common::Db;
use jiff::{SignedDuration, Timestamp};
use rstest::rstest;
use tower::ServiceExt;

fn heartbeat(kiosk: &str) -> Heartbeat {
    common::heartbeat(kiosk, "GSC-01")
}

/// Sends `body` to `path` over a connection whose certificate names `kiosk` of GSC-01 (`None`:
/// no certificate).
async fn send(central: &Central, kiosk: Option<&str>, path: &str, body: Vec<u8>) -> (StatusCode, Vec<u8>) {
    let mut request = Request::post(path).header(header::CONTENT_TYPE, "application/json").body(Body::from(body)).expect("request");
    if let Some(kiosk) = kiosk {
        request.extensions_mut().insert(ConnectInfo(Peer::kiosk(kiosk, "GSC-01")));
    }
    let response = central.router().oneshot(request).await.expect("infallible");
    let status = response.status();
    (status, axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body").to_vec())
}

async fn beat(central: &Central, heartbeat: &Heartbeat) -> HeartbeatAnswer {
    let (status, body) = send(central, Some(&heartbeat.kiosk_id), "/v1/heartbeats", serde_json::to_vec(heartbeat).expect("json")).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).expect("answer")
}

async fn report(central: &Central, as_kiosk: &str, command: uuid::Uuid, report: &CommandReport) -> StatusCode {
    send(central, Some(as_kiosk), &format!("/v1/commands/{command}/report"), serde_json::to_vec(report).expect("json")).await.0
}

fn done(kiosk: &str, detail: &str) -> CommandReport {
    CommandReport { kiosk_id: kiosk.into(), outcome: CommandOutcome::Done, detail: detail.into(), at: Timestamp::now() }
}

fn out_of_service() -> CommandAction {
    CommandAction::OutOfService { message: LocalizedText::new("系統維護中", "Em manutenção", "Under maintenance") }
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn a_heartbeat_is_kept_and_the_kiosk_judged_by_it(#[case] db: Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = Central::open(&common::options(db, dir.path())).expect("central");
    assert!(central.store().fleet(None).expect("fleet").is_empty());

    let mut k01 = heartbeat("K01");
    k01.devices[0].condition = DeviceCondition::PaperOut;
    assert!(beat(&central, &k01).await.commands.is_empty());
    beat(&central, &heartbeat("K02")).await;

    let fleet = central.store().fleet(None).expect("fleet");
    let states: Vec<(&str, KioskState)> = fleet.iter().map(|k| (k.kiosk_id.as_str(), k.state)).collect();
    assert_eq!(states, [("K01", KioskState::Alarm), ("K02", KioskState::Ok)], "worst first");
    assert_eq!(fleet[0].findings, [Finding::Device { device: DeviceClass::ReceiptPrinter, condition: DeviceCondition::PaperOut }]);
    assert_eq!(fleet[0].heartbeat, k01, "the heartbeat is kept whole");

    // Paper back in: the next heartbeat clears the alarm.
    beat(&central, &heartbeat("K01")).await;
    assert!(central.store().fleet(None).expect("fleet").iter().all(|k| k.state == KioskState::Ok));
    // A staff member limited to another centre sees none of them.
    assert!(central.store().fleet(Some(&["GSC-02".to_string()])).expect("fleet").is_empty());
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn a_command_reaches_its_kiosk_only_and_is_reported_once(#[case] db: Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = Central::open(&common::options(db, dir.path())).expect("central");
    let hour = SignedDuration::from_hours(1);
    assert!(
        matches!(central.store().issue_command("K01", out_of_service(), "ana", hour), Err(CommandRefused::UnknownKiosk(_))),
        "a kiosk central has never heard from cannot be sent anything"
    );
    beat(&central, &heartbeat("K01")).await;
    beat(&central, &heartbeat("K02")).await;
    let half = CommandAction::OutOfService { message: LocalizedText::new("系統維護中", "", "Under maintenance") };
    assert!(matches!(central.store().issue_command("K01", half, "ana", hour), Err(CommandRefused::Invalid(_))));
    let command = central.store().issue_command("K01", out_of_service(), "ana", hour).expect("issued");

    assert!(beat(&central, &heartbeat("K02")).await.commands.is_empty(), "another kiosk's command is not handed out");
    let delivered = beat(&central, &heartbeat("K01")).await.commands;
    assert_eq!(delivered, std::slice::from_ref(&command));
    assert_eq!(beat(&central, &heartbeat("K01")).await.commands, std::slice::from_ref(&command), "until reported, it comes again");

    assert_eq!(report(&central, "K02", command.command_id, &done("K02", "")).await, StatusCode::NOT_FOUND, "K02 cannot report on it");
    assert_eq!(report(&central, "K02", command.command_id, &done("K01", "")).await, StatusCode::FORBIDDEN, "nor in K01's name");
    assert_eq!(report(&central, "K01", command.command_id, &done("K01", "shown after the journey")).await, StatusCode::ACCEPTED);
    let repeat = CommandReport { outcome: CommandOutcome::Failed, ..done("K01", "a second opinion") };
    assert_eq!(report(&central, "K01", command.command_id, &repeat).await, StatusCode::ACCEPTED, "a repeat is acknowledged");
    assert!(beat(&central, &heartbeat("K01")).await.commands.is_empty(), "reported: not handed out again");

    let history = central.store().commands_of("K01", 10).expect("history");
    assert_eq!(history.len(), 1);
    assert_eq!(
        (history[0].outcome, history[0].detail.as_deref()),
        (Some(CommandOutcome::Done), Some("shown after the journey")),
        "the first report stands"
    );
    assert_eq!(history[0].issued_by, "ana");
    assert!(history[0].delivered_at.is_some() && history[0].reported_at.is_some());
    assert!(central.store().commands_of("K02", 10).expect("history").is_empty());
    let unknown = uuid::Uuid::now_v7();
    assert_eq!(report(&central, "K01", unknown, &done("K01", "")).await, StatusCode::NOT_FOUND);
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn an_expired_command_is_not_handed_out(#[case] db: Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = Central::open(&common::options(db, dir.path())).expect("central");
    beat(&central, &heartbeat("K01")).await;
    central.store().issue_command("K01", CommandAction::RefreshCatalog, "ana", SignedDuration::from_millis(200)).expect("issued");
    let lasting = central.store().issue_command("K01", CommandAction::Screenshot, "ana", SignedDuration::from_hours(1)).expect("issued");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(beat(&central, &heartbeat("K01")).await.commands, [lasting]);
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn a_bad_heartbeat_is_refused_with_a_problem_and_kept_nowhere(#[case] db: Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = Central::open(&common::options(db, dir.path())).expect("central");
    let json = |h: &Heartbeat| serde_json::to_value(h).expect("json");

    let mut unknown_field = json(&heartbeat("K01"));
    unknown_field["camera"] = serde_json::json!("on");
    let mut negative = json(&heartbeat("K01"));
    negative["open_payments"] = serde_json::json!(-1);
    let mut broken_counter = heartbeat("K01");
    broken_counter.uptime_seconds = u64::MAX;
    let mut future = heartbeat("K01");
    future.sent_at = Timestamp::now() + SignedDuration::from_hours(48);
    let cases: Vec<(Option<&str>, serde_json::Value, StatusCode, &str, &str)> = vec![
        (Some("K01"), unknown_field, StatusCode::UNPROCESSABLE_ENTITY, "invalid-heartbeat", "camera"),
        (Some("K01"), negative, StatusCode::UNPROCESSABLE_ENTITY, "invalid-heartbeat", "open_payments"),
        (Some("K01"), json(&broken_counter), StatusCode::UNPROCESSABLE_ENTITY, "invalid-heartbeat", "uptime_seconds"),
        (Some("K01"), json(&future), StatusCode::UNPROCESSABLE_ENTITY, "invalid-heartbeat", "sent_at"),
        (Some("K02"), json(&heartbeat("K01")), StatusCode::FORBIDDEN, "kiosk-mismatch", "K01"),
        (None, json(&heartbeat("K01")), StatusCode::UNAUTHORIZED, "kiosk-certificate-required", ""),
    ];
    for (as_kiosk, body, expected, kind, named) in cases {
        let (status, answer) = send(&central, as_kiosk, "/v1/heartbeats", serde_json::to_vec(&body).expect("json")).await;
        assert_eq!(status, expected, "{body}");
        let problem: Problem = serde_json::from_slice(&answer).expect("a problem document");
        assert_eq!(problem.short_kind(), kind);
        assert!(problem.detail.as_deref().unwrap_or_default().contains(named), "{problem:?} names {named}");
    }
    assert!(central.store().fleet(None).expect("fleet").is_empty(), "nothing kept of a refused heartbeat");
    // The kiosk keeps going: its next, sound heartbeat is taken.
    beat(&central, &heartbeat("K01")).await;
    assert_eq!(central.store().fleet(None).expect("fleet").len(), 1);
}

/// Sends `body` as `content_type` to `path` as `kiosk` of GSC-01.
async fn upload(central: &Central, kiosk: &str, path: &str, content_type: &str, body: Vec<u8>) -> StatusCode {
    let mut request = Request::post(path).header(header::CONTENT_TYPE, content_type).body(Body::from(body)).expect("request");
    request.extensions_mut().insert(ConnectInfo(Peer::kiosk(kiosk, "GSC-01")));
    central.router().oneshot(request).await.expect("infallible").status()
}

/// The smallest PNG there is: one white pixel.
fn png() -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, 1, 1);
    encoder.set_color(png::ColorType::Rgb);
    encoder.write_header().expect("header").write_image_data(&[255, 255, 255]).expect("pixel");
    out
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn a_kiosk_sends_the_file_its_command_asked_for_and_nothing_else(#[case] db: Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = Central::open(&common::options(db, dir.path())).expect("central");
    beat(&central, &heartbeat("K01")).await;
    beat(&central, &heartbeat("K02")).await;
    let store = central.store();
    let shot = store.issue_command("K01", CommandAction::Screenshot, "ana", SignedDuration::from_hours(1)).expect("issued");
    let logs = store.issue_command("K01", CommandAction::UploadLogs { minutes: 5 }, "ana", SignedDuration::from_hours(1)).expect("issued");
    let at = |id: uuid::Uuid| format!("/v1/commands/{id}/upload");

    assert_eq!(upload(&central, "K02", &at(shot.command_id), "image/png", png()).await, StatusCode::NOT_FOUND, "another kiosk's command");
    assert_eq!(upload(&central, "K01", &at(logs.command_id), "image/png", png()).await, StatusCode::NOT_FOUND, "logs asked, not a picture");
    assert_eq!(
        upload(&central, "K01", &at(shot.command_id), "image/png", b"<svg onload=alert(1)>".to_vec()).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "not a PNG"
    );
    assert_eq!(upload(&central, "K01", &at(shot.command_id), "text/html", b"<p>".to_vec()).await, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(upload(&central, "K01", &at(logs.command_id), "text/plain", vec![0xff, 0xfe]).await, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(store.last_screenshot("K01").expect("read").is_none(), "nothing kept so far");

    assert_eq!(upload(&central, "K01", &at(shot.command_id), "image/png", png()).await, StatusCode::ACCEPTED);
    assert_eq!(upload(&central, "K01", &at(shot.command_id), "image/png", png()).await, StatusCode::ACCEPTED, "a repeat");
    assert_eq!(
        upload(&central, "K01", &at(logs.command_id), "text/plain; charset=utf-8", b"a line\n".to_vec()).await,
        StatusCode::ACCEPTED
    );
    let kept = store.last_screenshot("K01").expect("read").expect("kept");
    assert_eq!((kept.command_id, kept.body), (shot.command_id, png()));
    assert_eq!(store.upload(logs.command_id).expect("read").expect("kept").body, b"a line\n");
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn a_technicians_report_is_kept_for_its_own_kiosk_only(#[case] db: Db) {
    use balcao_backend_client::api::{CheckVerdict, Diagnosis, DiagnosisCheck};
    let dir = tempfile::tempdir().expect("tempdir");
    let central = Central::open(&common::options(db, dir.path())).expect("central");
    let report = Diagnosis {
        kiosk_id: "K01".into(),
        centre_id: "GSC-01".into(),
        at: Timestamp::now(),
        ready: false,
        checks: vec![DiagnosisCheck {
            name: "receipt-printer".into(),
            verdict: CheckVerdict::Failed,
            detail: "paper-out".into(),
            remedy: Some("load paper".into()),
        }],
    };
    let json = |report: &Diagnosis| serde_json::to_vec(report).expect("json");
    assert_eq!(send(&central, None, "/v1/diagnoses", json(&report)).await.0, StatusCode::UNAUTHORIZED, "no certificate");
    assert_eq!(send(&central, Some("K02"), "/v1/diagnoses", json(&report)).await.0, StatusCode::FORBIDDEN, "another kiosk's");
    let lying = Diagnosis { ready: true, ..report.clone() };
    let (status, body) = send(&central, Some("K01"), "/v1/diagnoses", json(&lying)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "ready with a failed check");
    let problem: Problem = serde_json::from_slice(&body).expect("a problem document");
    assert!(problem.detail.unwrap_or_default().contains("ready must be true exactly when no check failed"));
    let escaped = Diagnosis { checks: vec![DiagnosisCheck { detail: "a\u{1b}[31m".into(), ..report.checks[0].clone() }], ..report.clone() };
    assert_eq!(
        send(&central, Some("K01"), "/v1/diagnoses", json(&escaped)).await.0,
        StatusCode::UNPROCESSABLE_ENTITY,
        "control characters"
    );
    assert!(central.store().last_diagnosis("K01").expect("read").is_none(), "nothing refused is kept");

    assert_eq!(send(&central, Some("K01"), "/v1/diagnoses", json(&report)).await.0, StatusCode::NO_CONTENT);
    assert_eq!(central.store().last_diagnosis("K01").expect("read"), Some(report));
}
