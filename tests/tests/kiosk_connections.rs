//! A kiosk's connections between heartbeats. Its kept-alive connection waits for the next
//! heartbeat (up to central's idle limit), where a stranger's idle one is let go at once. When
//! it did close, the next one resumes the TLS session with central's ticket (no certificates
//! signed or verified again): the resumed connection is still that kiosk's — its records are
//! taken as its own, another kiosk's refused — and a connection without a kiosk certificate
//! resumes as no kiosk at all.

use std::sync::Arc;

use balcao_tests::loopback_central;
use rustls::client::Resumption;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, pem::PemObject};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn config(ca_pem: &str, identity_pem: Option<&str>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("ca")).expect("root");
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots);
    let mut config = match identity_pem {
        Some(pem) => {
            let chain: Vec<CertificateDer<'static>> =
                CertificateDer::pem_slice_iter(pem.as_bytes()).collect::<Result<_, _>>().expect("chain");
            let key = PrivateKeyDer::from_pem_slice(pem.as_bytes()).expect("key");
            builder.with_client_auth_cert(chain, key).expect("identity")
        }
        None => builder.with_no_client_auth(),
    };
    config.resumption = Resumption::in_memory_sessions(16);
    Arc::new(config)
}

/// One request on a new connection: whether the handshake was resumed, and the answer's status.
async fn once(address: &str, config: &Arc<rustls::ClientConfig>, request: &str) -> (bool, u16) {
    let tcp = TcpStream::connect(address).await.expect("connect");
    let mut tls = tokio_rustls::TlsConnector::from(config.clone())
        .connect(ServerName::try_from("127.0.0.1").expect("name"), tcp)
        .await
        .expect("handshake");
    tls.write_all(request.as_bytes()).await.expect("request");
    let mut answer = Vec::new();
    tls.read_to_end(&mut answer).await.expect("answer");
    let resumed = tls.get_ref().1.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
    let status = String::from_utf8_lossy(&answer).split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("a status line");
    (resumed, status)
}

fn heartbeat_request(kiosk: &str) -> String {
    let mut heartbeat = serde_json::json!({
        "kiosk_id": kiosk, "centre_id": "GSC-01", "sent_at": jiff::Timestamp::now().to_string(), "software_version": "0.1.0",
        "uptime_seconds": 60, "devices": [], "outbox": {"pending": 0, "dead_letters": 0}, "last_sync_at": null,
        "database_bytes": 1, "disk_free_bytes": 10_000_000_000u64, "open_payments": 0, "screen": "attract",
        "sessions_today": 0, "out_of_service": false
    });
    heartbeat["outbox"]["oldest_age_seconds"] = serde_json::Value::Null;
    let body = heartbeat.to_string();
    format!(
        "POST /v1/heartbeats HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_session_is_still_the_kiosk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = loopback_central(dir.path()).await;
    let address = central.url.trim_start_matches("https://").to_string();
    let k01 = config(&central.ca_pem, Some(&central.kiosk_identity("K01", "GSC-01").expect("identity")));

    let (resumed, status) = once(&address, &k01, &heartbeat_request("K01")).await;
    assert_eq!((resumed, status), (false, 200), "the first connection is a full handshake");
    let (resumed, status) = once(&address, &k01, &heartbeat_request("K01")).await;
    assert_eq!((resumed, status), (true, 200), "the next one resumes, and is still K01");
    let (resumed, status) = once(&address, &k01, &heartbeat_request("K02")).await;
    assert_eq!((resumed, status), (true, 403), "a resumed K01 cannot speak for K02");
    assert_eq!(central.central.store().fleet(None).expect("fleet").len(), 1);

    // No certificate, resumed: still no kiosk.
    let stranger = config(&central.ca_pem, None);
    once(&address, &stranger, &heartbeat_request("K01")).await;
    let (resumed, status) = once(&address, &stranger, &heartbeat_request("K01")).await;
    assert_eq!((resumed, status), (true, 401));
    central.stop().await.expect("stop");
}

/// Sends `request` on `tls` and reads one answer's head; `None` if the connection is closed.
async fn ask<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(tls: &mut S, request: &str) -> Option<u16> {
    tls.write_all(request.as_bytes()).await.ok()?;
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    // Up to the end of the head and the body Content-Length says.
    loop {
        let n = tls.read(&mut buffer).await.ok()?;
        if n == 0 {
            return None;
        }
        answer.extend_from_slice(&buffer[..n]);
        let text = String::from_utf8_lossy(&answer);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0)))
                .unwrap_or(0);
            if body.len() >= length {
                return head.split_whitespace().nth(1).and_then(|s| s.parse().ok());
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kiosks_idle_connection_waits_for_its_next_heartbeat_and_a_strangers_does_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut options = balcao_central::CentralOptions::new(dir.path().join("central.db"));
    options.limits.header_read_timeout = std::time::Duration::from_millis(500);
    options.limits.idle_timeout = std::time::Duration::from_secs(2);
    let central = balcao_central::LoopbackCentral::start(&options).await.expect("central");
    let address = central.url.trim_start_matches("https://").to_string();
    let connect = |config: Arc<rustls::ClientConfig>| {
        let address = address.clone();
        async move {
            let tcp = TcpStream::connect(address).await.expect("connect");
            tokio_rustls::TlsConnector::from(config).connect(ServerName::try_from("127.0.0.1").expect("name"), tcp).await.expect("tls")
        }
    };
    let keep_alive = |request: String| request.replace("Connection: close\r\n", "");
    let k01 = config(&central.ca_pem, Some(&central.kiosk_identity("K01", "GSC-01").expect("identity")));
    let mut kiosk = connect(k01).await;
    let mut stranger = connect(config(&central.ca_pem, None)).await;
    assert_eq!(ask(&mut kiosk, &keep_alive(heartbeat_request("K01"))).await, Some(200));
    assert_eq!(ask(&mut stranger, "GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await, Some(200));

    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    assert_eq!(ask(&mut kiosk, &keep_alive(heartbeat_request("K01"))).await, Some(200), "the kiosk's connection was kept");
    assert_eq!(ask(&mut stranger, "GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await, None, "the stranger's was not");

    // Past the idle limit, the kiosk's goes too.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(ask(&mut kiosk, &keep_alive(heartbeat_request("K01"))).await, None);
    central.stop().await.expect("stop");
}
