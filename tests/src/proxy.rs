//! A loopback HTTPS proxy between a kiosk and central that misbehaves the way networks do:
//! it cuts the network for a while, drops connections, loses central's answer after central
//! committed it, delays, and answers 5xx/429 itself. It records every exchange on a
//! timeline, so tests can check what the kiosk sent and when.
//!
//! It terminates TLS with a certificate of its own (trust [`FaultProxy::ca_pem`]) and forwards
//! each request to central over HTTPS, so it sees HTTP requests and answers, not just bytes:
//! "lost after commit" means central's answer really existed and the kiosk never saw it.
//! Central only talks to enrolled kiosks (mutual TLS), so the proxy checks each kiosk's
//! certificate against central's CA and forwards on a connection of its own that carries a
//! certificate for the same kiosk, issued from central's development PKI.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode};
use balcao_backend_client::{ClientConfig, Timeouts, tls_config};
use balcao_central::tls::{DevPki, KioskName, kiosk_of, server_config};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rand::Rng;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio_rustls::TlsAcceptor;

/// What the proxy does to each request while the plan is in force.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Plan {
    /// Every connection is closed at once and open ones are cut, as when a cable is pulled.
    pub cut: bool,
    /// Probability that a request's connection is dropped before it reaches central.
    pub drop_before: f64,
    /// Probability that central's answer to a write is lost after central committed it.
    pub lose_after_commit: f64,
    /// The proxy itself answers with this status (and `Retry-After`, in seconds), without
    /// asking central.
    pub fail_with: Option<(u16, Option<u32>)>,
    /// Added before each request is forwarded.
    pub delay: Duration,
}

impl Plan {
    /// Passes everything through unchanged.
    pub const HEALTHY: Self = Self { cut: false, drop_before: 0.0, lose_after_commit: 0.0, fail_with: None, delay: Duration::ZERO };
    pub const CUT: Self = Self { cut: true, ..Self::HEALTHY };
    /// Connections open but every request is lost on its way to central: an outage the
    /// timeline can still attribute to each write.
    pub const LOSE_EVERY_REQUEST: Self = Self { drop_before: 1.0, ..Self::HEALTHY };
}

/// What became of one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Central answered and the answer was passed on; `wire_bytes` counts the status line,
    /// headers and body as they would travel.
    Answered { status: u16, wire_bytes: usize },
    /// The connection was cut before central saw the request.
    Dropped,
    /// The network was cut: the connection was closed before a request could be read.
    Refused,
    /// Central answered (and committed) but the connection was cut before the answer left.
    LostAfterCommit { status: u16 },
    /// The proxy answered in central's place.
    Injected { status: u16 },
    /// Central could not be reached by the proxy.
    UpstreamFailed,
}

/// One request as the proxy saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exchange {
    /// Since the proxy started.
    pub at: Duration,
    pub method: String,
    pub path: String,
    pub idempotency_key: Option<String>,
    /// The kiosk its client certificate names.
    pub kiosk: Option<String>,
    pub outcome: Outcome,
}

#[derive(Debug)]
struct Shared {
    plan: watch::Sender<Plan>,
    timeline: Mutex<Vec<Exchange>>,
    started: Instant,
    upstream: String,
    upstream_pki: DevPki,
    /// One client of central per kiosk, each with that kiosk's certificate.
    clients: Mutex<HashMap<Option<KioskName>, reqwest::Client>>,
}

impl Shared {
    /// The client that speaks to central as `kiosk` (or, for a connection without a kiosk
    /// certificate, as nobody).
    fn client_for(&self, kiosk: &Option<KioskName>) -> anyhow::Result<reqwest::Client> {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(client) = clients.get(kiosk) {
            return Ok(client.clone());
        }
        let identity_pem =
            kiosk.as_ref().map(|k| self.upstream_pki.issue_kiosk(&k.kiosk_id, &k.centre_id)).transpose()?.map(String::into_bytes);
        let tls = tls_config(&ClientConfig {
            base_url: self.upstream.clone(),
            ca_pem: self.upstream_pki.ca_pem.as_bytes().to_vec(),
            identity_pem,
            timeouts: Timeouts::default(),
        })?;
        let client = reqwest::Client::builder().tls_backend_preconfigured(tls).timeout(Duration::from_secs(30)).build()?;
        clients.insert(kiosk.clone(), client.clone());
        Ok(client)
    }
}

/// A running proxy; stops when dropped.
#[derive(Debug)]
pub struct FaultProxy {
    /// e.g. `https://127.0.0.1:40123`: give this to the kiosk instead of central's address.
    pub url: String,
    /// The CA that signed the proxy's certificate: what the kiosk must trust.
    pub ca_pem: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultProxy {
    /// Starts a proxy on `127.0.0.1:0` in front of central at `upstream`, whose development
    /// PKI is `upstream_pki` (central's server CA and kiosk CA).
    pub async fn start(upstream: &str, upstream_pki: &DevPki) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let pki = DevPki::generate()?;
        let acceptor = TlsAcceptor::from(server_config(
            pki.server_cert_pem.as_bytes(),
            pki.server_key_pem.as_bytes(),
            upstream_pki.ca_pem.as_bytes(),
        )?);
        let shared = Arc::new(Shared {
            plan: watch::channel(Plan::HEALTHY).0,
            timeline: Mutex::new(Vec::new()),
            started: Instant::now(),
            upstream: upstream.trim_end_matches('/').to_string(),
            upstream_pki: upstream_pki.clone(),
            clients: Mutex::new(HashMap::new()),
        });
        let url = format!("https://127.0.0.1:{}", listener.local_addr()?.port());
        let task = tokio::spawn(accept_loop(listener, acceptor, shared.clone()));
        Ok(Self { url, ca_pem: pki.ca_pem, shared, task })
    }

    /// Puts `plan` in force for the requests that follow.
    pub fn set(&self, plan: Plan) {
        self.shared.plan.send_replace(plan);
    }

    /// Every request seen so far, in order.
    pub fn timeline(&self) -> Vec<Exchange> {
        self.shared.timeline.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Time since the proxy started, on the timeline's clock.
    pub fn now(&self) -> Duration {
        self.shared.started.elapsed()
    }
}

async fn accept_loop(listener: TcpListener, acceptor: TlsAcceptor, shared: Arc<Shared>) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        if shared.plan.borrow().cut {
            // A pulled cable: the connection goes nowhere.
            drop(tcp);
            let exchange = Exchange {
                at: shared.started.elapsed(),
                method: String::new(),
                path: String::new(),
                idempotency_key: None,
                kiosk: None,
                outcome: Outcome::Refused,
            };
            shared.timeline.lock().unwrap_or_else(|e| e.into_inner()).push(exchange);
            continue;
        }
        let acceptor = acceptor.clone();
        let shared = shared.clone();
        tokio::spawn(async move {
            if let Ok(Ok(tls)) = tokio::time::timeout(Duration::from_secs(5), acceptor.accept(tcp)).await {
                serve_connection(tls, shared).await;
            }
        });
    }
}

async fn serve_connection(tls: tokio_rustls::server::TlsStream<tokio::net::TcpStream>, shared: Arc<Shared>) {
    let name = tls.get_ref().1.peer_certificates().and_then(|chain| chain.first()).and_then(kiosk_of);
    let Ok(client) = shared.client_for(&name) else { return };
    let kiosk = name.map(|k| k.kiosk_id);
    let kill = Arc::new(Notify::new());
    let mut plans = shared.plan.subscribe();
    let service = {
        let (shared, kill) = (shared.clone(), kill.clone());
        hyper::service::service_fn(move |request| {
            let (shared, kill, client, kiosk) = (shared.clone(), kill.clone(), client.clone(), kiosk.clone());
            async move { Ok::<_, Infallible>(handle(request, &shared, &client, kiosk, &kill).await) }
        })
    };
    let connection = hyper::server::conn::http1::Builder::new().keep_alive(true).serve_connection(TokioIo::new(tls), service);
    tokio::select! {
        _ = connection => {}
        () = kill.notified() => {}
        _ = async { while plans.changed().await.is_ok() { if plans.borrow().cut { return; } } std::future::pending::<()>().await } => {}
    }
}

fn roll(probability: f64) -> bool {
    probability > 0.0 && rand::rng().random_bool(probability.min(1.0))
}

async fn handle(
    request: Request<Incoming>,
    shared: &Shared,
    client: &reqwest::Client,
    kiosk: Option<String>,
    kill: &Notify,
) -> Response<Body> {
    let plan = *shared.plan.borrow();
    let method = request.method().to_string();
    let path = request.uri().path_and_query().map(|p| p.to_string()).unwrap_or_default();
    let key = request.headers().get("Idempotency-Key").and_then(|v| v.to_str().ok()).map(str::to_string);
    let record = |outcome: Outcome| {
        let exchange = Exchange {
            at: shared.started.elapsed(),
            method: method.clone(),
            path: path.clone(),
            idempotency_key: key.clone(),
            kiosk: kiosk.clone(),
            outcome,
        };
        shared.timeline.lock().unwrap_or_else(|e| e.into_inner()).push(exchange);
    };
    if !plan.delay.is_zero() {
        tokio::time::sleep(plan.delay).await;
    }
    if plan.cut || roll(plan.drop_before) {
        record(Outcome::Dropped);
        return cut(kill).await;
    }
    if let Some((status, retry_after)) = plan.fail_with {
        record(Outcome::Injected { status });
        let mut response =
            Response::new(Body::from(format!(r#"{{"type":"about:blank","title":"injected by the fault proxy","status":{status}}}"#)));
        *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        response.headers_mut().insert("content-type", HeaderValue::from_static("application/problem+json"));
        if let Some(seconds) = retry_after {
            response.headers_mut().insert("retry-after", HeaderValue::from(seconds));
        }
        return response;
    }
    let write = request.method() != axum::http::Method::GET;
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(Body::new(body), 16 << 20).await else {
        record(Outcome::Dropped);
        return cut(kill).await;
    };
    let mut upstream = client.request(parts.method.clone(), format!("{}{path}", shared.upstream)).body(body);
    for (name, value) in &parts.headers {
        if name != axum::http::header::HOST {
            upstream = upstream.header(name, value);
        }
    }
    let answer = match upstream.send().await {
        Ok(answer) => answer,
        Err(_) => {
            record(Outcome::UpstreamFailed);
            return cut(kill).await;
        }
    };
    let status = answer.status();
    let headers = answer.headers().clone();
    let Ok(bytes) = answer.bytes().await else {
        record(Outcome::UpstreamFailed);
        return cut(kill).await;
    };
    if write && roll(plan.lose_after_commit) {
        record(Outcome::LostAfterCommit { status: status.as_u16() });
        return cut(kill).await;
    }
    let header_bytes: usize = headers.iter().map(|(n, v)| n.as_str().len() + v.len() + 4).sum();
    record(Outcome::Answered { status: status.as_u16(), wire_bytes: "HTTP/1.1 200 OK\r\n\r\n".len() + header_bytes + bytes.len() });
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    for (name, value) in &headers {
        if name != axum::http::header::TRANSFER_ENCODING && name != axum::http::header::CONNECTION {
            response.headers_mut().insert(name, value.clone());
        }
    }
    response
}

/// Cuts the connection the request came on: nothing of an answer leaves.
async fn cut(kill: &Notify) -> Response<Body> {
    kill.notify_one();
    std::future::pending().await
}
