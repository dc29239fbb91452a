//! Time from a document on the reader to its DG1 read, against the ePass emulator vicc through
//! the real pcscd (the whole path: pcsc-lite, vpcd, BAC, secure messaging, EF.COM, DG1,
//! EF.SOD), and against the in-process virtual chip (the reader's own protocol work alone).
//!
//! Run as root (`cargo bench -p balcao-drivers --bench identity_read`): like the interop test,
//! it runs itself in a private network, mount and PID namespace where it starts pcscd and vicc.
#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]

use std::time::{Duration, Instant};

use balcao_drivers::identity_reader::emrtd::EmrtdReader;
use balcao_drivers::identity_reader::icao::chip::ReadOptions;
use balcao_drivers::identity_reader::icao::sm::Strictness;
use balcao_drivers::identity_reader::pcsc::PcscSlot;
use balcao_drivers::identity_reader::sim::{SimulatedIdentityReader, specimen_identity_card};
use balcao_drivers::identity_reader::{AccessKey, CalendarDate, IdentityReader};

#[path = "../tests/common/mod.rs"]
mod common;

const ROUNDS: usize = 15;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn time(rounds: usize, mut read: impl FnMut()) -> Duration {
    read(); // warm up: the first read pays for connecting
    median(
        (0..rounds)
            .map(|_| {
                let started = Instant::now();
                read();
                started.elapsed()
            })
            .collect(),
    )
}

fn main() {
    // `cargo bench` passes `--bench`; the run inside the namespace gets the marker variable.
    if !common::inside_private_namespace_bench() {
        return;
    }
    let _lab = common::vicc::Lab::start();
    let key = AccessKey::Mrz {
        document_number: "L898902C3".into(),
        date_of_birth: CalendarDate { year: 1974, month: 8, day: 12 },
        date_of_expiry: CalendarDate { year: 2012, month: 4, day: 15 },
    };
    let mut vicc = EmrtdReader::new(PcscSlot::new(""), ReadOptions { strictness: Strictness::Lenient, face_image: false });
    let through_pcscd = time(ROUNDS, || {
        vicc.read(&key).expect("reads vicc's ePass");
    });

    let mut simulated = SimulatedIdentityReader::new(Duration::ZERO);
    let card = specimen_identity_card();
    simulated.control().place(Some(card.clone()));
    let card_key = card.holder.access_key();
    let in_process = time(ROUNDS * 10, || {
        simulated.read(&card_key).expect("reads the virtual chip");
    });

    println!("document on the reader to DG1 read (median of {ROUNDS}; release build: cargo bench)");
    println!("{:<58} {:>10}", "path", "time");
    println!("{:<58} {:>8.1}ms", "vicc ePass via pcscd + vpcd (BAC, SM, EF.COM, DG1, EF.SOD)", through_pcscd.as_secs_f64() * 1e3);
    println!("{:<58} {:>8.3}ms", "virtual chip in process (the reader's own work)", in_process.as_secs_f64() * 1e3);
}
