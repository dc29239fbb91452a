//! A kiosk process for the crash harness: the kiosk's core with simulated devices, driven by
//! scripted citizens who apply again and again, every third one taking a queue ticket instead.
//! It prints `ACK <reference>` as soon as the screen has told the citizen their application is
//! saved, and `TICKET <number>` once it showed a printed ticket — the promises the harness checks —
//! and `DRAINED` (then exits) with `--drain` once nothing is left to send. If its store fails
//! under a write it prints `FAILED <reason>` and exits with status 3, as the kiosk does.
//!
//! With `--zvt ADDRESS` it pays through the ZVT driver to a terminal at that address (the
//! harness's virtual terminal, which outlives the kiosk's kills) and only applies; with
//! `--settle` it prints `SETTLED` (then exits) once its payment journal has nothing unfinished.
//!
//! `scripted-kiosk DATA_DIR CENTRAL_URL CA_FILE IDENTITY_FILE [--drain] [--settle] [--zvt ADDRESS]`.
//! It exits when its standard input closes, so it never outlives the harness that started it.

use std::io::Write;
use std::time::Duration;

use balcao_tests::{TestKiosk, citizen, client};
use balcao_ui::view::{Language, Screen};

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    // The harness reads lines as they come; a line must be whole before the next kill.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, data_dir, url, ca_file, identity_file, rest @ ..] = args.as_slice() else {
        anyhow::bail!("usage: scripted-kiosk DATA_DIR CENTRAL_URL CA_FILE IDENTITY_FILE [--drain]");
    };
    let drain = rest.iter().any(|a| a == "--drain");
    let settle = rest.iter().any(|a| a == "--settle");
    let zvt = match rest.iter().position(|a| a == "--zvt") {
        Some(i) => Some(rest.get(i + 1).ok_or_else(|| anyhow::anyhow!("--zvt needs an address"))?.parse::<std::net::SocketAddr>()?),
        None => None,
    };
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        std::process::exit(0);
    });
    let (ca, identity) = (std::fs::read_to_string(ca_file)?, std::fs::read_to_string(identity_file)?);
    let data_dir = std::path::Path::new(data_dir);
    let terminal = zvt.map(|address| {
        use balcao_drivers::payment_terminal::zvt::ecr::{ZvtConfig, ZvtTerminal};
        let mut config = ZvtConfig::new(address);
        config.transaction_timeout = Duration::from_secs(10);
        Box::new(ZvtTerminal::new(config)) as Box<dyn balcao_drivers::payment_terminal::PaymentTerminal>
    });
    let settings = balcao_tests::test_settings(data_dir);
    let kiosk = TestKiosk::start_with_terminal(settings, data_dir, Some(client(url, &ca, &identity)), terminal).await;
    if settle {
        loop {
            if kiosk.store().unfinished_payments()?.is_empty() {
                say("SETTLED");
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    if drain {
        loop {
            if kiosk.store().outbox_counts()?.pending == 0 {
                say("DRAINED");
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let citizens = async {
        for n in 0u64.. {
            if n % 3 == 2 && zvt.is_none() {
                let end = citizen::take_queue_ticket(&kiosk, Language::En, "general-enquiries").await;
                if end.screen == Screen::Ticket {
                    say(&format!("TICKET {}", end.ticket.number));
                }
            } else {
                let end = citizen::apply_for_criminal_record(&kiosk, &format!("CITIZEN {n}")).await;
                if end.screen == Screen::Done {
                    say(&format!("ACK {}", end.done.reference));
                }
            }
            citizen::finish(&kiosk);
            kiosk.view.wait_for("the welcome screen", Duration::from_secs(20), |v| v.screen == Screen::Attract).await;
        }
    };
    tokio::select! {
        () = citizens => Ok(()),
        reason = kiosk.handle.failed() => {
            say(&format!("FAILED {reason}"));
            std::process::exit(3);
        }
    }
}
