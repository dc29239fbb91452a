//! The HTTPS server: accepts TCP connections, completes their TLS handshake, and serves
//! HTTP/1.1 on each, with every door a peer could hold open bounded ([`Limits`]).
//!
//! - **Handshakes** run in their own tasks, each for at most `handshake_timeout`: a client
//!   that never finishes one holds an unauthenticated slot for seconds.
//! - **Unauthenticated connections** (handshaking, or without a kiosk certificate: a browser)
//!   are capped per address and in all. When the cap is reached, the *oldest* of them is
//!   closed to make room — a kiosk's new connection is unauthenticated too until its
//!   handshake completes, so refusing newcomers (or queueing handshakes behind a fixed number
//!   of slots) would let idle strangers lock kiosks out.
//! - **A kiosk's connections** (its certificate verified) are capped per kiosk, and all
//!   connections in all; they are never closed to make room.
//! - **Slow and idle peers**: a request's head must arrive within `header_read_timeout`
//!   (hyper's timer, which also ends a stranger's idle kept-alive connection; a kiosk's waits
//!   for its next request up to `idle_timeout`), a connection with nothing read for
//!   `idle_timeout` is closed, and a
//!   request (its body read and its answer made) takes at most `request_timeout` (then 503
//!   with `Retry-After`).
//!
//! Written here rather than with `axum::serve`, which has no such limits or timeouts, on
//! hyper's own connection builder.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

use crate::tls::{Peer, kiosk_of};

/// The bounds of what peers may hold open or make central wait for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Open connections in all (kept below the process's file descriptors).
    pub max_connections: usize,
    /// Connections without a kiosk certificate yet, in all…
    pub max_unauthenticated: usize,
    /// …and from one address.
    pub max_unauthenticated_per_address: usize,
    /// Connections of one kiosk's certificate.
    pub max_per_kiosk: usize,
    pub handshake_timeout: Duration,
    /// A request's head (request line and headers) must arrive within this.
    pub header_read_timeout: Duration,
    /// A connection that sends nothing for this long is closed.
    pub idle_timeout: Duration,
    /// Reading a request's body and answering it take at most this.
    pub request_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 4096,
            max_unauthenticated: 512,
            max_unauthenticated_per_address: 32,
            max_per_kiosk: 16,
            handshake_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(75),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// Who holds which connection slots.
#[derive(Debug, Default)]
struct Slots {
    total: usize,
    /// Unauthenticated connections by age (their admission number), each with the way to
    /// close it.
    unauthenticated: BTreeMap<u64, (IpAddr, oneshot::Sender<()>)>,
    per_address: HashMap<IpAddr, usize>,
    per_kiosk: HashMap<String, usize>,
    next: u64,
}

/// Admits connections within [`Limits`]; each admitted connection holds a [`Slot`].
#[derive(Debug)]
struct Gate {
    limits: Limits,
    slots: Mutex<Slots>,
}

/// What one connection holds: freed when dropped.
struct Slot {
    gate: Arc<Gate>,
    address: IpAddr,
    /// `Some(number)` while unauthenticated.
    unauthenticated: Option<u64>,
    kiosk: Option<String>,
}

impl Gate {
    fn slots(&self) -> std::sync::MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Admits a new connection from `address` as unauthenticated, closing the oldest
    /// unauthenticated one if that makes room; `None` refuses it. The receiver fires when the
    /// connection is closed to make room for a newer one.
    fn admit(self: &Arc<Self>, address: IpAddr) -> Option<(Slot, oneshot::Receiver<()>)> {
        let mut slots = self.slots();
        if slots.per_address.get(&address).copied().unwrap_or(0) >= self.limits.max_unauthenticated_per_address {
            return None;
        }
        while slots.unauthenticated.len() >= self.limits.max_unauthenticated || slots.total >= self.limits.max_connections {
            // Room is made by closing the oldest stranger, never a kiosk's connection.
            let (_, (old_address, close)) = slots.unauthenticated.pop_first()?;
            release_address(&mut slots, old_address);
            slots.total -= 1;
            let _ = close.send(());
        }
        let (close, closed) = oneshot::channel();
        let number = slots.next;
        slots.next += 1;
        slots.total += 1;
        *slots.per_address.entry(address).or_default() += 1;
        slots.unauthenticated.insert(number, (address, close));
        Some((Slot { gate: self.clone(), address, unauthenticated: Some(number), kiosk: None }, closed))
    }

    /// The connection's certificate names `kiosk`: it becomes the kiosk's, if the kiosk may
    /// hold one more; `false` if it may not (the connection is then closed).
    fn authenticate(&self, slot: &mut Slot, kiosk: &str) -> bool {
        let mut slots = self.slots();
        if slots.per_kiosk.get(kiosk).copied().unwrap_or(0) >= self.limits.max_per_kiosk {
            return false;
        }
        if let Some(number) = slot.unauthenticated.take() {
            // Already closed to make room: nothing of it is counted any more.
            if slots.unauthenticated.remove(&number).is_none() {
                return false;
            }
            release_address(&mut slots, slot.address);
        }
        *slots.per_kiosk.entry(kiosk.to_string()).or_default() += 1;
        slot.kiosk = Some(kiosk.to_string());
        true
    }
}

fn release_address(slots: &mut Slots, address: IpAddr) {
    if let Some(count) = slots.per_address.get_mut(&address) {
        *count -= 1;
        if *count == 0 {
            slots.per_address.remove(&address);
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut slots = self.gate.slots();
        if let Some(number) = self.unauthenticated {
            // Still counted only if it was not closed to make room (that released it).
            if slots.unauthenticated.remove(&number).is_some() {
                release_address(&mut slots, self.address);
                slots.total -= 1;
            }
            return;
        }
        if let Some(kiosk) = &self.kiosk {
            if let Some(count) = slots.per_kiosk.get_mut(kiosk) {
                *count -= 1;
                if *count == 0 {
                    slots.per_kiosk.remove(kiosk);
                }
            }
            slots.total -= 1;
        }
    }
}

/// The answer to a request that ran past [`Limits::request_timeout`].
fn too_slow() -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut response = crate::api::ApiError::new(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        "too-slow",
        "Central could not answer in time",
        "Retry after the time in Retry-After; nothing was lost.",
    )
    .into_response();
    response.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(1));
    response
}

/// Serves `router` over TLS on `listener` within `limits` until `shutdown` completes; then
/// stops accepting, lets requests under way finish (at most `request_timeout`) and returns.
pub async fn serve_https(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let gate = Arc::new(Gate { limits, slots: Mutex::new(Slots::default()) });
    let acceptor = TlsAcceptor::from(tls);
    let (stopping, stop) = watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    let mut shutdown = pin!(shutdown);
    loop {
        let (stream, address) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
            // Reap finished connections as they end.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let Some((slot, evicted)) = gate.admit(address.ip()) else {
            tracing::debug!(%address, "connection refused: too many unauthenticated connections from this address");
            continue;
        };
        let (acceptor, router, stop) = (acceptor.clone(), router.clone(), stop.clone());
        connections.spawn(async move {
            let _ = stream.set_nodelay(true);
            tokio::select! {
                () = connection(stream, address, acceptor, router, slot, limits, stop) => {}
                // (A sender dropped without a word: the connection was authenticated.)
                Ok(()) = evicted => tracing::debug!(%address, "unauthenticated connection closed to make room"),
            }
        });
    }
    let _ = stopping.send(true);
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(limits.request_timeout + Duration::from_secs(1), drain).await.is_err() {
        connections.abort_all();
    }
}

/// One connection: its handshake, then HTTP/1.1 until the peer leaves, it idles out, or
/// central stops.
async fn connection(
    stream: TcpStream,
    address: SocketAddr,
    acceptor: TlsAcceptor,
    router: Router,
    mut slot: Slot,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    let tls = match tokio::time::timeout(limits.handshake_timeout, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => return tracing::debug!(%address, error = %e, "TLS handshake failed"),
        Err(_) => return tracing::debug!(%address, "TLS handshake timed out"),
    };
    // Only a certificate the verifier accepted gets this far.
    let kiosk = tls.get_ref().1.peer_certificates().and_then(|chain| chain.first()).and_then(kiosk_of);
    if let Some(name) = &kiosk
        && !slot.gate.clone().authenticate(&mut slot, &name.kiosk_id)
    {
        return tracing::warn!(kiosk = %name.kiosk_id, "connection closed: the kiosk holds too many connections already");
    }
    let peer = Peer { addr: address, kiosk };
    // hyper's header timer also runs while a kept-alive connection waits for its next
    // request: a stranger's idle connection goes after `header_read_timeout`, but a kiosk's
    // (its certificate verified, its connections capped) is kept for `idle_timeout`, so its
    // heartbeat a minute later reuses it rather than making a new connection and handshake.
    let header_timeout = if peer.kiosk.is_some() { None } else { Some(limits.header_read_timeout) };
    let mut idle = tokio_io_timeout::TimeoutStream::new(tls);
    idle.set_read_timeout(Some(limits.idle_timeout));
    idle.set_write_timeout(Some(limits.request_timeout));
    let service = hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer.clone()));
        let router = router.clone();
        async move {
            match tokio::time::timeout(limits.request_timeout, router.oneshot(request)).await {
                Ok(Ok(response)) => Ok::<_, std::convert::Infallible>(response),
                Ok(Err(never)) => match never {},
                Err(_) => Ok(too_slow()),
            }
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(header_timeout).keep_alive(true);
    let http = builder.serve_connection(TokioIo::new(Box::pin(idle)), service);
    let mut http = pin!(http);
    tokio::select! {
        result = http.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(%address, error = %e, "connection ended");
            }
        }
        _ = stop.changed() => {
            http.as_mut().graceful_shutdown();
            let _ = http.await;
        }
    }
    drop(slot);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(limits: Limits) -> Arc<Gate> {
        Arc::new(Gate { limits, slots: Mutex::new(Slots::default()) })
    }

    #[test]
    fn strangers_are_capped_by_address_and_the_oldest_makes_room_but_kiosks_keep_theirs() {
        let limits = Limits {
            max_connections: 6,
            max_unauthenticated: 3,
            max_unauthenticated_per_address: 2,
            max_per_kiosk: 2,
            ..Limits::default()
        };
        let gate = gate(limits);
        let (a, b, k) = ("10.0.0.1".parse().expect("ip"), "10.0.0.2".parse().expect("ip"), "10.0.0.9".parse().expect("ip"));
        let (first, mut first_closed) = gate.admit(a).expect("admitted");
        let (_second, _) = gate.admit(a).expect("admitted");
        assert!(gate.admit(a).is_none(), "a third from the same address is refused");
        let (_third, _) = gate.admit(b).expect("another address");
        // A kiosk connects: no unauthenticated room left, so the oldest stranger is closed.
        let (mut kiosk, _) = gate.admit(k).expect("room is made");
        assert!(first_closed.try_recv().is_ok(), "the oldest was told to close");
        drop(first);
        assert!(gate.authenticate(&mut kiosk, "K01"));
        let (mut again, _) = gate.admit(k).expect("admitted");
        assert!(gate.authenticate(&mut again, "K01"));
        let (mut third, _) = gate.admit(k).expect("admitted");
        assert!(!gate.authenticate(&mut third, "K01"), "a kiosk may hold only so many");
        drop(third);
        {
            let slots = gate.slots();
            assert_eq!((slots.total, slots.unauthenticated.len(), slots.per_kiosk["K01"]), (4, 2, 2));
        }
        drop((kiosk, again));
        let slots = gate.slots();
        assert_eq!((slots.total, slots.per_kiosk.len()), (2, 0));
    }
}
