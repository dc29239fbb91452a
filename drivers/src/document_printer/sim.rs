//! A virtual A4 printer on loopback that speaks IPP over HTTP, as an IPP Everywhere printer
//! does, so the kiosk's demo and tests print certificates through the real IPP driver.
//!
//! It answers `Get-Printer-Attributes`, `Print-Job`, `Get-Job-Attributes`, `Cancel-Job` and
//! `Validate-Job`. A job prints for `time_per_sheet` per sheet (its pages times its copies),
//! then completes and its PDF is spooled byte for byte. Faults behave as on a printer: paper
//! running out or a jam during a job stops the printer (`printer-state` stopped, with
//! `media-empty-error` / `media-jam-error`) and holds the job in `processing-stopped` until
//! someone cancels it; a door open or an empty tray before a job refuses nothing but stops
//! the printer, so the job waits. Switched off, it answers every request with HTTP 503.
//!
//! The HTTP layer is `tiny_http`; the IPP messages are parsed and built with the `ipp` crate.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ::ipp::model::{DelimiterTag, IppVersion, JobState, Operation, PrinterState, StatusCode};
use ::ipp::parser::IppParser;
use ::ipp::prelude::{IppAttribute, IppRequestResponse, IppValue};
use ::ipp::reader::IppReader;

/// Faults the virtual printer can be given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SimFault {
    #[default]
    None,
    MediaEmpty,
    MediaJam,
    DoorOpen,
    /// Switched off: every request is refused.
    Offline,
    /// The next job jams halfway; the printer then stays jammed until the fault is cleared.
    JamDuringNextJob,
}

#[derive(Debug)]
struct Job {
    name: String,
    pdf: Vec<u8>,
    sheets: u32,
    /// When printing started: it ends `sheets × time_per_sheet` later.
    started: Instant,
    state: JobState,
    /// Sheets out of the printer so far.
    done: u32,
}

#[derive(Debug, Default)]
struct Knobs {
    fault: SimFault,
    sheets_left: Option<u32>,
    completed: Vec<PathBuf>,
    jobs: BTreeMap<i32, Job>,
    next_job: i32,
}

/// The knobs of a virtual A4 printer; clones control the same printer.
#[derive(Clone, Debug, Default)]
pub struct SimDocumentControl(Arc<Mutex<Knobs>>);

impl SimDocumentControl {
    fn knobs(&self) -> MutexGuard<'_, Knobs> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set_fault(&self, fault: SimFault) {
        self.knobs().fault = fault;
    }

    /// Sheets left in the tray; `None` is a tray that never empties.
    pub fn set_sheets_left(&self, sheets: Option<u32>) {
        self.knobs().sheets_left = sheets;
    }

    /// The spool files of completed jobs, oldest first.
    pub fn completed(&self) -> Vec<PathBuf> {
        self.knobs().completed.clone()
    }
}

/// A virtual A4 printer listening on a loopback port; it stops when dropped.
pub struct VirtualA4Printer {
    control: SimDocumentControl,
    address: SocketAddr,
    server: Arc<tiny_http::Server>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for VirtualA4Printer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualA4Printer").field("address", &self.address).finish_non_exhaustive()
    }
}

/// The largest request the printer takes (a certificate is a few hundred KiB).
const MAX_REQUEST: u64 = 32 << 20;

/// Where a client finds the printer on its address (the IPP Everywhere convention).
const RESOURCE: &str = "/ipp/print";

impl VirtualA4Printer {
    /// Listens on `address` (use port 0 on 127.0.0.1); completed jobs are spooled under
    /// `spool` as `job-NNNN.pdf`.
    pub fn listen(address: SocketAddr, spool: &Path, time_per_sheet: Duration) -> std::io::Result<Self> {
        let server = Arc::new(tiny_http::Server::http(address).map_err(std::io::Error::other)?);
        let address = server.server_addr().to_ip().ok_or_else(|| std::io::Error::other("the virtual A4 printer has no IP address"))?;
        let control = SimDocumentControl::default();
        control.knobs().next_job = 1;
        let printer =
            Printer { control: control.clone(), spool: spool.to_path_buf(), time_per_sheet, uri: format!("ipp://{address}{RESOURCE}") };
        let thread = {
            let server = server.clone();
            std::thread::Builder::new().name("virtual-a4-ipp".into()).spawn(move || {
                for request in server.incoming_requests() {
                    printer.serve(request);
                }
            })?
        };
        Ok(Self { control, address, server, thread: Some(thread) })
    }

    /// The printer's IPP URI, for the driver.
    pub fn uri(&self) -> String {
        format!("ipp://{}{RESOURCE}", self.address)
    }

    pub fn control(&self) -> SimDocumentControl {
        self.control.clone()
    }
}

impl Drop for VirtualA4Printer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The printer's mind; requests are served one at a time.
struct Printer {
    control: SimDocumentControl,
    spool: PathBuf,
    time_per_sheet: Duration,
    uri: String,
}

/// Sheets a PDF needs: one per page object.
fn page_count(pdf: &[u8]) -> u32 {
    let count = |n: &[u8]| pdf.windows(n.len()).enumerate().filter(|(i, w)| *w == n && pdf.get(i + n.len()) != Some(&b's')).count();
    (count(b"/Type /Page") + count(b"/Type/Page")).max(1) as u32
}

/// An attribute by name; the printer only names well-formed ones.
fn attribute(name: &str, value: IppValue) -> IppAttribute {
    IppAttribute::with_name(name, value).expect("attribute names here are short keywords")
}

/// An IPP keyword value; the printer only builds well-formed ones.
fn keyword(word: &str) -> IppValue {
    IppValue::new_keyword(word).unwrap_or(IppValue::NoValue)
}

fn keywords(words: &[&str]) -> IppValue {
    match words {
        [] => keyword("none"),
        [one] => keyword(one),
        many => IppValue::Array(many.iter().map(|w| keyword(w)).collect()),
    }
}

impl Printer {
    fn serve(&self, mut request: tiny_http::Request) {
        if self.control.knobs().fault == SimFault::Offline {
            let _ = request.respond(tiny_http::Response::empty(503));
            return;
        }
        if request.method() != &tiny_http::Method::Post {
            let _ = request.respond(tiny_http::Response::empty(405));
            return;
        }
        // A printer has a bounded buffer: a request bigger than a certificate ever is, is refused.
        let mut body = Vec::new();
        let read = std::io::Read::read_to_end(&mut std::io::Read::take(request.as_reader(), MAX_REQUEST + 1), &mut body);
        if read.is_err() || body.len() as u64 > MAX_REQUEST {
            let _ = request.respond(tiny_http::Response::empty(413));
            return;
        }
        let parsed = IppParser::new(IppReader::new(std::io::Cursor::new(body))).parse();
        let answer = match parsed {
            Ok(mut ipp) => {
                let mut document = Vec::new();
                let read = std::io::Read::read_to_end(ipp.payload_mut(), &mut document);
                match read {
                    Ok(_) => self.answer(&ipp, document),
                    Err(_) => self.status_only(ipp.header().version, StatusCode::ClientErrorBadRequest, ipp.header().request_id),
                }
            }
            Err(_) => {
                let _ = request.respond(tiny_http::Response::empty(400));
                return;
            }
        };
        let bytes = answer.to_bytes().to_vec();
        let header = tiny_http::Header::from_bytes(&b"Content-Type"[..], &b"application/ipp"[..]).expect("a valid header");
        let _ = request.respond(tiny_http::Response::from_data(bytes).with_header(header));
    }

    fn status_only(&self, version: IppVersion, status: StatusCode, id: i32) -> IppRequestResponse {
        // It only fails on a charset or language it is not given here.
        IppRequestResponse::new_response(version, status, id).expect("a response with the constant charset builds")
    }

    fn answer(&self, request: &IppRequestResponse, document: Vec<u8>) -> IppRequestResponse {
        let header = request.header();
        let (version, id) = (header.version, header.request_id);
        let operation = header.operation_or_status;
        let operations = request.attributes().first_of(DelimiterTag::OperationAttributes);
        let job_id = operations.and_then(|g| g.get("job-id")).and_then(|a| match a.value() {
            IppValue::Integer(i) => Some(*i),
            _ => None,
        });
        let mut knobs = self.control.knobs();
        self.settle(&mut knobs);
        let mut response;
        if operation == Operation::GetPrinterAttributes as i16 {
            response = self.status_only(version, StatusCode::SuccessfulOk, id);
            for attribute in self.printer_attributes(&knobs) {
                response.attributes_mut().add(DelimiterTag::PrinterAttributes, attribute);
            }
        } else if operation == Operation::PrintJob as i16 || operation == Operation::ValidateJob as i16 {
            let format = operations.and_then(|g| g.get("document-format")).map(|a| a.value().to_string());
            if format.as_deref().is_some_and(|f| f != "application/pdf")
                || (operation == Operation::PrintJob as i16 && !document.starts_with(b"%PDF-"))
            {
                return self.status_only(version, StatusCode::ClientErrorDocumentFormatNotSupported, id);
            }
            response = self.status_only(version, StatusCode::SuccessfulOk, id);
            if operation == Operation::PrintJob as i16 {
                let copies = request
                    .attributes()
                    .groups()
                    .iter()
                    .find_map(|g| g.get("copies"))
                    .and_then(|a| match a.value() {
                        IppValue::Integer(n) => u32::try_from(*n).ok(),
                        _ => None,
                    })
                    .unwrap_or(1)
                    .clamp(1, 99);
                let name = operations.and_then(|g| g.get("job-name")).map(|a| a.value().to_string()).unwrap_or_default();
                let job_id = knobs.next_job;
                knobs.next_job += 1;
                let sheets = page_count(&document) * copies;
                knobs
                    .jobs
                    .insert(job_id, Job { name, pdf: document, sheets, started: Instant::now(), state: JobState::Processing, done: 0 });
                self.settle(&mut knobs);
                for attribute in self.job_attributes(job_id, &knobs.jobs[&job_id]) {
                    response.attributes_mut().add(DelimiterTag::JobAttributes, attribute);
                }
            }
        } else if operation == Operation::GetJobAttributes as i16 {
            let Some(job) = job_id.and_then(|j| knobs.jobs.get(&j)) else {
                return self.status_only(version, StatusCode::ClientErrorNotFound, id);
            };
            response = self.status_only(version, StatusCode::SuccessfulOk, id);
            for attribute in self.job_attributes(job_id.unwrap_or_default(), job) {
                response.attributes_mut().add(DelimiterTag::JobAttributes, attribute);
            }
        } else if operation == Operation::CancelJob as i16 {
            let Some(job) = job_id.and_then(|j| knobs.jobs.get_mut(&j)) else {
                return self.status_only(version, StatusCode::ClientErrorNotFound, id);
            };
            if matches!(job.state, JobState::Completed | JobState::Canceled | JobState::Aborted) {
                return self.status_only(version, StatusCode::ClientErrorNotPossible, id);
            }
            job.state = JobState::Canceled;
            tracing::info!(job = job_id.unwrap_or_default(), name = %job.name, "virtual A4 printer: job cancelled");
            response = self.status_only(version, StatusCode::SuccessfulOk, id);
        } else {
            return self.status_only(version, StatusCode::ServerErrorOperationNotSupported, id);
        }
        response
    }

    /// Moves every job in the printer along to now: sheets come out while nothing is wrong;
    /// the tray running out or a jam stops the printer with the job held.
    fn settle(&self, knobs: &mut Knobs) {
        let now = Instant::now();
        let per_sheet = self.time_per_sheet;
        let ids: Vec<i32> = knobs
            .jobs
            .iter()
            .filter(|(_, j)| matches!(j.state, JobState::Processing | JobState::ProcessingStopped))
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            let stopped =
                matches!(knobs.fault, SimFault::MediaEmpty | SimFault::MediaJam | SimFault::DoorOpen) || knobs.sheets_left == Some(0);
            let Some(job) = knobs.jobs.get_mut(&id) else { continue };
            if stopped {
                job.state = JobState::ProcessingStopped;
                continue;
            }
            job.state = JobState::Processing;
            let due = if per_sheet.is_zero() {
                job.sheets
            } else {
                (now.duration_since(job.started).as_nanos() / per_sheet.as_nanos()).min(u128::from(job.sheets)) as u32
            };
            if knobs.fault == SimFault::JamDuringNextJob && due * 2 >= job.sheets.max(1) {
                knobs.fault = SimFault::MediaJam;
                job.state = JobState::ProcessingStopped;
                continue;
            }
            while job.done < due {
                match knobs.sheets_left.as_mut() {
                    Some(0) => break,
                    Some(left) => *left -= 1,
                    None => {}
                }
                job.done += 1;
            }
            if job.done < job.sheets {
                if knobs.sheets_left == Some(0) {
                    job.state = JobState::ProcessingStopped;
                }
                continue;
            }
            job.state = JobState::Completed;
            let path = self.spool.join(format!("job-{id:04}.pdf"));
            match std::fs::create_dir_all(&self.spool).and_then(|()| std::fs::write(&path, &job.pdf)) {
                Ok(()) => knobs.completed.push(path),
                Err(e) => tracing::warn!(error = %e, path = %path.display(), "the virtual A4 printer could not spool a job"),
            }
        }
    }

    fn printer_attributes(&self, knobs: &Knobs) -> Vec<IppAttribute> {
        let mut reasons = Vec::new();
        match knobs.fault {
            SimFault::MediaEmpty => reasons.push("media-empty-error"),
            SimFault::MediaJam => reasons.push("media-jam-error"),
            SimFault::DoorOpen => reasons.push("door-open-error"),
            SimFault::None | SimFault::JamDuringNextJob | SimFault::Offline => {}
        }
        match knobs.sheets_left {
            Some(0) if !reasons.contains(&"media-empty-error") => reasons.push("media-empty-error"),
            Some(n) if (1..20).contains(&n) => reasons.push("media-low-warning"),
            _ => {}
        }
        let busy = knobs.jobs.values().any(|j| j.state == JobState::Processing);
        let state = if reasons.iter().any(|r| r.ends_with("-error")) {
            PrinterState::Stopped
        } else if busy {
            PrinterState::Processing
        } else {
            PrinterState::Idle
        };
        let text = |s: &str| IppValue::new_text_without_language(s).unwrap_or(IppValue::NoValue);
        vec![
            attribute("printer-uri-supported", IppValue::new_uri(self.uri.as_str()).unwrap_or(IppValue::NoValue)),
            attribute("printer-name", IppValue::new_name_without_language("Balcao virtual A4").unwrap_or(IppValue::NoValue)),
            attribute("printer-make-and-model", text("Balcao virtual IPP Everywhere A4 printer")),
            attribute("printer-state", IppValue::Enum(state as i32)),
            attribute("printer-state-reasons", keywords(&reasons)),
            attribute("printer-is-accepting-jobs", IppValue::Boolean(true)),
            attribute("document-format-supported", IppValue::new_mime_media_type("application/pdf").unwrap_or(IppValue::NoValue)),
            attribute(
                "operations-supported",
                IppValue::Array(
                    [
                        Operation::PrintJob,
                        Operation::ValidateJob,
                        Operation::CancelJob,
                        Operation::GetJobAttributes,
                        Operation::GetPrinterAttributes,
                    ]
                    .into_iter()
                    .map(|o| IppValue::Enum(o as i32))
                    .collect(),
                ),
            ),
        ]
    }

    fn job_attributes(&self, id: i32, job: &Job) -> Vec<IppAttribute> {
        let reasons: &[&str] = match job.state {
            JobState::Completed => &["job-completed-successfully"],
            JobState::Canceled => &["job-canceled-by-user"],
            JobState::ProcessingStopped => &["printer-stopped"],
            JobState::Processing => &["job-printing"],
            _ => &[],
        };
        vec![
            attribute("job-id", IppValue::Integer(id)),
            attribute("job-uri", IppValue::new_uri(format!("{}/{id}", self.uri)).unwrap_or(IppValue::NoValue)),
            attribute("job-state", IppValue::Enum(job.state as i32)),
            attribute("job-state-reasons", keywords(reasons)),
            attribute("job-media-sheets-completed", IppValue::Integer(i32::try_from(job.done).unwrap_or(i32::MAX))),
        ]
    }
}
