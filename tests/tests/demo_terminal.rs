//! The demo as the README's first command starts it pays over ZVT: its payment terminal, as
//! the demo wires it, is the real ZVT driver talking to the virtual terminal on loopback,
//! which answers a status enquiry and approves a reservation after the card and the PIN, each
//! step taking a citizen's time.

use std::time::{Duration, Instant};

use balcao_drivers::CancelToken;
use balcao_drivers::payment_terminal::{AuthorizationOutcome, AuthorizationRequest, TerminalPrompt, TerminalStatus};
use balcao_kiosk::config::KioskConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demos_terminal_is_the_zvt_driver_and_the_virtual_terminal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let launch = balcao_kiosk::launch::demo(&KioskConfig::default(), dir.path()).await.expect("the demo starts");
    let virtual_terminal = launch.simulators.zvt_terminal.clone().expect("the demo's virtual ZVT terminal");
    let terminal = launch.devices.payment_terminal.clone();
    assert_eq!(terminal.call(|t| t.status()).await.expect("worker").expect("status"), TerminalStatus::Ready);

    let started = Instant::now();
    let (outcome, prompts) = terminal
        .call(|t| {
            let request = AuthorizationRequest { amount: 3_000, reference: "demo".into(), cancel: CancelToken::new() };
            let mut prompts = Vec::new();
            let outcome = t.authorize(&request, &mut |p| prompts.push(p));
            (outcome, prompts)
        })
        .await
        .expect("worker");
    let Ok(AuthorizationOutcome::Approved(authorization)) = outcome else { panic!("approved: {outcome:?}") };
    assert_eq!(prompts, [TerminalPrompt::PresentCard, TerminalPrompt::EnterPin, TerminalPrompt::Processing, TerminalPrompt::RemoveCard]);
    assert!(started.elapsed() >= Duration::from_secs(3), "a citizen's pace: {:?}", started.elapsed());
    assert_eq!(virtual_terminal.control().open_reservations(), [(authorization.receipt_number as usize, 3_000)]);
    terminal.call(move |t| t.reverse(&authorization)).await.expect("worker").expect("reversed");
    assert!(virtual_terminal.control().open_reservations().is_empty());
    if let Some(central) = launch.central {
        central.stop().await.expect("stop");
    }
}
