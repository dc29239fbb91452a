//! Hundreds of connections that never handshake, trickle their headers a byte at a time, or
//! sit idle after a request, from dozens of addresses, are held open against central while a
//! kiosk keeps syncing: the kiosk is served throughout, the strangers are let go within the
//! timeouts, and one address cannot hold more than its share.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use balcao_central::{CentralOptions, Limits, LoopbackCentral};
use balcao_tests::{enrolled_client, kiosk_store};
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const LIMITS: Limits = Limits {
    max_connections: 600,
    max_unauthenticated: 200,
    max_unauthenticated_per_address: 12,
    max_per_kiosk: 8,
    handshake_timeout: Duration::from_secs(2),
    header_read_timeout: Duration::from_secs(2),
    idle_timeout: Duration::from_secs(3),
    request_timeout: Duration::from_secs(5),
};

/// A TCP connection to central from `127.0.0.<host>`.
async fn connect_from(host: u8, central: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, host)), 0))?;
    socket.connect(central).await
}

fn tls_connector(ca_pem: &str) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("ca")).expect("root");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// Waits until the peer closes `stream` (or resets it); `false` if it is still open at `until`.
async fn closed_by_central<S: tokio::io::AsyncRead + Unpin>(stream: &mut S, until: Instant) -> bool {
    let mut buffer = [0u8; 256];
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_slow_and_idle_connections_do_not_stop_kiosks_syncing() {
    // Each held connection is two open files in this process (both ends).
    rlimit::increase_nofile_limit(8192).expect("open-files limit");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut options = CentralOptions::new(dir.path().join("central.db"));
    options.limits = LIMITS;
    let central = LoopbackCentral::start(&options).await.expect("central");
    let address: SocketAddr = central.url.trim_start_matches("https://").parse().expect("address");
    let client = enrolled_client(&central);
    let tls = tls_connector(&central.ca_pem);
    let server_name = ServerName::try_from("127.0.0.1").expect("name");

    // 300 that connect and never say a word, from 30 addresses.
    let mut silent = Vec::new();
    for n in 0..300u32 {
        silent.push(connect_from(2 + (n % 30) as u8, address).await.expect("connect"));
    }
    // 100 that finish the handshake (no kiosk certificate) and trickle a request's head.
    let mut slow = Vec::new();
    for n in 0..100u32 {
        let tcp = connect_from(40 + (n % 20) as u8, address).await.expect("connect");
        if let Ok(Ok(stream)) = tokio::time::timeout(Duration::from_secs(2), tls.connect(server_name.clone(), tcp)).await {
            slow.push(stream);
        }
    }
    let trickle = tokio::spawn(async move {
        for byte in b"GET /openapi.json HTTP/1.1\r\nHost: central\r\nX-Slow: ".iter().cycle().take(40) {
            for stream in &mut slow {
                let _ = stream.write_all(&[*byte]).await;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        slow
    });
    // 100 that ask for something once and then sit on the connection.
    let mut idle = Vec::new();
    for n in 0..100u32 {
        let tcp = connect_from(70 + (n % 20) as u8, address).await.expect("connect");
        if let Ok(Ok(mut stream)) = tokio::time::timeout(Duration::from_secs(2), tls.connect(server_name.clone(), tcp)).await
            && stream.write_all(b"GET /openapi.json HTTP/1.1\r\nHost: central\r\n\r\n").await.is_ok()
        {
            idle.push(stream);
        }
    }
    let held = Instant::now();

    // Meanwhile a kiosk syncs: the catalog, and an application saved and sent, again and again.
    let mut store = kiosk_store(dir.path());
    store.save_catalog(None, &balcao_central::seed::catalog()).expect("catalog");
    let mut slowest = Duration::ZERO;
    for round in 0..15 {
        let started = Instant::now();
        client.catalog(None).await.unwrap_or_else(|e| panic!("round {round}: catalog: {e}"));
        let saved = store.save_application(&balcao_tests::citizen::paid_criminal_record_application("K01")).expect("saved");
        let due = store.due_outbox(jiff::Timestamp::now(), 100).expect("due");
        let item = due.iter().find(|i| i.id == saved.application_id).expect("queued");
        let submission: balcao_backend_client::api::ApplicationSubmission = serde_json::from_str(&item.body).expect("queued body");
        client.submit_application(&submission).await.unwrap_or_else(|e| panic!("round {round}: submit: {e}"));
        slowest = slowest.max(started.elapsed());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(slowest < Duration::from_secs(2), "a kiosk's sync round took {slowest:?} while strangers held connections");
    assert_eq!(central.central.store().count_applications().expect("count"), 15);

    // Every stranger is let go within the timeouts (and the room made for the kiosk).
    let until = held + LIMITS.handshake_timeout + LIMITS.idle_timeout + LIMITS.header_read_timeout + Duration::from_secs(10);
    let mut open = 0;
    for stream in &mut silent {
        open += usize::from(!closed_by_central(stream, until).await);
    }
    for stream in &mut idle {
        open += usize::from(!closed_by_central(stream, until).await);
    }
    let mut slow = trickle.await.expect("trickle");
    for stream in &mut slow {
        open += usize::from(!closed_by_central(stream, until).await);
    }
    assert_eq!(open, 0, "connections central never closed");

    // One address holds at most its share of unauthenticated connections: the rest are closed at once.
    let mut crowd = Vec::new();
    for _ in 0..LIMITS.max_unauthenticated_per_address + 5 {
        crowd.push(connect_from(200, address).await.expect("connect"));
    }
    let (mut refused, soon) = (0, Instant::now() + Duration::from_millis(500));
    for stream in &mut crowd {
        refused += usize::from(closed_by_central(stream, soon).await);
    }
    assert_eq!(refused, 5, "beyond its share, an address's connections are closed on arrival");
    // And the kiosk is still served.
    client.catalog(None).await.expect("catalog after it all");
    central.stop().await.expect("stop");
}
