//! Central's own metrics, on both databases: served only to a scraper with the token, in the
//! OpenMetrics text format, counting requests per route and heartbeats, and the fleet's kiosks
//! per state as of the scrape.

mod common;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use balcao_backend_client::api::{DeviceClass, DeviceCondition, DeviceReport, Heartbeat, OutboxReport};
use balcao_central::Central;
use balcao_central::tls::Peer;
use common::Db;
use rstest::rstest;
use tower::ServiceExt;

const TOKEN: &str = "a-scraper-token-of-some-length";

async fn send(central: &Central, mut request: Request<Body>) -> (StatusCode, String) {
    request.extensions_mut().insert(ConnectInfo(Peer::kiosk("K01", "GSC-01")));
    let response = central.router().oneshot(request).await.expect("infallible");
    let status = response.status();
    (status, String::from_utf8(axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body").to_vec()).expect("utf-8"))
}

/// K01 with its receipt printer out of paper and `pending` records waiting.
fn heartbeat(pending: u32) -> Heartbeat {
    let mut heartbeat = common::heartbeat("K01", "GSC-01");
    heartbeat.devices =
        vec![DeviceReport { device: DeviceClass::ReceiptPrinter, condition: DeviceCondition::PaperOut, detail: String::new() }];
    heartbeat.outbox = OutboxReport { pending, oldest_age_seconds: (pending > 0).then_some(30), dead_letters: 0 };
    heartbeat
}

fn scrape(token: Option<&str>) -> Request<Body> {
    let mut request = Request::get("/metrics");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    request.body(Body::empty()).expect("request")
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn a_scraper_with_the_token_reads_requests_heartbeats_and_the_fleet(#[case] db: Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut options = common::options(db, dir.path());
    options.metrics_token = Some(TOKEN.into());
    let central = Central::open(&options).expect("central");

    assert_eq!(send(&central, scrape(None)).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(send(&central, scrape(Some("a-scraper-token-of-some-lengtX"))).await.0, StatusCode::UNAUTHORIZED);

    for _ in 0..2 {
        let body = serde_json::to_vec(&heartbeat(7)).expect("json");
        let request = Request::post("/v1/heartbeats").header(header::CONTENT_TYPE, "application/json").body(Body::from(body)).expect("req");
        assert_eq!(send(&central, request).await.0, StatusCode::OK);
    }
    assert_eq!(send(&central, Request::get("/v1/catalog").body(Body::empty()).expect("req")).await.0, StatusCode::OK);

    let (status, text) = send(&central, scrape(Some(TOKEN))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.ends_with("# EOF\n"), "OpenMetrics text: {text}");
    assert!(text.contains("balcao_central_heartbeats_total 2"), "{text}");
    assert!(text.contains(r#"balcao_central_http_requests_total{route="/v1/heartbeats",method="POST",status="200"} 2"#), "{text}");
    assert!(text.contains(r#"balcao_central_http_request_duration_seconds_count{route="/v1/catalog"} 1"#), "{text}");
    assert!(
        text.contains(r#"balcao_central_kiosks{state="alarm"} 1"#) && text.contains(r#"balcao_central_kiosks{state="ok"} 0"#),
        "{text}"
    );
    assert!(text.contains("balcao_central_fleet_outbox_pending 7"), "{text}");
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn without_a_token_configured_there_are_no_metrics(#[case] db: Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = Central::open(&common::options(db, dir.path())).expect("central");
    assert_eq!(send(&central, scrape(Some(TOKEN))).await.0, StatusCode::NOT_FOUND);
}
