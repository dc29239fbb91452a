//! The crash harness: a kiosk process applies again and again, and issues queue tickets, while
//! the network loses central's answers after central committed them; the harness kills it
//! (`SIGKILL`) at random moments and starts it again on the same data. At the end every
//! application the kiosk told a citizen was saved, and every ticket it printed, is at central
//! exactly once, no ticket number was given twice, and so is everything else it committed.
//!
//! CI runs 40 cycles; `BALCAO_KILL_CYCLES=1000 cargo test -p balcao-tests --release --test
//! kill_and_restart` is the soak run.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, Instant};

use balcao_tests::loopback_central;
use balcao_tests::process::{Endpoint, KioskProcess};
use balcao_tests::proxy::{FaultProxy, Outcome, Plan};
use rand::Rng;

fn scripted() -> Command {
    Command::new(env!("CARGO_BIN_EXE_scripted-kiosk"))
}

/// Starts the kiosk with `--drain` and returns its first line (`DRAINED` once its outbox is
/// empty), or `None` after a minute.
async fn drain(dir: &std::path::Path, to: &Endpoint) -> Option<String> {
    let process = KioskProcess::spawn_by(scripted(), dir, to, &["--drain"]);
    tokio::task::spawn_blocking(move || {
        let done = process.lines.recv_timeout(Duration::from_secs(60)).ok();
        let _ = process.kill();
        done
    })
    .await
    .expect("join")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_applications_reach_central_exactly_once_through_kills_and_lost_answers() {
    let cycles: u32 = std::env::var("BALCAO_KILL_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(40);
    let dir = tempfile::tempdir().expect("tempdir");
    let central = loopback_central(dir.path()).await;
    let proxy = FaultProxy::start(&central.url, &central.pki).await.expect("proxy");
    proxy.set(Plan { lose_after_commit: 0.3, drop_before: 0.1, ..Plan::HEALTHY });
    let to_proxy = Endpoint::write(dir.path(), &proxy.url, &proxy.ca_pem, &central.kiosk_identity("K01", "GSC-01").expect("identity"));
    let kiosk_dir = dir.path().join("kiosk");

    let mut acknowledged = BTreeSet::new();
    let mut tickets = BTreeSet::new();
    let started = Instant::now();
    for _ in 0..cycles {
        let process = KioskProcess::spawn_by(scripted(), &kiosk_dir, &to_proxy, &[]);
        // From right after exec (store opening, migrations) to well into a journey or two.
        let alive = Duration::from_millis(rand::rng().random_range(0..600));
        tokio::time::sleep(alive).await;
        for line in process.kill() {
            if let Some(number) = line.strip_prefix("TICKET ") {
                assert!(tickets.insert(number.to_string()), "ticket {number} printed twice: the kiosk reused a number");
                continue;
            }
            let reference = line.strip_prefix("ACK ").unwrap_or_else(|| panic!("unexpected output {line:?}"));
            assert!(acknowledged.insert(reference.to_string()), "{reference} acknowledged twice: the kiosk reused a number");
        }
    }
    let killing = started.elapsed();

    // The last start: the network heals and the kiosk sends what is left.
    proxy.set(Plan::HEALTHY);
    let drained = drain(&kiosk_dir, &to_proxy).await;
    if drained.as_deref() != Some("DRAINED") {
        // What was left, and why, for whoever reads the failure.
        let left: Vec<_> = balcao_tests::kiosk_store(&kiosk_dir)
            .outbox_report()
            .expect("report")
            .into_iter()
            .filter(|e| e.state != "delivered")
            .map(|e| (e.kind, e.state, e.attempts, e.last_error))
            .collect();
        panic!("the outbox did not drain once the network was healthy ({drained:?}); left: {left:?}; proxy: {:?}", proxy.timeline().last());
    }

    let at_central: Vec<String> =
        central.central.store().recent_applications(u32::MAX).expect("list").into_iter().map(|a| a.reference).collect();
    let mut copies: BTreeMap<&str, usize> = BTreeMap::new();
    for reference in &at_central {
        *copies.entry(reference).or_default() += 1;
    }
    let duplicated: Vec<_> = copies.iter().filter(|(_, n)| **n > 1).collect();
    assert!(duplicated.is_empty(), "stored more than once at central: {duplicated:?}");
    let missing: Vec<_> = acknowledged.iter().filter(|r| !copies.contains_key(r.as_str())).collect();
    assert!(missing.is_empty(), "acknowledged to a citizen but never reached central: {missing:?}");

    // Tickets: each number once at central (one kiosk, one day), and every printed one there;
    // a ticket cut short by a kill is there too, as uncertain.
    let tickets_at_central = central.central.store().queue_ticket_outcomes().expect("tickets");
    let numbers: BTreeSet<&str> = tickets_at_central.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(numbers.len(), tickets_at_central.len(), "a ticket number at central twice: {tickets_at_central:?}");
    let missing: Vec<_> = tickets.iter().filter(|n| !numbers.contains(n.as_str())).collect();
    assert!(missing.is_empty(), "printed for a citizen but never reached central: {missing:?}");

    let store = balcao_tests::kiosk_store(&kiosk_dir);
    let report = store.outbox_report().expect("report");
    assert!(report.iter().all(|e| e.state == "delivered"), "nothing pending or refused: {report:?}");
    // Reports to the fleet's monitoring travel in the same outbox (a payment whose terminal
    // forgot its reservation in a kill is one): each at central once, beside the records.
    let (events, records): (Vec<_>, Vec<_>) = report.iter().partition(|e| e.kind == "event");
    assert_eq!(
        records.len(),
        at_central.len() + tickets_at_central.len(),
        "everything the kiosk committed is at central, and nothing else"
    );
    let events_at_central = central.central.store().recent_events(u32::MAX).expect("events");
    assert_eq!(events.len(), events_at_central.len(), "every event the kiosk reported is at central, once: {events_at_central:?}");

    let lost = proxy.timeline().iter().filter(|e| matches!(e.outcome, Outcome::LostAfterCommit { .. })).count();
    assert!(acknowledged.len() as u32 >= cycles / 4, "the kiosk served citizens between kills: {} in {cycles} cycles", acknowledged.len());
    assert!(lost > 0, "the network lost answers after central committed them");
    eprintln!(
        "{cycles} kill/restart cycles in {killing:.1?}: {} applications acknowledged and {} tickets printed, {} records committed, {} applications and {} tickets at central, {} events reported, {lost} answers lost after commit",
        acknowledged.len(),
        tickets.len(),
        records.len(),
        at_central.len(),
        tickets_at_central.len(),
        events.len()
    );
    central.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_that_fails_on_disk_stops_the_kiosk_and_loses_nothing_it_acknowledged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = loopback_central(dir.path()).await;
    let to_central =
        Endpoint::write(dir.path(), &central.url, &central.ca_pem, &central.kiosk_identity("K01", "GSC-01").expect("identity"));
    let kiosk_dir = dir.path().join("kiosk");

    // The disk "fills up": no file of the process may grow past 1 MiB (room for the schema
    // and a few citizens, each application with its payment journal's steps; the shell ignores
    // SIGXFSZ, so a write past the limit fails with EFBIG instead of killing the process).
    let mut shell = Command::new("sh");
    shell.arg("-c").arg("trap '' XFSZ; ulimit -f 2048; exec \"$0\" \"$@\"").arg(env!("CARGO_BIN_EXE_scripted-kiosk"));
    let process = KioskProcess::spawn_by(shell, &kiosk_dir, &to_central, &[]);
    let output = tokio::task::spawn_blocking(move || process.wait());
    let (lines, status) = tokio::time::timeout(Duration::from_secs(120), output).await.expect("the kiosk stops by itself").expect("join");
    assert_eq!(status.expect("status").code(), Some(3), "the kiosk exits to be restarted: {lines:?}");
    let failure = lines.last().expect("output");
    assert!(failure.starts_with("FAILED the kiosk database failed: "), "the reason reaches the log: {lines:?}");
    let acknowledged: Vec<&str> = lines.iter().filter_map(|l| l.strip_prefix("ACK ")).collect();
    assert!(!acknowledged.is_empty(), "citizens were served before the disk filled: {lines:?}");

    // Restarted with room on the disk, it checks its store and sends what it holds.
    assert_eq!(drain(&kiosk_dir, &to_central).await.as_deref(), Some("DRAINED"));
    let at_central: Vec<String> =
        central.central.store().recent_applications(u32::MAX).expect("list").into_iter().map(|a| a.reference).collect();
    for reference in &acknowledged {
        assert_eq!(at_central.iter().filter(|r| r == reference).count(), 1, "{reference} at central once: {at_central:?}");
    }
    central.stop().await.expect("stop");
}
