//! What the driver tests share: a receipt with Chinese, a barcode and a QR code, and ways to
//! read a printout back (the ESC/POS tests, whatever link they print over); running a test in
//! a private namespace (the tests that start network daemons).

// Each test file uses part of it.
#![allow(dead_code)]

pub mod vicc;
pub mod zvt;

use std::path::Path;
use std::time::{Duration, Instant};

use balcao_drivers::receipt_printer::escpos::EscPosPrinter;
use balcao_drivers::receipt_printer::{Receipt, ReceiptPrinter, ReceiptPrinterStatus};

pub const PAYLOAD: &str = "https://status.balcao.example/a/SJ01-261123-0042";

pub fn receipt() -> Receipt {
    Receipt::new()
        .title("Recibo do pedido")
        .heading("申請收據")
        .rule()
        .row("Pedido", "SJ01-261123-0042")
        .bold_row("Taxa paga", "MOP 120.00")
        .text("Certidão de Registo Criminal")
        .barcode("SJ01-261123-0042")
        .qr(PAYLOAD)
}

/// Asks for the status until the printer is ready, failing with `what` after `within`.
pub fn wait_until_ready(printer: &mut EscPosPrinter, within: Duration, what: &str) {
    let deadline = Instant::now() + within;
    while printer.status().expect("status") != ReceiptPrinterStatus::Ready {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn read_png(path: &Path) -> (u32, u32, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).expect("png file")));
    let mut reader = decoder.read_info().expect("png header");
    let mut pixels = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut pixels).expect("png data");
    (info.width, info.height, pixels)
}

/// What a barcode reader takes off a printout (see `sim::read_codes`).
pub fn codes_read_by_zbar(path: &Path) -> Vec<String> {
    balcao_drivers::receipt_printer::escpos::sim::read_codes(path).expect("zbarimg reads the printout")
}

pub fn qr_codes_on(path: &Path) -> Vec<String> {
    let (w, h, pixels) = read_png(path);
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(w as usize, h as usize, |x, y| pixels[y * w as usize + x]);
    image.detect_grids().into_iter().filter_map(|g| g.decode().ok().map(|(_, text)| text)).collect()
}

const INSIDE: &str = "BALCAO_TEST_IN_PRIVATE_NAMESPACE";

/// Whether this process runs as root.
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .is_ok_and(|status| status.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0")))
}

/// This binary again, with `args`, inside a private network, mount and PID namespace
/// (`unshare`), marked as inside. Nothing started there listens outside it, and when the run
/// ends the namespace's first process exits, so the kernel stops every daemon it started. An
/// ordinary user gets a user namespace too, in which it is root (`--map-root-user`): no
/// privilege is needed beyond the kernel's unprivileged user namespaces (on by default on
/// Debian 12). Its subordinate ids (`/etc/subuid`, which Debian gives each new user) are
/// mapped as well (`--map-auto`, through `newuidmap` from the `uidmap` package), so daemons
/// that hand files to their own users (avahi) work there too.
fn in_private_namespace(args: &[&str]) -> std::process::Command {
    let exe = std::env::current_exe().expect("this binary's path");
    let mut command = std::process::Command::new("unshare");
    if !is_root() {
        let user = std::process::Command::new("id")
            .arg("-un")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        let subordinate = std::fs::read_to_string("/etc/subuid").is_ok_and(|ids| ids.lines().any(|l| l.split(':').next() == Some(&user)));
        let newuidmap = std::path::Path::new("/usr/bin/newuidmap").exists();
        if subordinate && newuidmap {
            command.arg("--map-auto");
        }
        command.args(["--user", "--map-root-user"]);
    }
    command
        .args(["--net", "--mount", "--pid", "--fork", "--propagation", "private"])
        .arg(exe)
        .args(args)
        .env(INSIDE, "1")
        .stdin(std::process::Stdio::null());
    command
}

/// Runs the named test again inside a private namespace and checks it passed there. Returns
/// `true` when the caller is already inside and should do the work.
pub fn inside_private_namespace(test: &str) -> bool {
    if std::env::var_os(INSIDE).is_some() {
        return true;
    }
    let output = in_private_namespace(&["--exact", test, "--nocapture", "--test-threads=1"])
        .output()
        .expect("unshare (util-linux) runs; tools/setup installs it");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{test} failed inside its namespace (an ordinary user needs unprivileged user namespaces, and for the A4 printer's tests subordinate ids in /etc/subuid and /etc/subgid with newuidmap from the uidmap package):\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("1 passed"), "{test} did not run inside its namespace:\n{stdout}\n{stderr}");
    false
}

/// For a benchmark binary (no test harness): runs it again inside a private namespace, its
/// output shown, and returns `true` when the caller is that run.
pub fn inside_private_namespace_bench() -> bool {
    if std::env::var_os(INSIDE).is_some() {
        return true;
    }
    let status = in_private_namespace(&[]).status().expect("unshare (util-linux) runs; tools/setup installs it; the benchmark needs root");
    assert!(status.success(), "the benchmark failed inside its namespace: {status}");
    false
}

pub fn run(program: &str, args: &[&str]) {
    let status = std::process::Command::new(program).args(args).status().unwrap_or_else(|e| panic!("{program} does not run: {e}"));
    assert!(status.success(), "{program} {args:?} failed: {status}");
}
