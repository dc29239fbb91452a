//! The A4 printer over IPP (RFC 8011), to CUPS or to any IPP Everywhere printer, with the
//! `ipp` crate's messages over HTTP (`ureq`).
//!
//! The driver sends each request itself, rather than through the crate's client, so that it
//! sees the printer's answer before the crate's parser does: the answer is bounded in size and
//! checked to be well-formed IPP ([`well_formed`]), because that parser panics on some
//! malformed values (a text-with-language whose lengths run past the value), and nothing a
//! device sends may reach code that can panic.
//!
//! A job is one `Print-Job` with the PDF, then `Get-Job-Attributes` every poll interval until
//! the job reaches an end state. "Printed" is `job-state = completed`. A job that the printer
//! aborts or cancels fails with the kind its reasons give (`job-state-reasons` and
//! `printer-state-reasons`: media-empty, media-jam, door-open …). A job that stops on a fault
//! (paper out, jam, door open while it is pending or printing) or that has not completed when
//! the job timeout runs out is cancelled at the printer before `print` returns, so a
//! certificate never comes out later at an unattended kiosk.

use std::time::{Duration, Instant};

use ::ipp::attribute::IppAttributeName;
use ::ipp::operation::IppOperation;
use ::ipp::prelude::*;

use super::{DocumentPrinter, DocumentPrinterStatus, Error, ErrorKind, JobCompleted, PrintJob, advice, refusal};

/// How long the driver waits for each thing. Every wait is bounded by one of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IppTimeouts {
    /// One IPP request and its answer (a `Print-Job` includes sending the whole PDF).
    pub request: Duration,
    /// From submitting a job to its completion.
    pub job: Duration,
    /// Between two `Get-Job-Attributes` while a job is under way.
    pub poll: Duration,
}

impl Default for IppTimeouts {
    fn default() -> Self {
        Self { request: Duration::from_secs(10), job: Duration::from_secs(120), poll: Duration::from_millis(500) }
    }
}

/// The name the kiosk gives the printer as `requesting-user-name`: never the citizen's.
const USER_NAME: &str = "balcao-kiosk";

/// An A4 printer reached over IPP.
pub struct IppDocumentPrinter {
    uri: Uri,
    /// The printer's URI as HTTP (`ipp://` is HTTP on port 631 unless it names one).
    url: String,
    agent: ureq::Agent,
    timeouts: IppTimeouts,
}

impl std::fmt::Debug for IppDocumentPrinter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IppDocumentPrinter").field("uri", &self.uri.to_string()).field("timeouts", &self.timeouts).finish()
    }
}

/// What a printer says about itself, as far as the kiosk cares.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct PrinterReport {
    /// `printer-state`: 3 idle, 4 processing, 5 stopped.
    state: i32,
    reasons: Vec<String>,
}

/// The kinds of trouble an IPP reason keyword names, by its RFC 8011 / PWG 5100.9 stem.
fn reason_kind(stem: &str) -> Option<ErrorKind> {
    match stem {
        "media-empty" | "media-needed" | "input-tray-missing" => Some(ErrorKind::MediaEmpty),
        "media-jam" | "input-tray-media-jam" | "output-tray-media-jam" | "marker-jam" => Some(ErrorKind::MediaJam),
        "door-open" | "cover-open" | "interlock-open" => Some(ErrorKind::DoorOpen),
        _ => None,
    }
}

/// Splits a reason keyword into its stem and severity (`-report`, `-warning`, `-error`; a
/// keyword without a suffix is an error, RFC 8011 §5.4.12).
fn severity(reason: &str) -> (&str, &str) {
    for suffix in ["-report", "-warning", "-error"] {
        if let Some(stem) = reason.strip_suffix(suffix) {
            return (stem, &suffix[1..]);
        }
    }
    (reason, "error")
}

impl PrinterReport {
    fn status(&self) -> DocumentPrinterStatus {
        let mut low = false;
        let mut worst = None;
        for reason in &self.reasons {
            let (stem, severity) = severity(reason);
            match (severity, reason_kind(stem)) {
                ("error", Some(kind)) => worst = worst.or(Some(kind)),
                ("error", None) if matches!(stem, "offline" | "shutdown" | "paused" | "moving-to-paused" | "stopped") => {
                    worst = worst.or(Some(ErrorKind::NoAnswer))
                }
                ("warning", _) if stem.ends_with("-low") || stem == "media-empty" || stem == "media-needed" => low = true,
                _ => {}
            }
        }
        match worst {
            Some(ErrorKind::MediaEmpty) => DocumentPrinterStatus::MediaEmpty,
            Some(ErrorKind::MediaJam) => DocumentPrinterStatus::MediaJam,
            Some(ErrorKind::DoorOpen) => DocumentPrinterStatus::DoorOpen,
            Some(_) => DocumentPrinterStatus::Offline,
            // Stopped for a reason the kiosk has no name for: it will not print.
            None if self.state == PrinterState::Stopped as i32 => DocumentPrinterStatus::Offline,
            None if low => DocumentPrinterStatus::SuppliesLow,
            None => DocumentPrinterStatus::Ready,
        }
    }
}

/// The job's end state, or where it stands.
#[derive(Clone, Debug, PartialEq, Eq)]
struct JobReport {
    state: i32,
    reasons: Vec<String>,
    sheets: Option<u32>,
}

/// All keywords of an attribute, single-valued or a set.
fn keywords(group: &IppAttributeGroup, name: &str) -> Vec<String> {
    match group.get(name).map(IppAttribute::value) {
        Some(IppValue::Array(values)) => values.iter().map(ToString::to_string).collect(),
        Some(value) => vec![value.to_string()],
        None => Vec::new(),
    }
}

fn integer(group: &IppAttributeGroup, name: &str) -> Option<i32> {
    match group.get(name).map(IppAttribute::value) {
        Some(IppValue::Integer(i) | IppValue::Enum(i)) => Some(*i),
        _ => None,
    }
}

fn group(response: &IppRequestResponse, tag: DelimiterTag, what: &str) -> Result<IppAttributeGroup, Error> {
    response
        .attributes()
        .first_of(tag)
        .cloned()
        .ok_or_else(|| Error::new(ErrorKind::Protocol, format!("the A4 printer's answer to {what} has no {tag:?} group")))
}

fn no_answer(what: &str, uri: &Uri, e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Error {
    Error::new(ErrorKind::NoAnswer, format!("the A4 printer at {uri} did not answer {what}: check its power and network")).with_source(e)
}

impl IppDocumentPrinter {
    /// A printer at `uri` (`ipp://host:631/printers/name` for CUPS, `ipp://host/ipp/print` for
    /// an IPP Everywhere printer). Nothing is sent until the first call.
    pub fn new(uri: &str, timeouts: IppTimeouts) -> Result<Self, Error> {
        let uri: Uri = uri.parse().map_err(|e| Error::new(ErrorKind::Other, format!("{uri:?} is not a printer URI")).with_source(e))?;
        if uri.scheme_str() != Some("ipp") || uri.host().is_none() {
            return Err(Error::new(ErrorKind::Other, format!("{uri} is not an ipp://host/… URI")));
        }
        let port = uri.port_u16().unwrap_or(631);
        let url = format!("http://{}:{port}{}", uri.host().unwrap_or_default(), uri.path_and_query().map_or("/", |p| p.as_str()));
        let config = ureq::Agent::config_builder()
            .timeout_connect(Some(timeouts.request.min(Duration::from_secs(5))))
            .timeout_global(Some(timeouts.request))
            .http_status_as_error(false)
            .user_agent("balcao-kiosk")
            .build();
        Ok(Self { uri, url, agent: config.into(), timeouts })
    }

    /// Sends `request` and reads the answer: bounded, checked, then parsed.
    fn exchange(&self, request: IppRequestResponse, what: &str) -> Result<IppRequestResponse, Error> {
        use std::io::Read as _;
        let not_ipp = |detail: String| Error::new(ErrorKind::Protocol, format!("the A4 printer's answer to {what} is not IPP: {detail}"));
        let mut body = request.into_read();
        let response = self
            .agent
            .post(&self.url)
            .header("content-type", "application/ipp")
            .send(ureq::SendBody::from_reader(&mut body))
            .map_err(|e| no_answer(what, &self.uri, e))?;
        if response.status().is_server_error() {
            // 503 and the like: the printer (or its server) is not taking requests now.
            return Err(no_answer(what, &self.uri, format!("HTTP {}", response.status())));
        }
        if !response.status().is_success() {
            return Err(not_ipp(format!("HTTP {}", response.status())));
        }
        let mut bytes = Vec::new();
        response
            .into_body()
            .into_reader()
            .take(MAX_ANSWER as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| no_answer(what, &self.uri, e))?;
        if bytes.len() > MAX_ANSWER {
            return Err(not_ipp(format!("longer than {MAX_ANSWER} bytes")));
        }
        parse_answer(&bytes).map_err(not_ipp)
    }

    fn send(&self, request: IppRequestResponse, what: &str) -> Result<IppRequestResponse, Error> {
        let response = self.exchange(request, what)?;
        let status = response.header().status_code();
        if status.is_success() {
            return Ok(response);
        }
        let kind = match status {
            StatusCode::ClientErrorDocumentFormatNotSupported
            | StatusCode::ClientErrorDocumentFormatError
            | StatusCode::ClientErrorRequestEntityTooLong
            | StatusCode::ClientErrorAttributesOrValuesNotSupported => ErrorKind::DocumentRejected,
            StatusCode::ServerErrorServiceUnavailable | StatusCode::ServerErrorBusy | StatusCode::ServerErrorTemporaryError => {
                ErrorKind::NoAnswer
            }
            _ => ErrorKind::Other,
        };
        Err(Error::new(kind, format!("the A4 printer refused {what}: {status} (0x{:04x})", status as u16)))
    }

    fn printer_report(&self) -> Result<PrinterReport, Error> {
        let request = IppOperationBuilder::get_printer_attributes(self.uri.clone())
            .attributes(["printer-state", "printer-state-reasons"])
            .build()
            .map_err(|e| Error::new(ErrorKind::Other, "could not build Get-Printer-Attributes").with_source(e))?;
        let response = self.send(request.into_ipp_request(), "Get-Printer-Attributes")?;
        let printer = group(&response, DelimiterTag::PrinterAttributes, "Get-Printer-Attributes")?;
        let state = integer(&printer, "printer-state")
            .ok_or_else(|| Error::new(ErrorKind::Protocol, "the A4 printer did not report its printer-state"))?;
        Ok(PrinterReport { state, reasons: keywords(&printer, "printer-state-reasons").into_iter().filter(|r| r != "none").collect() })
    }

    fn submit(&self, job: &PrintJob) -> Result<i32, Error> {
        let request = IppOperationBuilder::print_job(self.uri.clone(), IppPayload::new(std::io::Cursor::new(job.pdf.clone())))
            .user_name(USER_NAME)
            .job_title(job.name.as_str())
            .document_format("application/pdf")
            .attribute(IppAttribute::new(IppAttributeName::COPIES, IppValue::Integer(i32::from(job.copies.max(1)))))
            .build()
            .map_err(|e| {
                Error::new(ErrorKind::DocumentRejected, format!("job {:?} cannot be put into a Print-Job", job.name)).with_source(e)
            })?;
        let response = self.send(request.into_ipp_request(), "Print-Job")?;
        let attributes = group(&response, DelimiterTag::JobAttributes, "Print-Job")?;
        integer(&attributes, "job-id").ok_or_else(|| Error::new(ErrorKind::Protocol, "the A4 printer accepted the job but gave no job-id"))
    }

    fn job_report(&self, job_id: i32) -> Result<JobReport, Error> {
        let request = IppOperationBuilder::get_job_attributes(self.uri.clone(), job_id)
            .user_name(USER_NAME)
            .build()
            .map_err(|e| Error::new(ErrorKind::Other, "could not build Get-Job-Attributes").with_source(e))?;
        let response = self.send(request.into_ipp_request(), "Get-Job-Attributes")?;
        let attributes = group(&response, DelimiterTag::JobAttributes, "Get-Job-Attributes")?;
        let state = integer(&attributes, "job-state")
            .ok_or_else(|| Error::new(ErrorKind::Protocol, format!("the A4 printer did not report the state of job {job_id}")))?;
        if !(JobState::Pending as i32..=JobState::Completed as i32).contains(&state) {
            return Err(Error::new(ErrorKind::Protocol, format!("the A4 printer reported job {job_id} in the unknown job-state {state}")));
        }
        let sheets = integer(&attributes, "job-media-sheets-completed")
            .or_else(|| integer(&attributes, "job-impressions-completed"))
            .and_then(|n| u32::try_from(n).ok());
        Ok(JobReport { state, reasons: keywords(&attributes, "job-state-reasons"), sheets })
    }

    /// Cancels a job the kiosk gave up on. Best effort: the caller's error says why it gave up,
    /// and a failed cancel is added to it.
    fn cancel(&self, job_id: i32, error: Error) -> Error {
        let cancelled = IppOperationBuilder::cancel_job(self.uri.clone(), job_id)
            .user_name(USER_NAME)
            .build()
            .map_err(|e| Error::new(ErrorKind::Other, "could not build Cancel-Job").with_source(e))
            .and_then(|request| self.send(request.into_ipp_request(), "Cancel-Job"));
        match cancelled {
            Ok(_) => Error::new(error.kind(), format!("{}; job {job_id} was cancelled", error.message())),
            Err(e) => {
                tracing::warn!(job_id, error = %e, "could not cancel an A4 job the kiosk gave up on");
                Error::new(
                    error.kind(),
                    format!("{}; cancelling job {job_id} failed too ({e}): check the printer's queue", error.message()),
                )
            }
        }
    }

    /// The error for a job that ended without completing, from its reasons and the printer's.
    fn failure(&self, job_id: i32, job: &JobReport) -> Error {
        let printer = self.printer_report().unwrap_or_default();
        let kind = job.reasons.iter().chain(&printer.reasons).find_map(|r| reason_kind(severity(r).0)).unwrap_or(ErrorKind::Other);
        let how = if job.state == JobState::Canceled as i32 { "was cancelled at the printer" } else { "was aborted by the printer" };
        let base = advice(kind).map(|a| format!(": {a}")).unwrap_or_default();
        Error::new(
            kind,
            format!("A4 job {job_id} {how}{base} (job reasons: {}; printer reasons: {})", list(&job.reasons), list(&printer.reasons)),
        )
    }
}

/// The longest answer the driver reads (an answer to the few attributes it asks for is a few
/// hundred bytes).
const MAX_ANSWER: usize = 256 * 1024;

/// Whether `bytes` are well-formed IPP as far as the `ipp` crate's parser relies on it: every
/// attribute's name and value within the message, and the two lengths inside a
/// text-with-language or name-with-language value within that value. (The crate checks the
/// rest itself; those inner lengths it slices by unchecked, and panics.)
pub fn well_formed(bytes: &[u8]) -> Result<(), String> {
    let u16_at = |at: usize| bytes.get(at..at + 2).map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])));
    let mut at = 8;
    if bytes.len() < at {
        return Err("shorter than an IPP header".into());
    }
    loop {
        let Some(&tag) = bytes.get(at) else { return Err("no end-of-attributes tag".into()) };
        at += 1;
        match tag {
            // End of the attributes: the document data (if any) follows.
            0x03 => return Ok(()),
            // The start of an attribute group.
            0x00..=0x0F => continue,
            value_tag => {
                let name = u16_at(at).ok_or("an attribute cut short")?;
                at += 2 + name;
                let value = u16_at(at).ok_or("an attribute cut short")?;
                at += 2;
                let content = bytes.get(at..at + value).ok_or("a value past the end")?;
                at += value;
                if matches!(value_tag, 0x35 | 0x36) {
                    let language = content.get(..2).map(|b| usize::from(u16::from_be_bytes([b[0], b[1]]))).ok_or("a language cut short")?;
                    let rest = content.get(2 + language..).ok_or("a language past its value")?;
                    let text = rest.get(..2).map(|b| usize::from(u16::from_be_bytes([b[0], b[1]]))).ok_or("a text cut short")?;
                    if rest.len() < 2 + text {
                        return Err("a text past its value".into());
                    }
                }
            }
        }
    }
}

/// An answer's bytes, checked, then parsed by the `ipp` crate.
fn parse_answer(bytes: &[u8]) -> Result<IppRequestResponse, String> {
    well_formed(bytes)?;
    let reader = ::ipp::reader::IppReader::new(std::io::Cursor::new(bytes.to_vec()));
    ::ipp::parser::IppParser::new(reader).parse().map_err(|e| e.to_string())
}

/// Reads an IPP answer as the driver does, from its bytes: checked and parsed, then the
/// printer's state and reasons and a job's state and reasons taken from it (for the fuzzer:
/// what a printer, or anything at its address, sends reaches exactly this).
pub fn read_answer(bytes: &[u8]) {
    let Ok(response) = parse_answer(bytes) else { return };
    let _ = response.header().status_code().is_success();
    if let Ok(printer) = group(&response, DelimiterTag::PrinterAttributes, "a fuzzed answer") {
        let state = integer(&printer, "printer-state").unwrap_or(0);
        let _ = PrinterReport { state, reasons: keywords(&printer, "printer-state-reasons") }.status();
    }
    if let Ok(job) = group(&response, DelimiterTag::JobAttributes, "a fuzzed answer") {
        let _ = (integer(&job, "job-id"), integer(&job, "job-state"), integer(&job, "job-media-sheets-completed"));
        for reason in keywords(&job, "job-state-reasons") {
            let _ = reason_kind(severity(&reason).0);
        }
    }
}

/// Answers a printer sends, as bytes: its state with reasons (paper out and a toner warning),
/// a job's attributes, a refusal. Seeds for the fuzzer.
pub fn sample_answers() -> Vec<Vec<u8>> {
    let response = |status| IppRequestResponse::new_response(IppVersion::v1_1(), status, 7).ok();
    let keyword = |word: &str| IppValue::new_keyword(word).unwrap_or(IppValue::NoValue);
    let with = |response: Option<IppRequestResponse>, tag, attributes: Vec<(&str, IppValue)>| {
        let mut response = response?;
        for (name, value) in attributes {
            response.attributes_mut().add(tag, IppAttribute::with_name(name, value).ok()?);
        }
        Some(response.to_bytes().to_vec())
    };
    let mut answers = Vec::new();
    let reasons = IppValue::Array(vec![keyword("media-empty-error"), keyword("toner-low-warning")]);
    answers.extend(with(
        response(StatusCode::SuccessfulOk),
        DelimiterTag::PrinterAttributes,
        vec![("printer-state", IppValue::Enum(PrinterState::Stopped as i32)), ("printer-state-reasons", reasons)],
    ));
    answers.extend(with(
        response(StatusCode::SuccessfulOk),
        DelimiterTag::JobAttributes,
        vec![
            ("job-id", IppValue::Integer(3)),
            ("job-state", IppValue::Enum(JobState::Completed as i32)),
            ("job-state-reasons", keyword("job-completed-successfully")),
            ("job-media-sheets-completed", IppValue::Integer(1)),
        ],
    ));
    answers.extend(response(StatusCode::ClientErrorDocumentFormatNotSupported).map(|r| r.to_bytes().to_vec()));
    answers
}

fn list(reasons: &[String]) -> String {
    if reasons.is_empty() { "none".to_owned() } else { reasons.join(", ") }
}

impl DocumentPrinter for IppDocumentPrinter {
    fn status(&mut self) -> Result<DocumentPrinterStatus, Error> {
        match self.printer_report() {
            Ok(report) => Ok(report.status()),
            Err(e) if e.kind() == ErrorKind::NoAnswer => {
                tracing::debug!(error = %e, "A4 printer offline");
                Ok(DocumentPrinterStatus::Offline)
            }
            Err(e) => Err(e),
        }
    }

    fn print(&mut self, job: &PrintJob) -> Result<JobCompleted, Error> {
        if !job.pdf.starts_with(b"%PDF-") {
            return Err(Error::new(ErrorKind::DocumentRejected, format!("job {:?} is not a PDF", job.name)));
        }
        if let Some(e) = refusal(self.printer_report()?.status()) {
            return Err(e);
        }
        let job_id = self.submit(job)?;
        let deadline = Instant::now() + self.timeouts.job;
        let id = u32::try_from(job_id).map_err(|_| Error::new(ErrorKind::Protocol, format!("the A4 printer gave the job id {job_id}")))?;
        tracing::info!(job_id, bytes = job.pdf.len(), "A4 job submitted");
        loop {
            std::thread::sleep(self.timeouts.poll);
            let report = match self.job_report(job_id) {
                Ok(report) => report,
                Err(e) if e.kind() == ErrorKind::NoAnswer && Instant::now() < deadline => {
                    tracing::debug!(job_id, error = %e, "A4 printer did not answer a job poll; asking again");
                    continue;
                }
                Err(e) => return Err(self.cancel(job_id, e)),
            };
            match report.state {
                s if s == JobState::Completed as i32 => {
                    tracing::info!(job_id, "A4 job completed");
                    return Ok(JobCompleted { job_id: id, sheets: report.sheets.unwrap_or(0) });
                }
                s if s == JobState::Aborted as i32 || s == JobState::Canceled as i32 => return Err(self.failure(job_id, &report)),
                _ => {}
            }
            // Still pending or printing: give up now if the printer stopped on a fault, which
            // needs a person, or if the job took too long.
            let printer = self.printer_report().unwrap_or_default();
            if let Some(e) = refusal(printer.status()).filter(|e| e.kind() != ErrorKind::NoAnswer) {
                return Err(self.cancel(job_id, Error::new(e.kind(), format!("A4 job {job_id} stopped: {}", e.message()))));
            }
            if Instant::now() >= deadline {
                let e = Error::new(
                    ErrorKind::NoAnswer,
                    format!(
                        "A4 job {job_id} did not complete within {} s (job reasons: {})",
                        self.timeouts.job.as_secs(),
                        list(&report.reasons)
                    ),
                );
                return Err(self.cancel(job_id, e));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(state: i32, reasons: &[&str]) -> PrinterReport {
        PrinterReport { state, reasons: reasons.iter().map(|r| (*r).to_owned()).collect() }
    }

    #[test]
    fn printer_reasons_map_to_statuses_by_severity() {
        let cases: &[(i32, &[&str], DocumentPrinterStatus)] = &[
            (3, &[], DocumentPrinterStatus::Ready),
            (4, &["media-empty-error"], DocumentPrinterStatus::MediaEmpty),
            (5, &["media-needed"], DocumentPrinterStatus::MediaEmpty),
            (5, &["media-jam-error", "media-low-warning"], DocumentPrinterStatus::MediaJam),
            (5, &["door-open"], DocumentPrinterStatus::DoorOpen),
            (5, &["cover-open-error"], DocumentPrinterStatus::DoorOpen),
            (3, &["toner-low-warning"], DocumentPrinterStatus::SuppliesLow),
            (3, &["media-empty-warning"], DocumentPrinterStatus::SuppliesLow),
            // A report is history, not a fault: the printer is idle and takes jobs.
            (3, &["media-empty-report"], DocumentPrinterStatus::Ready),
            (5, &["paused"], DocumentPrinterStatus::Offline),
            (5, &["spool-area-full"], DocumentPrinterStatus::Offline),
            (3, &["spool-area-full-report"], DocumentPrinterStatus::Ready),
        ];
        for (state, reasons, expected) in cases {
            assert_eq!(report(*state, reasons).status(), *expected, "{state} {reasons:?}");
        }
    }

    #[test]
    fn answers_the_ipp_crate_would_panic_on_are_refused_before_it_reads_them() {
        let good = sample_answers();
        for answer in &good {
            assert!(parse_answer(answer).is_ok());
        }
        // A textWithLanguage value (tag 35) whose language length (0x2000) runs past its value.
        let mut bad = good[0][..8].to_vec();
        bad.extend_from_slice(&[0x04, 0x35, 0x00, 0x01, b'x', 0x00, 0x04, 0x20, 0x00, b'e', b'n', 0x03]);
        assert!(well_formed(&bad).is_err());
        assert!(parse_answer(&bad).is_err());
        read_answer(&bad);
        // Cut anywhere, an answer is refused or read, never a panic.
        for answer in &good {
            for end in 0..answer.len() {
                read_answer(&answer[..end]);
            }
        }
    }

    #[test]
    fn only_ipp_uris_are_accepted() {
        assert!(IppDocumentPrinter::new("ipp://127.0.0.1:631/printers/a4", IppTimeouts::default()).is_ok());
        for bad in ["http://127.0.0.1/ipp/print", "ipp:/nohost", "not a uri", "ipps://printer/ipp/print"] {
            assert_eq!(IppDocumentPrinter::new(bad, IppTimeouts::default()).expect_err(bad).kind(), ErrorKind::Other, "{bad}");
        }
    }
}
