//! The cost of "application accepted": the kiosk's durable commit of an application and its
//! outbox entry (one SQLite transaction, WAL, `synchronous=FULL`, the body sealed) against the
//! physical floor — a bare 4 KiB append followed by `fdatasync` on the same disk. Both run in
//! one process, alternating one operation each, so they see the same disk at the same time
//! (a virtual disk's flush latency drifts by tens of percent within seconds).
//!
//! Run with `cargo bench -p balcao-kiosk --bench durable_commit` (a release build). The goal is
//! a ratio of at most 1.2.

#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]

use std::io::Write;
use std::time::{Duration, Instant};

use balcao_backend_client::api::{Answer, Language, PaymentRecord};
use balcao_kiosk::store::{NewApplication, Store};

const SAMPLES: usize = 1000;

fn application() -> NewApplication {
    let answers = [
        ("full_name", Answer::Text("CHAN TAI MAN".into())),
        ("document_number", Answer::Text("1234567(8)".into())),
        ("date_of_birth", Answer::Text("1985-03-14".into())),
        ("purpose", Answer::Text("employment".into())),
        ("copies", Answer::Number(1)),
    ];
    let now = jiff::Zoned::now();
    NewApplication {
        kiosk_id: "K01".into(),
        centre_id: "GSC-01".into(),
        service_id: "criminal-record-certificate".into(),
        language: Language::ZhHant,
        answers: answers.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        fee_avos: 3000,
        payment: Some(PaymentRecord {
            amount_avos: 3000,
            terminal_receipt_number: 1,
            trace_number: 1,
            approval_code: None,
            card_brand: None,
        }),
        payment_id: None,
        identity: None,
        submitted_at: now.timestamp(),
        local_date: now.date(),
    }
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    // On the build's disk, not /tmp (often a tmpfs, where fdatasync costs nothing).
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let mut store = Store::open(&dir.path().join("kiosk.db"), &dir.path().join("data.key")).expect("store");
    let mut file = std::fs::File::create(dir.path().join("bare.bin")).expect("file");
    let block = [0x5au8; 4096];
    let new = application();

    // Warm up both paths (page cache, WAL file creation).
    for _ in 0..20 {
        store.save_application(&new).expect("save");
        file.write_all(&block).expect("write");
        file.sync_data().expect("fdatasync");
    }
    let (mut bare, mut commit) = (Vec::with_capacity(SAMPLES), Vec::with_capacity(SAMPLES));
    for _ in 0..SAMPLES {
        let started = Instant::now();
        file.write_all(&block).expect("write");
        file.sync_data().expect("fdatasync");
        bare.push(started.elapsed());
        let started = Instant::now();
        store.save_application(&new).expect("save");
        commit.push(started.elapsed());
    }
    let (bare_median, commit_median) = (percentile(&mut bare, 0.5), percentile(&mut commit, 0.5));
    let (bare_p99, commit_p99) = (percentile(&mut bare, 0.99), percentile(&mut commit, 0.99));
    println!("durable commit benchmark ({SAMPLES} operations each, alternating, release build)");
    println!("  bare 4 KiB append + fdatasync      median {bare_median:>10.1?}   p99 {bare_p99:>10.1?}");
    println!("  application accepted (commit)      median {commit_median:>10.1?}   p99 {commit_p99:>10.1?}");
    let ratio = commit_median.as_secs_f64() / bare_median.as_secs_f64();
    println!("  ratio of medians {ratio:.2} (goal <= 1.20): {}", if ratio <= 1.2 { "met" } else { "NOT met" });
}
