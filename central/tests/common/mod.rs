//! What central's API tests share: an application as kiosk K01 of centre GSC-01 files it,
//! numbered today.

// Each test file uses part of it.
#![allow(dead_code)]

use std::path::Path;
use std::sync::OnceLock;

use balcao_backend_client::api::{ApplicationSubmission, QueueTicket, TicketOutcome};
use balcao_central::testing::{Durability, PgServer};
use balcao_central::{CentralOptions, DatabaseLocation, KeyFiles};
use uuid::Uuid;

/// The database a test runs on: every test of central's runs on both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// One PostgreSQL server for the whole test binary (it stops when the binary ends), a new
/// database in it for each test.
static SERVER: OnceLock<PgServer> = OnceLock::new();

/// The server the PostgreSQL tests share.
pub fn postgres_server() -> &'static PgServer {
    SERVER.get_or_init(|| PgServer::start(Durability::None).expect("a PostgreSQL server (tools/setup installs postgresql)"))
}

/// Central's options on `db`: a SQLite file in `dir`, or a new PostgreSQL database; the keys in
/// `dir` either way.
pub fn options(db: Db, dir: &Path) -> CentralOptions {
    match db {
        Db::Sqlite => CentralOptions::new(dir.join("central.db")),
        Db::Postgres => {
            let url = postgres_server().create_database(&format!("t_{}", Uuid::now_v7().simple())).expect("a test database");
            CentralOptions::on(DatabaseLocation::Postgres(url), KeyFiles::in_folder(&dir.join("central-keys")))
        }
    }
}

/// Today's date in UTC, as central checks records' days against.
pub fn today() -> jiff::civil::Date {
    jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date()
}

/// Today as application numbers carry it (`YYMMDD`).
pub fn today_code() -> String {
    jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).strftime("%y%m%d").to_string()
}

pub fn submission() -> ApplicationSubmission {
    balcao_central::testing::criminal_record_submission()
}

/// A printed queue ticket of centre GSC-01's civil registry queue, issued today by `kiosk`.
pub fn ticket(number: &str, kiosk: &str) -> QueueTicket {
    QueueTicket {
        ticket_id: Uuid::now_v7(),
        queue_id: "civil-registry".into(),
        number: number.into(),
        kiosk_id: kiosk.into(),
        centre_id: "GSC-01".into(),
        service_day: today(),
        issued_at: jiff::Timestamp::now(),
        outcome: TicketOutcome::Printed,
        offline: true,
    }
}

/// A sound heartbeat of `kiosk` at `centre`: a receipt printer and a payment terminal, both
/// well, nothing waiting. Tests change what they look at.
pub fn heartbeat(kiosk: &str, centre: &str) -> balcao_backend_client::api::Heartbeat {
    use balcao_backend_client::api::{DeviceClass, DeviceCondition, DeviceReport, Heartbeat, OutboxReport};
    let device = |device| DeviceReport { device, condition: DeviceCondition::Ok, detail: String::new() };
    Heartbeat {
        kiosk_id: kiosk.into(),
        centre_id: centre.into(),
        sent_at: jiff::Timestamp::now(),
        software_version: "0.1.0".into(),
        uptime_seconds: 120,
        devices: vec![device(DeviceClass::ReceiptPrinter), device(DeviceClass::PaymentTerminal)],
        outbox: OutboxReport { pending: 0, oldest_age_seconds: None, dead_letters: 0 },
        last_sync_at: Some(jiff::Timestamp::now()),
        database_bytes: 4 << 20,
        disk_free_bytes: 20 << 30,
        open_payments: 0,
        screen: "attract".into(),
        sessions_today: 3,
        out_of_service: false,
    }
}
