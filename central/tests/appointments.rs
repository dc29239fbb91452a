//! Counter appointments at the API's boundary, on SQLite and on PostgreSQL: the free places of a
//! service, a place held then booked, the last place taken once when two kiosks (on two central
//! instances, on PostgreSQL) ask at the same moment, and a cancellation by number and date of
//! birth that reveals nothing to a wrong one.

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use balcao_backend_client::api::{Appointment, AppointmentDays, AppointmentHold, Problem, is_appointment_number};
use balcao_central::Central;
use balcao_central::store::appointments::ScheduleRow;
use balcao_central::tls::Peer;
use common::Db;
use jiff::civil::{Date, Time};
use rstest::rstest;
use tower::ServiceExt;
use uuid::Uuid;

mod common;

const SERVICE: &str = "id-card-renewal-appointment";

/// Every day of the week, 10:00–11:00 in half-hour slots with `capacity` places each.
fn every_day(capacity: u32) -> Vec<ScheduleRow> {
    (1..=7)
        .map(|weekday| ScheduleRow {
            weekday,
            opens: Time::constant(10, 0, 0, 0),
            closes: Time::constant(11, 0, 0, 0),
            slot_minutes: 30,
            capacity,
            counter: Some("7".into()),
        })
        .collect()
}

fn tomorrow() -> Date {
    jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::system()).date().tomorrow().expect("a tomorrow")
}

async fn send_as(central: &Central, kiosk: &str, mut request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    request.extensions_mut().insert(ConnectInfo(Peer::kiosk(kiosk, "GSC-01")));
    let response = central.router().oneshot(request).await.expect("infallible");
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body").to_vec())
}

fn json(method: &str, uri: &str, key: Option<Uuid>, body: serde_json::Value) -> Request<Body> {
    let mut request = Request::builder().method(method).uri(uri).header(header::CONTENT_TYPE, "application/json");
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key.to_string());
    }
    request.body(Body::from(body.to_string())).expect("request")
}

fn hold(id: Uuid, date: Date, time: &str) -> Request<Body> {
    json(
        "POST",
        "/v1/appointments/holds",
        Some(id),
        serde_json::json!({ "hold_id": id, "service_id": SERVICE, "date": date, "time": time }),
    )
}

fn confirm(id: Uuid, born: &str) -> Request<Body> {
    json("POST", &format!("/v1/appointments/holds/{id}/confirmation"), None, serde_json::json!({ "date_of_birth": born, "language": "pt" }))
}

fn cancel(number: &str, born: &str) -> Request<Body> {
    json("POST", "/v1/appointments/cancellations", None, serde_json::json!({ "number": number, "date_of_birth": born }))
}

fn kind(body: &[u8]) -> String {
    serde_json::from_slice::<Problem>(body).map(|p| p.kind).unwrap_or_else(|_| String::from_utf8_lossy(body).into_owned())
}

async fn places(central: &Central, date: Date, time: &str) -> u32 {
    let request = Request::get(format!("/v1/appointments/slots?service_id={SERVICE}&days=3")).body(Body::empty()).expect("request");
    let (status, _, body) = send_as(central, "K01", request).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let days: AppointmentDays = serde_json::from_slice(&body).expect("days");
    let day = days.days.iter().find(|d| d.date == date).expect("tomorrow is bookable");
    day.slots.iter().find(|s| s.time == time).expect("the slot").free
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn a_place_is_held_booked_and_cancelled_by_its_number_and_date_of_birth(#[case] db: Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = Central::open(&common::options(db, dir.path())).expect("central");
    central.store().set_appointment_schedule("*", SERVICE, &every_day(2)).expect("schedule");
    let day = tomorrow();
    assert_eq!(places(&central, day, "10:30").await, 2);

    // Held: one place fewer for everyone; the same hold again holds nothing twice.
    let id = Uuid::now_v7();
    let (status, _, body) = send_as(&central, "K01", hold(id, day, "10:30")).await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
    let held: AppointmentHold = serde_json::from_slice(&body).expect("hold");
    assert!(held.held_until > jiff::Timestamp::now());
    assert_eq!(send_as(&central, "K01", hold(id, day, "10:30")).await.0, StatusCode::CREATED);
    assert_eq!(places(&central, day, "10:30").await, 1);
    // The same key for another slot, a slot the centre does not have, another kiosk's hold.
    assert_eq!(kind(&send_as(&central, "K01", hold(id, day, "10:00")).await.2), "urn:balcao:problem:idempotency-key-reused");
    assert_eq!(kind(&send_as(&central, "K01", hold(Uuid::now_v7(), day, "10:15")).await.2), "urn:balcao:problem:no-such-slot");
    assert_eq!(send_as(&central, "K02", confirm(id, "1985-03-14")).await.0, StatusCode::NOT_FOUND, "only the holding kiosk confirms");

    // Booked: a number to print; a repeat answers the same; another date of birth is refused.
    let (status, _, body) = send_as(&central, "K01", confirm(id, "1985-03-14")).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let booked: Appointment = serde_json::from_slice(&body).expect("appointment");
    assert!(is_appointment_number(&booked.number), "{}", booked.number);
    assert_eq!(
        (booked.date, booked.time.as_str(), booked.counter.as_deref(), booked.centre_id.as_str()),
        (day, "10:30", Some("7"), "GSC-01")
    );
    let (_, _, again) = send_as(&central, "K01", confirm(id, "1985-03-14")).await;
    assert_eq!(serde_json::from_slice::<Appointment>(&again).expect("same"), booked);
    assert_eq!(send_as(&central, "K01", confirm(id, "1990-01-01")).await.0, StatusCode::CONFLICT);
    // Releasing a booked place does nothing.
    let release = Request::delete(format!("/v1/appointments/holds/{id}")).body(Body::empty()).expect("request");
    assert_eq!(send_as(&central, "K01", release).await.0, StatusCode::NO_CONTENT);
    assert_eq!(places(&central, day, "10:30").await, 1);
    // Nothing personal in the database: the date of birth is only in a keyed hash.
    assert_eq!(central.store().appointment_state(&booked.number).expect("state").as_deref(), Some("booked"));

    // Cancelling: a wrong date and an unknown number get the same answer; then the right one.
    let (status, _, wrong) = send_as(&central, "K02", cancel(&booked.number, "1985-03-15")).await;
    let (_, _, unknown) = send_as(&central, "K02", cancel("AP-0000-0000", "1985-03-14")).await;
    assert_eq!((status, kind(&wrong)), (StatusCode::NOT_FOUND, kind(&unknown)));
    assert_eq!(kind(&send_as(&central, "K02", cancel("1234", "1985-03-14")).await.2), "urn:balcao:problem:invalid-number");
    let (status, _, body) = send_as(&central, "K02", cancel(&booked.number.to_lowercase(), "1985-03-14")).await;
    assert_eq!(status, StatusCode::OK, "any kiosk of the centre cancels, in any case: {}", String::from_utf8_lossy(&body));
    assert_eq!(serde_json::from_slice::<Appointment>(&body).expect("cancelled").number, booked.number);
    assert_eq!(places(&central, day, "10:30").await, 2, "the place is free again");
    assert_eq!(send_as(&central, "K02", cancel(&booked.number, "1985-03-14")).await.0, StatusCode::OK, "a repeat");

    // Five wrong tries close the number for a while, even to the right date.
    for _ in 0..5 {
        assert_eq!(send_as(&central, "K01", cancel(&booked.number, "2000-01-01")).await.0, StatusCode::NOT_FOUND);
    }
    let (status, headers, _) = send_as(&central, "K01", cancel(&booked.number, "1985-03-14")).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(headers.contains_key(header::RETRY_AFTER));
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_kiosks_asking_for_the_last_place_at_once_get_one_booking(#[case] db: Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = common::options(db, dir.path());
    let first = Central::open(&options).expect("central");
    // On PostgreSQL the two kiosks reach two central instances on one database.
    let second = if db == Db::Postgres { Central::open(&options).expect("a second instance") } else { first.clone() };
    first.store().set_appointment_schedule("*", SERVICE, &every_day(1)).expect("schedule");
    let day = tomorrow();
    for round in 0..10 {
        let time = if round % 2 == 0 { "10:00" } else { "10:30" };
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let ((sa, _, _), (sb, _, body_b)) =
            tokio::join!(send_as(&first, "K01", hold(a, day, time)), send_as(&second, "K02", hold(b, day, time)));
        let mut statuses = [sa, sb];
        statuses.sort();
        assert_eq!(statuses, [StatusCode::CREATED, StatusCode::CONFLICT], "round {round}: {}", String::from_utf8_lossy(&body_b));
        let (winner, central, kiosk) = if sa == StatusCode::CREATED { (a, &first, "K01") } else { (b, &second, "K02") };
        assert_eq!(places(&first, day, time).await, 0);
        // The winner lets it go: the place is free for the next round.
        let release = Request::delete(format!("/v1/appointments/holds/{winner}")).body(Body::empty()).expect("request");
        assert_eq!(send_as(central, kiosk, release).await.0, StatusCode::NO_CONTENT);
        assert_eq!(places(&first, day, time).await, 1);
    }
    // A held place that is then booked stays taken: a third kiosk is told so.
    let id = Uuid::now_v7();
    assert_eq!(send_as(&first, "K01", hold(id, day, "10:00")).await.0, StatusCode::CREATED);
    assert_eq!(send_as(&first, "K01", confirm(id, "1985-03-14")).await.0, StatusCode::OK);
    let (status, _, body) = send_as(&second, "K03", hold(Uuid::now_v7(), day, "10:00")).await;
    assert_eq!((status, kind(&body).as_str()), (StatusCode::CONFLICT, "urn:balcao:problem:slot-full"));
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn slots_are_asked_for_a_bookable_service_and_a_sensible_span(#[case] db: Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = Central::open(&common::options(db, dir.path())).expect("central");
    let get = |uri: &str| Request::get(uri).body(Body::empty()).expect("request");
    // The seed schedule books the seed service on weekdays only.
    let (status, _, body) = send_as(&central, "K01", get(&format!("/v1/appointments/slots?service_id={SERVICE}&days=14"))).await;
    assert_eq!(status, StatusCode::OK);
    let days: AppointmentDays = serde_json::from_slice(&body).expect("days");
    assert!(days.days.len() >= 9, "two weeks hold at least nine weekdays with slots left: {}", days.days.len());
    assert!(days.days.iter().all(|d| d.date.weekday().to_monday_one_offset() <= 5 && d.has_free()));
    let (status, _, body) = send_as(&central, "K01", get("/v1/appointments/slots?service_id=criminal-record-certificate")).await;
    assert_eq!((status, kind(&body).as_str()), (StatusCode::NOT_FOUND, "urn:balcao:problem:no-such-service"));
    let (status, _, _) = send_as(&central, "K01", get(&format!("/v1/appointments/slots?service_id={SERVICE}&days=90"))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // A hold with a key that is not its id, or a body that is not a hold.
    let id = Uuid::now_v7();
    let mismatched = json(
        "POST",
        "/v1/appointments/holds",
        Some(Uuid::now_v7()),
        serde_json::json!({ "hold_id": id, "service_id": SERVICE, "date": tomorrow(), "time": "10:00" }),
    );
    assert_eq!(kind(&send_as(&central, "K01", mismatched).await.2), "urn:balcao:problem:idempotency-key-mismatch");
    let (status, _, body) =
        send_as(&central, "K01", json("POST", "/v1/appointments/holds", Some(id), serde_json::json!({ "hold_id": 7 }))).await;
    assert_eq!((status, kind(&body).as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "urn:balcao:problem:invalid-hold"));
}
