//! Start-up benchmark: time from launching the program to its first frame on screen, and its
//! memory (RSS and PSS) two seconds later, once settled (and at the first frame, which depends
//! on timing), at 1080×1920 with the software renderer, for the kiosk and for a bare Slint
//! window side by side in one run.
//!
//! The kiosk measured is the one shipped: built for service (`--no-default-features`) by a
//! `cargo build` of its own, in a target folder of its own — the benchmark's own build would
//! carry the test-only features its dev-dependencies switch on (Slint's debug information).
//!
//! Run with `cargo bench -p balcao-kiosk --bench startup` (a release build). It starts its own
//! headless X server (`Xvfb -displayfd`) and a reference central on loopback for the kiosk to
//! sync with. The first frame is seen, not reported: the benchmark reads a pixel of the screen
//! every half millisecond until the program's colours are there.

#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use x11rb::connection::Connection;
use x11rb::protocol::xproto::{ConnectionExt, ImageFormat, Window};
use x11rb::rust_connection::RustConnection;

const RUNS: usize = 7;
/// A point well inside the window where both programs paint their teal background.
const PROBE: (i16, i16) = (540, 1200);

slint::slint! {
    export component BareWindow inherits Window {
        width: 1080px;
        height: 1920px;
        background: rgb(0, 120, 94);
        Text {
            text: "Welcome";
            font-size: 88px;
            color: white;
        }
    }
}

/// The baseline: the same binary, re-run with `--bare-window`, shows a bare Slint window.
fn bare_window() -> ! {
    let window = BareWindow::new().expect("window");
    window.run().expect("run");
    std::process::exit(0);
}

/// Builds the kiosk as shipped and returns its path.
fn shipped_kiosk() -> PathBuf {
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("shipped-kiosk");
    let status = Command::new(env!("CARGO"))
        .args([
            "build",
            "--quiet",
            "--release",
            "--locked",
            "-p",
            "balcao-kiosk",
            "--no-default-features",
            "--bin",
            "kiosk",
            "--target-dir",
        ])
        .arg(&target)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo runs");
    assert!(status.success(), "the shipped kiosk builds");
    target.join("release/kiosk")
}

struct Xvfb {
    process: Child,
    display: String,
}

impl Xvfb {
    fn start() -> Self {
        let mut process = Command::new("Xvfb")
            .args(["-displayfd", "1", "-screen", "0", "1080x1920x24", "-nolisten", "tcp"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb (tools/setup installs it)");
        let mut line = String::new();
        BufReader::new(process.stdout.take().expect("stdout")).read_line(&mut line).expect("display number");
        Self { process, display: format!(":{}", line.trim()) }
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

fn teal(conn: &RustConnection, root: Window) -> bool {
    let Ok(reply) = conn.get_image(ImageFormat::Z_PIXMAP, root, PROBE.0, PROBE.1, 1, 1, !0).map(|c| c.reply()) else { return false };
    let Ok(image) = reply else { return false };
    // 24-bit depth, 32 bits per pixel: blue, green, red, unused.
    let (b, g, r) = (image.data[0] as i32, image.data[1] as i32, image.data[2] as i32);
    g > r + 40 && b > r + 40
}

/// Resident and proportional set sizes, in KiB.
fn memory(pid: u32) -> (u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).expect("smaps_rollup");
    let field = |name: &str| {
        text.lines().find(|l| l.starts_with(name)).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok()).unwrap_or(0)
    };
    (field("Rss:"), field("Pss:"))
}

struct Sample {
    first_frame: Duration,
    at_first_frame: (u64, u64),
    settled: (u64, u64),
}

fn measure(mut command: Command, conn: &RustConnection, root: Window) -> Sample {
    assert!(!teal(conn, root), "the screen must be empty before a run");
    let started = Instant::now();
    let mut child = command.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn");
    while !teal(conn, root) {
        assert!(started.elapsed() < Duration::from_secs(20), "no frame after 20 s");
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the program exited before its first frame: {status}");
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    let first_frame = started.elapsed();
    let at_first_frame = memory(child.id());
    std::thread::sleep(Duration::from_secs(2));
    let settled = memory(child.id());
    let _ = child.kill();
    let _ = child.wait();
    let cleared = Instant::now();
    while teal(conn, root) {
        assert!(cleared.elapsed() < Duration::from_secs(5), "the window did not go away");
        std::thread::sleep(Duration::from_millis(5));
    }
    Sample { first_frame, at_first_frame, settled }
}

fn median<T: Copy + Ord>(mut values: Vec<T>) -> T {
    values.sort();
    values[values.len() / 2]
}

/// Prints a program's figures; returns its median first frame and settled PSS (KiB).
fn report(name: &str, samples: &[Sample]) -> (Duration, u64) {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let frames: Vec<Duration> = samples.iter().map(|s| s.first_frame).collect();
    let mib = |kib: u64| kib as f64 / 1024.0;
    let pss_first = median(samples.iter().map(|s| s.at_first_frame.1).collect());
    let pss_settled = median(samples.iter().map(|s| s.settled.1).collect());
    let rss_settled = median(samples.iter().map(|s| s.settled.0).collect());
    let first_frame = median(frames.clone());
    println!(
        "{name:<22} first frame {:>6.1} ms (min {:>6.1}, max {:>6.1})   settled (2 s): PSS {:>5.1} MiB, RSS {:>5.1} MiB   (PSS at first frame {:>5.1} MiB)",
        ms(first_frame),
        ms(*frames.iter().min().expect("runs")),
        ms(*frames.iter().max().expect("runs")),
        mib(pss_settled),
        mib(rss_settled),
        mib(pss_first),
    );
    (first_frame, pss_settled)
}

fn main() {
    if std::env::args().any(|a| a == "--bare-window") {
        bare_window();
    }
    let shipped = shipped_kiosk();
    let xvfb = Xvfb::start();
    let (conn, screen) = x11rb::connect(Some(&xvfb.display)).expect("connect to Xvfb");
    let root = conn.setup().roots[screen].root;

    // A central for the kiosk to sync with, as in service (in this process, not the kiosk's).
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let central = runtime
        .block_on(balcao_central::LoopbackCentral::start(&balcao_central::CentralOptions::new(dir.path().join("central.db"))))
        .expect("central");
    let ca = dir.path().join("central-ca.pem");
    std::fs::write(&ca, &central.ca_pem).expect("ca");
    let identity = dir.path().join("kiosk-identity.pem");
    std::fs::write(
        &identity,
        central
            .kiosk_identity(
                &balcao_kiosk::config::KioskConfig::default().kiosk.id,
                &balcao_kiosk::config::KioskConfig::default().kiosk.centre_id,
            )
            .expect("identity"),
    )
    .expect("identity");

    let kiosk = |run: usize| {
        let data = dir.path().join(format!("kiosk-{run}"));
        let config = dir.path().join(format!("kiosk-{run}.toml"));
        std::fs::write(
            &config,
            format!(
                "[central]\nurl = \"{}\"\nca_file = \"{}\"\nidentity_file = \"{}\"\n[store]\ndata_dir = \"{}\"\n[display]\nfullscreen = false\nscale = 1.0\n[logging]\nlevel = \"warn\"\n",
                central.url,
                ca.display(),
                identity.display(),
                data.display()
            ),
        )
        .expect("config");
        let mut command = Command::new(&shipped);
        command.arg("--config").arg(config).env("DISPLAY", &xvfb.display).env_remove("SLINT_SCALE_FACTOR");
        command
    };
    let bare = || {
        let mut command = Command::new(std::env::current_exe().expect("self"));
        command.arg("--bare-window").env("DISPLAY", &xvfb.display).env_remove("SLINT_SCALE_FACTOR");
        command
    };

    // A first, unmeasured run of each warms the page cache, as on a kiosk that has booted.
    measure(bare(), &conn, root);
    measure(kiosk(0), &conn, root);
    let (mut bares, mut kiosks) = (Vec::new(), Vec::new());
    for run in 1..=RUNS {
        bares.push(measure(bare(), &conn, root));
        kiosks.push(measure(kiosk(run), &conn, root));
    }
    println!("start-up to first frame at 1080x1920, software renderer, Xvfb, release builds; median of {RUNS} runs, alternating");
    let (bare_frame, bare_pss) = report("bare Slint window", &bares);
    let (kiosk_frame, kiosk_pss) = report("Balcão kiosk (shipped)", &kiosks);
    let frame_ratio = kiosk_frame.as_secs_f64() / bare_frame.as_secs_f64();
    let pss_ratio = kiosk_pss as f64 / bare_pss as f64;
    let verdict = |met: bool| if met { "met" } else { "NOT met" };
    println!("  first frame {frame_ratio:.2}x the bare window's (goal <= 1.10): {}", verdict(frame_ratio <= 1.10));
    println!("  settled PSS {pss_ratio:.2}x the bare window's (goal <= 1.50): {}", verdict(pss_ratio <= 1.50));
    println!("  settled PSS {:.1} MiB (earlier goal <= 40 MiB): {}", kiosk_pss as f64 / 1024.0, verdict(kiosk_pss <= 40 * 1024));
    runtime.block_on(central.stop()).expect("central stops");
}
