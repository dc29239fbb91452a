//! Training: a trainer drives the simulated devices of a demo or training kiosk from a terminal
//! (`kiosk-provision simulate …`), to show every failure on a real screen — paper out and back,
//! the cover open, a document laid on the reader and taken away, the terminal declining or
//! going silent, a code scanned. Served on a loopback address only, and only when the
//! configuration names one (`devices.training_listen`); a device that is real is refused.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use balcao_drivers::payment_terminal::DeclineReason;
use balcao_drivers::payment_terminal::sim::SimCardAction;
use tokio::sync::watch;

use super::devices::Simulators;

/// What a trainer can make a simulated device do: the action's name and what it does.
pub const ACTIONS: [(&str, &str); 15] = [
    ("paper-out", "the receipt printer runs out of paper"),
    ("paper-back", "paper loaded again"),
    ("cover-open", "the receipt printer's cover is opened"),
    ("cover-closed", "the cover closed again"),
    ("card-on", "an identity card is laid on the reader"),
    ("card-off", "the card is taken away"),
    ("reader-unplugged", "the card reader is unplugged"),
    ("reader-back", "the card reader plugged in again"),
    ("terminal-declines", "the payment terminal declines the next card"),
    ("terminal-silent", "the payment terminal does not answer the next payment"),
    ("terminal-offline", "the payment terminal goes offline"),
    ("terminal-back", "the payment terminal is back"),
    ("a4-out-of-paper", "the A4 printer runs out of paper"),
    ("a4-back", "A4 paper loaded again"),
    ("scan", "the scanner reads the code given as the request's body"),
];

/// Carries out `action` on `simulators`; `Err` says why not (unknown, or the device is real).
pub fn carry_out(simulators: &Simulators, action: &str, body: &str) -> Result<&'static str, String> {
    let said =
        ACTIONS.iter().find(|(name, _)| *name == action).map(|(_, said)| *said).ok_or_else(|| {
            format!("no such action {action:?}: {}", ACTIONS.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(", "))
        })?;
    let real = |device: &str| format!("this kiosk's {device} is not simulated");
    match action {
        "paper-out" | "paper-back" | "cover-open" | "cover-closed" => {
            let printer = simulators.receipt_printer.as_ref().ok_or_else(|| real("receipt printer"))?.control();
            match action {
                "paper-out" => printer.set_paper_left_mm(Some(0)),
                "paper-back" => printer.set_paper_left_mm(None),
                "cover-open" => printer.set_cover_open(true),
                _ => printer.set_cover_open(false),
            }
        }
        "card-on" | "card-off" | "reader-unplugged" | "reader-back" => {
            let reader = simulators.identity_reader.as_ref().ok_or_else(|| real("identity reader"))?;
            match action {
                "card-on" => reader.place(Some(balcao_drivers::identity_reader::sim::specimen_identity_card())),
                "card-off" => reader.place(None),
                "reader-unplugged" => reader.set_reader_present(false),
                _ => reader.set_reader_present(true),
            }
        }
        "terminal-declines" | "terminal-silent" | "terminal-offline" | "terminal-back" => {
            let terminal = simulators.payment_terminal.as_ref().ok_or_else(|| real("payment terminal"))?;
            match action {
                "terminal-declines" => terminal.queue(SimCardAction::Decline(DeclineReason::Declined)),
                "terminal-silent" => terminal.queue(SimCardAction::NoAnswer),
                "terminal-offline" => terminal.set_offline(true),
                _ => terminal.set_offline(false),
            }
        }
        "a4-out-of-paper" | "a4-back" => {
            let printer = simulators.document_printer.as_ref().ok_or_else(|| real("A4 printer"))?.control();
            printer.set_sheets_left(if action == "a4-back" { None } else { Some(0) });
        }
        _ => {
            let code = body.trim();
            if code.is_empty() || code.len() > 512 || code.chars().any(char::is_control) {
                return Err("scan needs the code as the body: 1 to 512 printable characters".into());
            }
            let scanner = simulators.code_scanner.as_ref().ok_or_else(|| real("code scanner"))?;
            scanner.present(code.as_bytes()).map_err(|e| format!("the virtual scanner: {e}"))?;
        }
    }
    tracing::info!(action, "training: a simulated device was made to act");
    Ok(said)
}

async fn act(State(simulators): State<Simulators>, Path(action): Path<String>, body: String) -> (StatusCode, String) {
    // The virtual devices' controls lock briefly; a scan writes to a pty.
    let done = tokio::task::spawn_blocking(move || carry_out(&simulators, &action, &body)).await;
    match done {
        Ok(Ok(said)) => (StatusCode::OK, format!("{said}\n")),
        Ok(Err(why)) => (StatusCode::NOT_FOUND, format!("{why}\n")),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")),
    }
}

/// Serves the trainer's actions at `POST /simulators/{action}` on `address` (loopback).
pub async fn serve(simulators: Simulators, address: SocketAddr, shutdown: watch::Receiver<bool>) {
    match tokio::net::TcpListener::bind(address).await {
        Ok(listener) => serve_on(simulators, listener, shutdown).await,
        Err(e) => tracing::warn!(%address, error = %e, "the training controls cannot be served"),
    }
}

/// As [`serve`], on a listener the caller bound.
pub async fn serve_on(simulators: Simulators, listener: tokio::net::TcpListener, mut shutdown: watch::Receiver<bool>) {
    tracing::info!(address = ?listener.local_addr().ok(), "training controls for the simulated devices at /simulators/{{action}}");
    let app = Router::new().route("/simulators/{action}", axum::routing::post(act)).with_state(simulators);
    let stopped = async move {
        let _ = shutdown.changed().await;
    };
    if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(stopped).await {
        tracing::warn!(error = %e, "the training controls stopped");
    }
}
