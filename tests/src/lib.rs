//! Fixtures for end-to-end and fault tests of the whole system: the kiosk's core with
//! simulated devices, the reference central on loopback (optionally behind fault layers), a
//! view recorder, and a scripted citizen.
//!
//! - `faults.rs` — layers that make central misbehave the way networks and servers do.
//! - `proxy.rs` — a loopback HTTPS proxy that cuts, drops, delays and loses answers.
//! - `process.rs` — the kiosk as a process of its own, to kill and start again.
//! - `logs.rs` — every log line of a test, to search for what must never be logged.
//! - `citizen.rs` — a citizen who applies for a certificate through session events.

pub mod browser;
pub mod citizen;
pub mod faults;
pub mod logs;
pub mod process;
pub mod proxy;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use balcao_backend_client::{CentralClient, ClientConfig, Timeouts};
use balcao_kiosk::runtime::devices::{Devices, SimulatorControls, SimulatorPace};
use balcao_kiosk::runtime::outbox::RetryPolicy;
use balcao_kiosk::runtime::{self, KioskHandle, KioskSettings, ViewSink};
use balcao_kiosk::session::{Event, SessionConfig};
use balcao_ui::view::{Language, View};
use tokio::sync::watch;

/// Keeps every view the kiosk showed, and lets a test wait for one; draws the views the kiosk
/// asks to be drawn (a staff member's screenshot) with the kiosk's software renderer, and keeps
/// those too.
#[derive(Debug)]
pub struct RecordingView {
    latest: watch::Sender<View>,
    all: Mutex<Vec<View>>,
    drawn: Arc<Mutex<Vec<View>>>,
}

impl Default for RecordingView {
    fn default() -> Self {
        Self { latest: watch::channel(View::default()).0, all: Mutex::new(Vec::new()), drawn: Arc::default() }
    }
}

impl ViewSink for RecordingView {
    fn show(&self, view: View) {
        self.all.lock().unwrap_or_else(|e| e.into_inner()).push(view.clone());
        self.latest.send_replace(view);
    }

    fn render(&self, view: View, reply: Box<dyn FnOnce(Option<Vec<u8>>) + Send>) {
        self.drawn.lock().unwrap_or_else(|e| e.into_inner()).push(view.clone());
        std::thread::spawn(move || reply(draw(view)));
    }
}

/// `view` drawn by the kiosk's software renderer, as a PNG. Slint allows one platform per
/// process, so one thread of this process owns the renderer and draws every view asked for.
pub fn draw(view: View) -> Option<Vec<u8>> {
    type Request = (View, std::sync::mpsc::Sender<Vec<u8>>);
    static RENDERER: std::sync::OnceLock<Mutex<std::sync::mpsc::Sender<Request>>> = std::sync::OnceLock::new();
    let renderer = RENDERER.get_or_init(|| {
        let (requests, incoming) = std::sync::mpsc::channel::<Request>();
        std::thread::spawn(move || {
            let Ok(ui) = balcao_ui::headless::HeadlessUi::new() else { return };
            for (view, reply) in incoming {
                let _ = reply.send(ui.render(&view).to_png());
            }
        });
        Mutex::new(requests)
    });
    let (reply, png) = std::sync::mpsc::channel();
    renderer.lock().unwrap_or_else(|e| e.into_inner()).send((view, reply)).ok()?;
    png.recv_timeout(Duration::from_secs(30)).ok()
}

impl RecordingView {
    pub fn current(&self) -> View {
        self.latest.borrow().clone()
    }

    /// The views drawn for screenshots.
    pub fn drawn(&self) -> Vec<View> {
        self.drawn.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn history(&self) -> Vec<View> {
        self.all.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits until a view satisfies `test`; panics with `what` after `timeout`.
    pub async fn wait_for(&self, what: &str, timeout: Duration, test: impl Fn(&View) -> bool) -> View {
        let mut changes = self.latest.subscribe();
        let found = tokio::time::timeout(timeout, async {
            loop {
                {
                    let view = changes.borrow_and_update();
                    if test(&view) {
                        return view.clone();
                    }
                }
                if changes.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        })
        .await;
        found.unwrap_or_else(|_| panic!("timed out after {timeout:?} waiting for {what}; last view: {:?}", self.current().screen))
    }
}

/// Settings for a kiosk under test: fast polls, short retries, a long idle timeout.
pub fn test_settings(data_dir: &Path) -> KioskSettings {
    KioskSettings {
        kiosk_id: "K01".into(),
        centre_id: "GSC-01".into(),
        ticket_series: '1',
        status_url: "https://status.example/".into(),
        session: SessionConfig {
            idle_timeout: Duration::from_secs(600),
            idle_warning: Duration::from_secs(20),
            done_timeout: Duration::from_secs(600),
            attract_cycle: Duration::from_secs(4),
            default_language: Language::En,
        },
        retry: RetryPolicy { first: Duration::from_millis(100), max: Duration::from_millis(500) },
        catalog_poll: Duration::from_secs(60),
        health_poll: Duration::from_millis(100),
        heartbeat: Duration::from_secs(60),
        metrics_listen: None,
        database: data_dir.join("kiosk.db"),
        data_key: data_dir.join("keys/data.key"),
        retention: Duration::from_secs(7 * 24 * 3600),
        end_of_day: Duration::from_secs(24 * 3600),
        end_of_day_when_idle: Duration::from_secs(12 * 3600),
        renewal: None,
        maintenance_socket: None,
        supervision: balcao_kiosk::runtime::supervisor::Supervision::new(data_dir),
    }
}

/// Opens the store of the kiosk whose data folder is `data_dir` (as [`test_settings`] puts it).
pub fn kiosk_store(data_dir: &Path) -> balcao_kiosk::store::Store {
    test_settings(data_dir).open_store().expect("the kiosk's store opens")
}

/// A client of a central with this URL and CA, with short timeouts, authenticating with the
/// kiosk identity `identity_pem` (see `LoopbackCentral::kiosk_identity`).
pub fn client(url: &str, ca_pem: &str, identity_pem: &str) -> CentralClient {
    CentralClient::new(&ClientConfig {
        base_url: url.to_string(),
        ca_pem: ca_pem.as_bytes().to_vec(),
        identity_pem: Some(identity_pem.as_bytes().to_vec()),
        timeouts: Timeouts { connect: Duration::from_secs(2), request: Duration::from_secs(5) },
    })
    .expect("client")
}

/// A client for kiosk K01 of centre GSC-01, enrolled at `central` (the test kiosk's identity).
pub fn enrolled_client(central: &balcao_central::LoopbackCentral) -> CentralClient {
    client(&central.url, &central.ca_pem, &central.kiosk_identity("K01", "GSC-01").expect("identity"))
}

/// A fresh reference central on loopback, its database in `dir`.
pub async fn loopback_central(dir: &Path) -> balcao_central::LoopbackCentral {
    balcao_central::LoopbackCentral::start(&balcao_central::CentralOptions::new(dir.join("central.db"))).await.expect("central")
}

/// A kiosk's core with simulated devices, its view recorded.
#[derive(Debug)]
pub struct TestKiosk {
    pub handle: KioskHandle,
    pub view: Arc<RecordingView>,
    pub simulators: SimulatorControls,
    pub settings: KioskSettings,
}

impl TestKiosk {
    pub async fn start(data_dir: &Path, client: Option<CentralClient>) -> Self {
        Self::start_with(test_settings(data_dir), data_dir, client).await
    }

    pub async fn start_with(settings: KioskSettings, data_dir: &Path, client: Option<CentralClient>) -> Self {
        Self::start_with_terminal(settings, data_dir, client, None).await
    }

    /// As [`start_with`](Self::start_with), paying through `terminal` (a ZVT driver, say) if
    /// given rather than the in-process simulated terminal.
    pub async fn start_with_terminal(
        settings: KioskSettings,
        data_dir: &Path,
        client: Option<CentralClient>,
        terminal: Option<Box<dyn balcao_drivers::payment_terminal::PaymentTerminal>>,
    ) -> Self {
        let view = Arc::new(RecordingView::default());
        let (mut devices, simulators) = Devices::simulated(data_dir, SimulatorPace::INSTANT).expect("devices");
        if let Some(terminal) = terminal {
            devices = devices.with_payment_terminal(terminal).expect("payment terminal worker");
        }
        let handle = runtime::start(settings.clone(), view.clone(), devices, client, runtime::event_channel()).await;
        Self { handle, view, simulators, settings }
    }

    pub fn send(&self, event: Event) {
        self.handle.events.send(event).expect("kiosk running");
    }

    /// Opens this kiosk's store (read-only use) to look at what it holds. Right after start
    /// the kiosk may still be creating it: opening is retried for a few seconds.
    pub fn store(&self) -> balcao_kiosk::store::Store {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match self.settings.open_store() {
                Ok(store) => return store,
                Err(e) if Instant::now() < deadline => {
                    tracing::debug!(error = %e, "the kiosk's store is not ready yet");
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("the kiosk's store does not open: {e}"),
            }
        }
    }

    pub async fn stop(self) {
        self.handle.stop().await;
    }
}

/// The QR codes on a printed receipt's picture, decoded.
pub fn decode_qr(png_path: &Path) -> Vec<String> {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(png_path).expect("receipt png")));
    let mut reader = decoder.read_info().expect("png header");
    let mut pixels = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut pixels).expect("png data");
    assert_eq!(info.color_type, png::ColorType::Grayscale);
    let (w, h) = (info.width as usize, info.height as usize);
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| pixels[y * w + x]);
    image.detect_grids().into_iter().filter_map(|g| g.decode().ok().map(|(_, text)| text)).collect()
}

/// The barcodes and QR codes a reader takes off a printout (see `sim::read_codes`).
pub fn codes_read_by_zbar(png_path: &Path) -> Vec<String> {
    balcao_drivers::receipt_printer::escpos::sim::read_codes(png_path).expect("zbarimg reads the printout")
}

/// Polls `test` every 20 ms until it holds; panics with `what` after `timeout`.
pub async fn eventually(what: &str, timeout: Duration, mut test: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !test() {
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
