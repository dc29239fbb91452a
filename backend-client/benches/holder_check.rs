//! What a holder check costs the one who checks and the one who guesses, side by side: the
//! salted SHA-256 the checks used to be, and Argon2id at the costs in use and around them. For
//! each, one check's time on one core and how long trying every 8-digit document number
//! against one stolen check takes one core.
//!
//! `cargo bench -p balcao-backend-client --bench holder_check`
#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]

use std::time::{Duration, Instant};

use balcao_backend_client::api::HolderCheck;
use sha2::{Digest, Sha256};

/// The median time of `runs` runs of `work`.
fn median(runs: usize, mut work: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            work();
            started.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn report(name: &str, per_check: Duration) {
    let all = per_check.as_secs_f64() * 1e8;
    let human = if all > 86_400.0 { format!("{:.1} core-days", all / 86_400.0) } else { format!("{:.0} core-seconds", all) };
    println!("{name:<38} {:>12.1} µs per check   every 8-digit number: {human}", per_check.as_secs_f64() * 1e6);
}

fn main() {
    let salt = [7u8; 16];
    // A salted SHA-256, timed over a batch (one is too quick to time alone).
    let batch = 100_000;
    let sha = median(5, || {
        for n in 0..batch {
            let mut hash = Sha256::new();
            hash.update(salt);
            hash.update(format!("{n:08}").as_bytes());
            std::hint::black_box(hash.finalize());
        }
    }) / batch;
    report("salted SHA-256 (before)", sha);
    for (memory_kib, passes, note) in [(4 * 1024, 1, ""), (19 * 1024, 2, ""), (46 * 1024, 1, "  <- in use"), (64 * 1024, 3, "")] {
        let per_check = median(7, || {
            std::hint::black_box(HolderCheck::with_costs(salt, "12345678", memory_kib, passes));
        });
        report(&format!("Argon2id m={memory_kib} KiB t={passes}{note}"), per_check);
    }
    let check = HolderCheck::new(salt, "12345678");
    let verify = median(7, || assert!(check.matches("12345678")));
    report("a kiosk checking a citizen (in use)", verify);
}
