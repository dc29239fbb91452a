//! What central's API tests share: an application as kiosk K01 of centre GSC-01 files it,
//! numbered today.

// Each test file uses part of it.
#![allow(dead_code)]

use balcao_backend_client::api::{Answer, ApplicationSubmission, Language, PaymentRecord};
use uuid::Uuid;

/// Today's date in UTC, as central checks records' days against.
pub fn today() -> jiff::civil::Date {
    jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date()
}

/// Today as application numbers carry it (`YYMMDD`).
pub fn today_code() -> String {
    jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).strftime("%y%m%d").to_string()
}

pub fn submission() -> ApplicationSubmission {
    ApplicationSubmission {
        application_id: Uuid::now_v7(),
        reference: format!("K01-{}-0001", today_code()),
        kiosk_id: "K01".into(),
        centre_id: "GSC-01".into(),
        service_id: "criminal-record-certificate".into(),
        language: Language::Pt,
        answers: [
            ("full_name", Answer::Text("CHAN TAI MAN".into())),
            ("document_number", Answer::Text("1234567(8)".into())),
            ("date_of_birth", Answer::Text("1985-03-14".into())),
            ("purpose", Answer::Text("employment".into())),
            ("copies", Answer::Number(1)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect(),
        fee_avos: 3000,
        payment: Some(PaymentRecord {
            amount_avos: 3000,
            terminal_receipt_number: 1,
            trace_number: 101,
            approval_code: None,
            card_brand: None,
        }),
        identity: None,
        submitted_at: jiff::Timestamp::now(),
    }
}
