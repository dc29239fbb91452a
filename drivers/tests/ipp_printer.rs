//! The IPP driver against CUPS's own IPP Everywhere printer, `ippeveprinter` (cups-ipp-utils).
//!
//! ippeveprinter will not start without DNS-SD, so each test re-runs itself inside a private
//! network, mount and PID namespace (`unshare`, as root) that has its own loopback, its own
//! D-Bus system bus and avahi-daemon on a private `/run`. Nothing is announced on the real
//! network, nothing listens outside the namespace, and when the test ends the namespace's first
//! process exits, so the kernel stops every daemon it started.

use std::io::Write as _;
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use balcao_drivers::document_printer::ipp::{IppDocumentPrinter, IppTimeouts};
use balcao_drivers::document_printer::{DocumentPrinter, DocumentPrinterStatus, ErrorKind, PrintJob};
use common::{inside_private_namespace, run};

mod common;

/// For a test that needs ippeveprinter: `None` outside the namespace (the test has been run
/// inside it and passed); inside, the network services are up and a scratch folder is made.
fn ippeveprinter_namespace(test: &str) -> Option<tempfile::TempDir> {
    if !inside_private_namespace(test) {
        return None;
    }
    network_services();
    Some(tempfile::tempdir().expect("tempdir"))
}

/// Loopback, a system bus and avahi: what ippeveprinter needs before it will listen.
fn network_services() {
    run("mount", &["-t", "tmpfs", "tmpfs", "/run"]);
    std::fs::create_dir_all("/run/dbus").expect("/run/dbus");
    std::fs::create_dir_all("/run/avahi-daemon").expect("/run/avahi-daemon");
    run("ip", &["link", "set", "lo", "up"]);
    run("dbus-daemon", &["--system", "--fork"]);
    run("avahi-daemon", &["--daemonize", "--no-drop-root", "--no-chroot"]);
}

struct Printer {
    child: Child,
    spool: PathBuf,
    uri: String,
}

impl Drop for Printer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts ippeveprinter on `port`, keeping spooled files, with `command` as its print command
/// (none: it accepts the document and completes the job).
fn ippeveprinter(dir: &Path, port: u16, command: Option<&Path>) -> Printer {
    let spool = dir.join(format!("spool-{port}"));
    std::fs::create_dir_all(&spool).expect("spool folder");
    let mut cmd = Command::new("ippeveprinter");
    cmd.args(["-p", &port.to_string(), "-n", "localhost", "-k", "-f", "application/pdf", "-d"]).arg(&spool);
    if let Some(command) = command {
        cmd.arg("-c").arg(command);
    }
    let log = std::fs::File::create(dir.join(format!("ippeveprinter-{port}.log"))).expect("log file");
    let child = cmd
        .arg(format!("Balcao test A4 {port}"))
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("ippeveprinter runs; tools/setup installs cups-ipp-utils");
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "ippeveprinter did not listen on {port} within 10 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    Printer { child, spool, uri: format!("ipp://127.0.0.1:{port}/ipp/print") }
}

fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    let mut file = std::fs::File::create(&path).expect("script");
    writeln!(file, "#!/bin/sh\n{body}").expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

fn timeouts(job: Duration) -> IppTimeouts {
    IppTimeouts { request: Duration::from_secs(5), job, poll: Duration::from_millis(100) }
}

/// A small but real two-page PDF (with binary bytes, as real PDFs have).
fn certificate_pdf() -> Vec<u8> {
    let mut pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    pdf.extend_from_slice(b"1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n");
    pdf.extend_from_slice(b"2 0 obj << /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >> endobj\n");
    pdf.extend_from_slice(b"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >> endobj\n");
    pdf.extend_from_slice(b"4 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >> endobj\n");
    pdf.extend_from_slice(b"trailer << /Root 1 0 R >>\n%%EOF\n");
    pdf
}

fn job(name: &str) -> PrintJob {
    PrintJob { name: name.to_owned(), pdf: certificate_pdf(), copies: 1 }
}

fn spooled_pdfs(printer: &Printer) -> Vec<Vec<u8>> {
    let mut files: Vec<_> = std::fs::read_dir(&printer.spool)
        .expect("spool folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "pdf"))
        .collect();
    files.sort();
    files.iter().map(|p| std::fs::read(p).expect("spooled file")).collect()
}

#[test]
fn a_pdf_prints_and_the_printer_spools_exactly_its_bytes() {
    let Some(dir) = ippeveprinter_namespace("a_pdf_prints_and_the_printer_spools_exactly_its_bytes") else { return };
    let printer = ippeveprinter(dir.path(), 8631, None);
    let mut driver = IppDocumentPrinter::new(&printer.uri, timeouts(Duration::from_secs(30))).expect("driver");

    assert_eq!(driver.status().expect("status"), DocumentPrinterStatus::Ready);
    let done = driver.print(&job("certificate-0001")).expect("the job completes");
    assert_eq!(done.job_id, 1);
    let second = driver.print(&job("certificate-0002")).expect("a second job completes");
    assert_eq!(second.job_id, 2);
    assert_eq!(spooled_pdfs(&printer), vec![certificate_pdf(), certificate_pdf()], "the spool holds the PDFs byte for byte");

    // Not a PDF: refused before anything is sent.
    let not_pdf = PrintJob { name: "x".to_owned(), pdf: b"<html>".to_vec(), copies: 1 };
    assert_eq!(driver.print(&not_pdf).expect_err("not a PDF").kind(), ErrorKind::DocumentRejected);
    assert_eq!(spooled_pdfs(&printer).len(), 2);
}

#[test]
fn a_printer_that_runs_out_of_paper_fails_the_job_as_media_empty() {
    let Some(dir) = ippeveprinter_namespace("a_printer_that_runs_out_of_paper_fails_the_job_as_media_empty") else { return };
    // The print command is how ippeveprinter learns about the "hardware": it reports the tray
    // empty and fails, as a real printer's backend does.
    let empty = script(dir.path(), "tray-empty.sh", "echo 'STATE: +media-empty-error' >&2\necho 'INFO: Tray 1 empty' >&2\nexit 1");
    let printer = ippeveprinter(dir.path(), 8632, Some(&empty));
    let mut driver = IppDocumentPrinter::new(&printer.uri, timeouts(Duration::from_secs(30))).expect("driver");

    let e = driver.print(&job("certificate-0003")).expect_err("the tray is empty");
    assert_eq!(e.kind(), ErrorKind::MediaEmpty, "{e}");
    assert!(e.message().contains("load paper") && e.message().contains("media-empty"), "{e}");
}

#[test]
fn a_job_that_does_not_complete_in_time_is_cancelled_at_the_printer() {
    let Some(dir) = ippeveprinter_namespace("a_job_that_does_not_complete_in_time_is_cancelled_at_the_printer") else { return };
    // A print that takes 5 s and would then complete, against a 2 s job timeout.
    let stuck = script(dir.path(), "slow.sh", "sleep 5");
    let printer = ippeveprinter(dir.path(), 8633, Some(&stuck));
    let mut driver = IppDocumentPrinter::new(&printer.uri, timeouts(Duration::from_secs(2))).expect("driver");

    let started = Instant::now();
    let e = driver.print(&job("certificate-0004")).expect_err("the job never completes");
    assert_eq!(e.kind(), ErrorKind::NoAnswer, "{e}");
    assert!(e.message().contains("was cancelled"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(10), "bounded by the job timeout, took {:?}", started.elapsed());

    // The printer agrees: the job goes to "canceled" (after its stop point) and never completes.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let jobs = ipptool(&printer.uri, "get-completed-jobs.test");
        if jobs.contains("job-state (enum) = canceled") {
            break;
        }
        assert!(!jobs.contains("job-state (enum) = completed"), "the job completed after all: {jobs}");
        assert!(Instant::now() < deadline, "the job was not canceled at the printer within 10 s: {jobs}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn ipptool(uri: &str, test: &str) -> String {
    let output = Command::new("ipptool").args(["-tv", uri, test]).output().expect("ipptool runs; tools/setup installs cups-ipp-utils");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn a_printer_that_is_not_there_is_offline_and_a_job_is_no_answer() {
    // No namespace needed: nothing listens on this port of a fresh loopback-only namespace,
    // but to be sure of that without one, use a port the test itself holds closed.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let mut driver =
        IppDocumentPrinter::new(&format!("ipp://127.0.0.1:{port}/ipp/print"), timeouts(Duration::from_secs(2))).expect("driver");
    assert_eq!(driver.status().expect("status"), DocumentPrinterStatus::Offline);
    let e = driver.print(&job("certificate-0005")).expect_err("nobody there");
    assert_eq!(e.kind(), ErrorKind::NoAnswer, "{e}");
    assert!(e.message().contains(&port.to_string()), "the message names the printer: {e}");
}
