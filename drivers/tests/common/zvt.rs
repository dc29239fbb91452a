//! A payment through the ZVT driver, as the ZVT tests over TCP and over a serial line make it.

use balcao_drivers::CancelToken;
use balcao_drivers::payment_terminal::zvt::ecr::ZvtTerminal;
use balcao_drivers::payment_terminal::{
    Authorization, AuthorizationOutcome, AuthorizationRequest, ErrorKind, PaymentTerminal, TerminalPrompt,
};

pub fn request(amount: u64) -> AuthorizationRequest {
    AuthorizationRequest { amount, reference: "pay-1".into(), cancel: CancelToken::new() }
}

/// Asks for a reservation; its outcome and the prompts the citizen was shown.
pub fn pay(driver: &mut ZvtTerminal, request: &AuthorizationRequest) -> (Result<AuthorizationOutcome, ErrorKind>, Vec<TerminalPrompt>) {
    let mut prompts = Vec::new();
    let outcome = driver.authorize(request, &mut |p| prompts.push(p)).map_err(|e| e.kind());
    (outcome, prompts)
}

pub fn approved(outcome: Result<AuthorizationOutcome, ErrorKind>) -> Authorization {
    match outcome {
        Ok(AuthorizationOutcome::Approved(authorization)) => authorization,
        other => panic!("not approved: {other:?}"),
    }
}
