//! Alerts on both databases: raised by a heartbeat, a kiosk's silence, an event and a
//! citizen's call; cleared when the condition ends; acknowledged by staff; and delivered to a
//! webhook, signed, through failures, once each.

mod common;

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use balcao_backend_client::api::{
    AttendantCall, AttendantCallStatus, DeviceCondition, Heartbeat, KioskEvent, KioskEventKind, Language, Problem, Severity,
};
use balcao_central::Central;
use balcao_central::alerts::{SIGNATURE_HEADER, Webhook};
use balcao_central::store::alerts::{Acknowledged, AlertRule, RuleSetting};
use balcao_central::tls::Peer;
use common::Db;
use jiff::{SignedDuration, Timestamp};
use rstest::rstest;
use tower::ServiceExt;
use uuid::Uuid;

async fn send(central: &Central, kiosk: &str, method: &str, path: &str, body: Vec<u8>) -> (StatusCode, Vec<u8>) {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .expect("request");
    request.extensions_mut().insert(ConnectInfo(Peer::kiosk(kiosk, "GSC-01")));
    let response = central.router().oneshot(request).await.expect("infallible");
    let status = response.status();
    (status, axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body").to_vec())
}

async fn beat(central: &Central, heartbeat: &Heartbeat) {
    let (status, body) = send(central, &heartbeat.kiosk_id, "POST", "/v1/heartbeats", serde_json::to_vec(heartbeat).expect("json")).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
}

fn call(kiosk: &str) -> AttendantCall {
    AttendantCall {
        call_id: Uuid::now_v7(),
        kiosk_id: kiosk.into(),
        centre_id: "GSC-01".into(),
        screen: "payment".into(),
        language: Language::Pt,
        at: Timestamp::now(),
    }
}

fn open_rules(central: &Central) -> Vec<(String, AlertRule, String)> {
    let alerts = central.store().alerts(None, SignedDuration::ZERO).expect("alerts");
    alerts.into_iter().filter(|a| a.cleared_at.is_none()).map(|a| (a.kiosk_id, a.rule, a.subject)).collect()
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn conditions_raise_alerts_once_and_clear_them_when_they_end(#[case] db: Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = Central::open(&common::options(db, dir.path())).expect("central");
    let mut k01 = common::heartbeat("K01", "GSC-01");
    k01.devices[0].condition = DeviceCondition::PaperOut;
    beat(&central, &k01).await;
    beat(&central, &k01).await;
    assert_eq!(open_rules(&central), [("K01".to_string(), AlertRule::PaperOut, "receipt-printer".to_string())], "raised once");

    // Near the end instead of out: one clears, the other is raised.
    k01.devices[0].condition = DeviceCondition::PaperNearEnd;
    k01.outbox.dead_letters = 2;
    beat(&central, &k01).await;
    let open: Vec<AlertRule> = open_rules(&central).into_iter().map(|(_, rule, _)| rule).collect();
    assert_eq!(open, [AlertRule::DeadLetters, AlertRule::PaperNearEnd], "{open:?}");

    // Turned off, a rule raises nothing more; what it raised clears with the next heartbeat.
    central.store().set_alert_rule(RuleSetting { rule: AlertRule::PaperNearEnd, enabled: false, minutes: None }).expect("rule");
    beat(&central, &k01).await;
    let open: Vec<AlertRule> = open_rules(&central).into_iter().map(|(_, rule, _)| rule).collect();
    assert_eq!(open, [AlertRule::DeadLetters]);

    // Staff acknowledge: the condition's alert stays open (it lasts), marked as seen.
    let alert = central.store().alerts(None, SignedDuration::ZERO).expect("alerts")[0].clone();
    assert!(matches!(central.store().acknowledge_alert(alert.alert_id, "ana").expect("ack"), Acknowledged::Done(_)));
    assert!(
        matches!(central.store().acknowledge_alert(alert.alert_id, "rui").expect("ack"), Acknowledged::Already(a) if a.acknowledged_by.as_deref() == Some("ana"))
    );
    assert_eq!(open_rules(&central).len(), 1);
    k01.outbox.dead_letters = 0;
    beat(&central, &k01).await;
    assert!(open_rules(&central).is_empty(), "the dead letters were dealt with");

    // Silence: the sweep raises offline (once), and the next heartbeat clears it.
    central.store().set_offline_after(SignedDuration::from_millis(1));
    std::thread::sleep(std::time::Duration::from_millis(5));
    assert_eq!(central.store().sweep_alerts(Timestamp::now()).expect("sweep"), 1);
    assert_eq!(central.store().sweep_alerts(Timestamp::now()).expect("sweep"), 0, "open already");
    assert_eq!(open_rules(&central), [("K01".to_string(), AlertRule::Offline, String::new())]);
    central.store().set_offline_after(SignedDuration::from_mins(3));
    beat(&central, &k01).await;
    assert!(open_rules(&central).is_empty(), "back online");

    // A staff member limited to another centre sees none of it.
    assert!(central.store().alerts(Some(&["GSC-02".to_string()]), SignedDuration::from_hours(1)).expect("alerts").is_empty());
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn a_payment_day_that_differs_is_an_alert_until_acknowledged(#[case] db: Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = Central::open(&common::options(db, dir.path())).expect("central");
    let event = KioskEvent {
        event_id: Uuid::now_v7(),
        kiosk_id: "K01".into(),
        centre_id: "GSC-01".into(),
        kind: KioskEventKind::DayClosed,
        severity: Severity::Critical,
        detail: "terminal 120.00 MOP, journal 100.00 MOP".into(),
        at: Timestamp::now(),
        day_totals: None,
    };
    for _ in 0..2 {
        assert!(central.store().record_event(&event).expect("recorded"));
    }
    let open = open_rules(&central);
    assert_eq!(open.len(), 1, "one alert for the event, sent twice: {open:?}");
    assert_eq!(open[0].1, AlertRule::PaymentDay);
    let alert = central.store().alerts(None, SignedDuration::ZERO).expect("alerts")[0].clone();
    central.store().acknowledge_alert(alert.alert_id, "ana").expect("ack");
    assert!(open_rules(&central).is_empty(), "a one-off ends when acknowledged");
    assert_eq!(central.store().alerts(None, SignedDuration::from_hours(1)).expect("recent").len(), 1, "and stays in the recent list");
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn a_citizens_call_reaches_staff_and_the_kiosk_learns_it_was_acknowledged(#[case] db: Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = Central::open(&common::options(db, dir.path())).expect("central");
    let call = call("K01");
    let body = serde_json::to_vec(&call).expect("json");
    let (status, answer) = send(&central, "K01", "POST", "/v1/attendant-calls", body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&answer));
    let status_now: AttendantCallStatus = serde_json::from_slice(&answer).expect("status");
    assert_eq!(status_now, AttendantCallStatus { call_id: call.call_id, acknowledged_at: None, ended: false });
    // The same call again is the same call.
    assert_eq!(send(&central, "K01", "POST", "/v1/attendant-calls", body).await.0, StatusCode::OK);
    let alerts = central.store().alerts(None, SignedDuration::ZERO).expect("alerts");
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        (alerts[0].rule, alerts[0].kiosk_id.as_str(), alerts[0].centre_id.as_str(), alerts[0].screen.as_str()),
        (AlertRule::AttendantCalled, "K01", "GSC-01", "payment")
    );

    // Another kiosk can neither read nor end it.
    let path = format!("/v1/attendant-calls/{}", call.call_id);
    assert_eq!(send(&central, "K02", "GET", &path, vec![]).await.0, StatusCode::NOT_FOUND);
    assert_eq!(send(&central, "K02", "POST", &format!("{path}/end"), vec![]).await.0, StatusCode::NOT_FOUND);
    // A call in another kiosk's name is refused.
    let (status, _) = send(&central, "K02", "POST", "/v1/attendant-calls", serde_json::to_vec(&call).expect("json")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    central.store().acknowledge_alert(alerts[0].alert_id, "ana").expect("ack");
    let (status, answer) = send(&central, "K01", "GET", &path, vec![]).await;
    assert_eq!(status, StatusCode::OK);
    let seen: AttendantCallStatus = serde_json::from_slice(&answer).expect("status");
    assert!(seen.acknowledged_at.is_some() && !seen.ended, "{seen:?}");

    assert_eq!(send(&central, "K01", "POST", &format!("{path}/end"), vec![]).await.0, StatusCode::ACCEPTED);
    assert_eq!(send(&central, "K01", "POST", &format!("{path}/end"), vec![]).await.0, StatusCode::ACCEPTED, "a repeat");
    let (_, answer) = send(&central, "K01", "GET", &path, vec![]).await;
    assert!(serde_json::from_slice::<AttendantCallStatus>(&answer).expect("status").ended);
    assert!(open_rules(&central).is_empty());

    // A bad call is a problem naming what is wrong.
    let mut bad = serde_json::to_value(self::call("K01")).expect("json");
    bad["screen"] = "Payment Screen!".into();
    let (status, answer) = send(&central, "K01", "POST", "/v1/attendant-calls", serde_json::to_vec(&bad).expect("json")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let problem: Problem = serde_json::from_slice(&answer).expect("problem");
    assert!(problem.detail.as_deref().unwrap_or_default().contains("screen"), "{problem:?}");
}

/// A receiver that refuses the first `fail` deliveries with 503, then keeps what it gets.
#[derive(Clone, Default)]
struct Receiver {
    fail: Arc<Mutex<usize>>,
    got: Arc<Mutex<Vec<(String, String)>>>,
}

async fn receive(
    axum::extract::State(receiver): axum::extract::State<Receiver>,
    headers: axum::http::HeaderMap,
    body: String,
) -> StatusCode {
    {
        let mut fail = receiver.fail.lock().expect("lock");
        if *fail > 0 {
            *fail -= 1;
            return StatusCode::SERVICE_UNAVAILABLE;
        }
    }
    let signature = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    receiver.got.lock().expect("lock").push((signature, body));
    StatusCode::NO_CONTENT
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn alerts_reach_the_webhook_signed_through_its_failures_once_each(#[case] db: Db) {
    let receiver = Receiver { fail: Arc::new(Mutex::new(2)), ..Receiver::default() };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("address"));
    let app = axum::Router::new().route("/hook", axum::routing::post(receive)).with_state(receiver.clone());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let secret = b"a shared secret of thirty-two bytes or more".to_vec();
    let webhook = Webhook::new(&url, &secret, None).expect("webhook");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut options = common::options(db, dir.path());
    options.alert_webhook = Some(webhook.clone());
    let central = Central::open(&options).expect("central");

    let mut k01 = common::heartbeat("K01", "GSC-01");
    k01.devices[0].condition = DeviceCondition::PaperOut;
    beat(&central, &k01).await;
    k01.devices[0].condition = DeviceCondition::Ok;
    beat(&central, &k01).await;
    assert_eq!(central.store().undelivered().expect("undelivered").0, 2, "raised, cleared");

    // Two refusals, then both arrive; the failed one waits its pause, so run until done.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while central.store().undelivered().expect("undelivered").0 > 0 {
        assert!(std::time::Instant::now() < deadline, "not delivered: {:?}", central.store().undelivered());
        balcao_central::alerts::deliver_due(&central, &webhook).await;
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let got = receiver.got.lock().expect("lock").clone();
    assert_eq!(got.len(), 2, "each change once");
    let changes: Vec<String> = got
        .iter()
        .map(|(_, body)| serde_json::from_str::<serde_json::Value>(body).expect("json")["change"].as_str().unwrap_or_default().to_string())
        .collect();
    let mut sorted = changes.clone();
    sorted.sort();
    assert_eq!(sorted, ["cleared", "raised"], "{changes:?}");
    for (signature, body) in &got {
        assert!(
            balcao_central::alerts::verify(&secret, signature, body, Timestamp::now(), SignedDuration::from_mins(5)),
            "signed: {signature}"
        );
        assert!(!balcao_central::alerts::verify(
            b"another secret, also thirty-two bytes",
            signature,
            body,
            Timestamp::now(),
            SignedDuration::from_mins(5)
        ));
        let value: serde_json::Value = serde_json::from_str(body).expect("json");
        assert_eq!(value["alert"]["rule"], "paper-out");
        assert_eq!(value["alert"]["kiosk_id"], "K01");
    }
    server.abort();
}
