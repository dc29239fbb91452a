//! The kiosk's own cost per card payment, apart from the citizen and the card network: the
//! payment journal's seven steps (intent, reservation sent, authorised, fulfilling, fulfilled,
//! capture sent, captured), each its own commit here — in service `fulfilled` rides in the
//! application's commit, so this is an upper bound — the ZVT exchanges of a
//! reservation and its booking over loopback against the virtual terminal (which answers at
//! once: no think time), and the decoding of one approval message alone. The journal is set
//! beside the disk's floor, seven bare 4 KiB appends each followed by `fdatasync`, measured
//! alternately in the same run.
//!
//! Run with `cargo bench -p balcao-kiosk --bench payment_overhead` (a release build).

#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]

use std::io::Write;
use std::time::{Duration, Instant};

use balcao_drivers::CancelToken;
use balcao_drivers::payment_terminal::zvt::apdu::ApduFramer;
use balcao_drivers::payment_terminal::zvt::bmp;
use balcao_drivers::payment_terminal::zvt::ecr::{ZvtConfig, ZvtTerminal};
use balcao_drivers::payment_terminal::zvt::sim::VirtualZvtTerminal;
use balcao_drivers::payment_terminal::{AuthorizationOutcome, AuthorizationRequest, PaymentTerminal};
use balcao_kiosk::store::{Approval, PaymentState, Store};
use uuid::Uuid;

const SAMPLES: usize = 300;

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() - 1) as f64 * p).round() as usize]
}

fn journal(store: &mut Store) {
    let id = Uuid::now_v7();
    store.payment_intent(id, "criminal-record-certificate", 3_000, "2026-12-02").expect("intent");
    store.payment_step(id, PaymentState::PreauthSent).expect("sent");
    store
        .payment_authorised(id, &Approval { receipt_number: 1, trace_number: 1, card_brand: Some("VISA".into()), card_last4: None })
        .expect("authorised");
    store.payment_step(id, PaymentState::Fulfilling).expect("fulfilling");
    store.payment_step(id, PaymentState::Fulfilled).expect("fulfilled");
    store.payment_step(id, PaymentState::CaptureSent).expect("capture sent");
    store.payment_step(id, PaymentState::Captured).expect("captured");
}

fn main() {
    // On the build's disk, not /tmp (often a tmpfs, where fdatasync costs nothing).
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let mut store = Store::open(&dir.path().join("kiosk.db"), &dir.path().join("data.key")).expect("store");
    let mut file = std::fs::File::create(dir.path().join("bare.bin")).expect("file");
    let block = [0x5au8; 4096];
    let terminal = VirtualZvtTerminal::listen().expect("virtual terminal");
    let mut driver = ZvtTerminal::new(ZvtConfig::new(terminal.address()));
    let request = AuthorizationRequest { amount: 3_000, reference: "bench".into(), cancel: CancelToken::new() };
    let mut pay = || {
        let Ok(AuthorizationOutcome::Approved(authorization)) = driver.authorize(&request, &mut |_| {}) else {
            panic!("the virtual terminal approves")
        };
        driver.capture(&authorization, 3_000).expect("booked");
    };

    for _ in 0..10 {
        journal(&mut store);
        pay();
    }
    let (mut floor, mut journaled, mut protocol) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..SAMPLES {
        let started = Instant::now();
        for _ in 0..7 {
            file.write_all(&block).expect("write");
            file.sync_data().expect("fdatasync");
        }
        floor.push(started.elapsed());
        let started = Instant::now();
        journal(&mut store);
        journaled.push(started.elapsed());
        let started = Instant::now();
        pay();
        protocol.push(started.elapsed());
    }

    // Decoding alone: an approval as a terminal sends it (status information with a masked
    // card number), framed, its card data taken out and parsed.
    let approval = {
        use zvt::ZvtSerializer as _;
        let information = zvt::packets::StatusInformation {
            result_code: Some(0),
            amount: Some(3_000),
            trace_number: Some(100),
            receipt_no: Some(1),
            terminal_id: Some(52_523_535),
            currency: Some(446),
            card_name: Some("VISA".into()),
            ..Default::default()
        };
        let mut bytes = information.zvt_serialize();
        bytes.extend_from_slice(&[0x22, 0xF0, 0xF8, 0x42, 0x42, 0x42, 0xEE, 0xEE, 0xEE, 0x42, 0x42]);
        bytes[2] += 11;
        bytes
    };
    let rounds = 100_000;
    let started = Instant::now();
    for _ in 0..rounds {
        let apdu = ApduFramer::default().push(std::hint::black_box(&approval)).pop().expect("one message");
        let stripped = bmp::strip_card_data(&apdu.data).expect("walks");
        std::hint::black_box(stripped);
    }
    let decode = started.elapsed() / rounds;

    let rows = [
        ("disk floor: 7 × (4 KiB append + fdatasync)", &mut floor),
        ("payment journal: 7 commits", &mut journaled),
        ("ZVT reservation + book total over loopback", &mut protocol),
    ];
    println!("{:<48} {:>12} {:>12}", "per payment", "median", "p99");
    let mut medians = Vec::new();
    for (name, samples) in rows {
        let (median, p99) = (percentile(samples, 0.5), percentile(samples, 0.99));
        medians.push(median);
        println!("{name:<48} {median:>12.2?} {p99:>12.2?}");
    }
    println!("{:<48} {:>12.2?}", "decoding one approval (frame, strip, walk)", decode);
    println!(
        "journal / disk floor: {:.2}; kiosk overhead per payment (journal + protocol): {:.2?}",
        medians[1].as_secs_f64() / medians[0].as_secs_f64(),
        medians[1] + medians[2]
    );
}
