//! Layers around central's router that misbehave the way networks and servers do. Each counts
//! what it saw, so tests can check what the kiosk sent.

use std::sync::Arc;
use std::sync::Mutex;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

/// What to do to the answers to application submissions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Central commits, then the connection is cut while the answer is on its way.
    LoseResponseAfterCommit,
    /// Central commits, then the answer's body is replaced with garbage.
    GarbleResponse,
}

/// Applies `fault` to the first `times` submissions and records every key it saw.
#[derive(Debug, Default)]
pub struct FaultPlan {
    state: Mutex<PlanState>,
}

#[derive(Debug, Default)]
struct PlanState {
    fault: Option<(Fault, u32)>,
    keys_seen: Vec<String>,
}

impl FaultPlan {
    pub fn new(fault: Fault, times: u32) -> Arc<Self> {
        Arc::new(Self { state: Mutex::new(PlanState { fault: Some((fault, times)), keys_seen: Vec::new() }) })
    }

    /// The `Idempotency-Key` of every submission central received, in order.
    pub fn keys_seen(&self) -> Vec<String> {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).keys_seen.clone()
    }

    fn next_fault(&self, key: String) -> Option<Fault> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.keys_seen.push(key);
        match &mut state.fault {
            Some((fault, times)) if *times > 0 => {
                *times -= 1;
                Some(*fault)
            }
            _ => None,
        }
    }
}

/// The middleware: wrap central's router with
/// `router.layer(axum::middleware::from_fn_with_state(plan, faults::inject))`.
pub async fn inject(State(plan): State<Arc<FaultPlan>>, request: Request, next: Next) -> Response {
    let submission = request.method() == Method::POST && request.uri().path() == "/v1/applications";
    let key = request.headers().get("Idempotency-Key").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let response = next.run(request).await;
    if !submission {
        return response;
    }
    match plan.next_fault(key) {
        None => response,
        Some(Fault::LoseResponseAfterCommit) => {
            // The status line and headers leave, then the body fails: hyper cuts the
            // connection mid-answer, as a network does after the server committed.
            let (parts, _) = response.into_parts();
            let failing = futures_util::stream::once(async {
                Err::<Bytes, std::io::Error>(std::io::Error::other("connection cut by the fault plan"))
            });
            Response::from_parts(parts, Body::from_stream(failing))
        }
        Some(Fault::GarbleResponse) => {
            let (mut parts, _) = response.into_parts();
            parts.headers.remove(axum::http::header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from("<html>502 proxy says hello</html>"))
        }
    }
}
