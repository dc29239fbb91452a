//! How a kiosk tells central how it is (the heartbeat), and how central steers it: commands
//! come back in the heartbeat's answer, so a kiosk never opens a port of its own, and the
//! kiosk reports what came of each.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::LocalizedText;

/// The most devices a heartbeat lists (one of each class, with room to grow).
pub const MAX_DEVICES: usize = 16;
/// The longest free text in a heartbeat or a report (a device's detail, a command's result).
pub const MAX_DETAIL: usize = 2000;
/// The longest out-of-service message, per language.
pub const MAX_MESSAGE: usize = 500;
/// The most minutes of logs a kiosk is asked for.
pub const MAX_LOG_MINUTES: u32 = 24 * 60;

/// Whether `value` is a kiosk's or a centre's name: 1 to 32 ASCII letters, digits and dashes.
fn is_name(value: &str) -> bool {
    (1..=32).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// What is wrong with the kiosk and centre a record names, if anything.
fn sender_problems(kiosk_id: &str, centre_id: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if !is_name(kiosk_id) {
        problems.push(format!("kiosk_id {kiosk_id:?} is not a kiosk name"));
    }
    if !is_name(centre_id) {
        problems.push(format!("centre_id {centre_id:?} is not a centre name"));
    }
    problems
}

/// Whether `value` is a short label (a version, a check's name): 1 to 64 bytes, no control
/// characters.
fn is_label(value: &str) -> bool {
    (1..=64).contains(&value.len()) && !value.chars().any(char::is_control)
}

/// Whether `value` is a screen's name (`payment`, `out-of-service`): 1 to 32 lowercase ASCII
/// letters, digits and dashes, a letter first.
fn is_screen_name(value: &str) -> bool {
    let bytes = value.as_bytes();
    (1..=32).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

/// A kiosk's state, sent every minute or so (jittered). Only names and counts: never what a
/// citizen typed, scanned or read. Unknown fields are refused, so a kiosk that sends more than
/// central understands is told at once rather than silently half-read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 32, pattern = "^[A-Za-z0-9-]{1,32}$"))]
    pub kiosk_id: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 32, pattern = "^[A-Za-z0-9-]{1,32}$"))]
    pub centre_id: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub sent_at: Timestamp,
    /// The kiosk program's version.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    pub software_version: String,
    pub uptime_seconds: u64,
    #[cfg_attr(feature = "openapi", schema(max_items = 16))]
    pub devices: Vec<DeviceReport>,
    pub outbox: OutboxReport,
    /// When the kiosk last heard from central (reference data or an acknowledgement).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub last_sync_at: Option<Timestamp>,
    pub database_bytes: u64,
    pub disk_free_bytes: u64,
    /// Card payments reserved and not yet booked or reversed.
    pub open_payments: u32,
    /// The name of the screen showing (`attract`, `form`, …), never its content.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 32, pattern = "^[a-z][a-z0-9-]{0,31}$"))]
    pub screen: String,
    /// Citizens served since midnight (sessions that went past the welcome screen).
    pub sessions_today: u32,
    /// Out of service by a command from central (the message shows on the kiosk).
    pub out_of_service: bool,
}

/// A device class of the kiosk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum DeviceClass {
    ReceiptPrinter,
    DocumentPrinter,
    IdentityReader,
    CodeScanner,
    PaymentTerminal,
}

/// How a device is, in the words staff act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum DeviceCondition {
    Ok,
    /// Paper runs low: refill soon.
    PaperNearEnd,
    PaperOut,
    CoverOpen,
    /// It does not answer (unplugged, powered off, its link down).
    Offline,
    /// It answers but fails (its driver reported a fault).
    Fault,
    /// Not fitted at this kiosk.
    NotFitted,
}

impl DeviceCondition {
    /// Whether the kiosk can use the device now (paper near its end still prints).
    pub fn usable(self) -> bool {
        matches!(self, Self::Ok | Self::PaperNearEnd)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DeviceReport {
    pub device: DeviceClass,
    pub condition: DeviceCondition,
    /// For technicians (the driver's words); at most 2000 bytes, never personal data.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 2000))]
    pub detail: String,
}

/// What waits at the kiosk for central.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OutboxReport {
    /// Records saved and not yet acknowledged.
    pub pending: u32,
    /// How long the oldest of them has waited.
    #[serde(default)]
    pub oldest_age_seconds: Option<u64>,
    /// Records central refused for good, kept for a technician.
    pub dead_letters: u32,
}

/// How one check of a readiness report came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum CheckVerdict {
    Ok,
    Warning,
    Failed,
}

/// One check of a readiness report: what was checked, how it came out, what to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DiagnosisCheck {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    pub name: String,
    pub verdict: CheckVerdict,
    #[cfg_attr(feature = "openapi", schema(max_length = 500))]
    pub detail: String,
    /// What to do when it is not ok.
    #[cfg_attr(feature = "openapi", schema(max_length = 500))]
    pub remedy: Option<String>,
}

/// The readiness report a technician's `kiosk-provision diagnose` sends central, shown on the
/// kiosk's console page. Device states and remedies only: nothing of a citizen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Diagnosis {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 32, pattern = "^[A-Za-z0-9-]{1,32}$"))]
    pub kiosk_id: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 32, pattern = "^[A-Za-z0-9-]{1,32}$"))]
    pub centre_id: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: Timestamp,
    pub ready: bool,
    #[cfg_attr(feature = "openapi", schema(max_items = 64))]
    pub checks: Vec<DiagnosisCheck>,
}

/// The most checks a report carries, and the longest detail or remedy.
pub const MAX_CHECKS: usize = 64;
pub const MAX_CHECK_TEXT: usize = 500;

impl Diagnosis {
    /// What is wrong with the report's values, if anything.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = sender_problems(&self.kiosk_id, &self.centre_id);
        if self.checks.len() > MAX_CHECKS {
            problems.push(format!("{} checks, more than {MAX_CHECKS}", self.checks.len()));
        }
        for check in &self.checks {
            if !is_label(&check.name) {
                problems.push("a check's name must be 1 to 64 printable characters".into());
            }
            let texts = std::iter::once(&check.detail).chain(check.remedy.as_ref());
            if texts.into_iter().any(|t| t.chars().count() > MAX_CHECK_TEXT || t.chars().any(char::is_control)) {
                problems.push(format!("check {:?}: detail and remedy are at most {MAX_CHECK_TEXT} printable characters", check.name));
            }
        }
        if self.ready != self.checks.iter().all(|c| c.verdict != CheckVerdict::Failed) {
            problems.push("ready must be true exactly when no check failed".into());
        }
        problems
    }
}

impl Heartbeat {
    /// What is wrong with the heartbeat's values, if anything (the kiosk checks before it
    /// sends, central when it receives). Counts are bounded where a real kiosk is: a hundred
    /// years of uptime or a billion queued records is a broken counter, not a state.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = sender_problems(&self.kiosk_id, &self.centre_id);
        if !is_label(&self.software_version) {
            problems.push("software_version must be 1 to 64 printable characters".into());
        }
        const TEN_YEARS: u64 = 10 * 366 * 24 * 3600;
        if self.uptime_seconds > TEN_YEARS {
            problems.push(format!("uptime_seconds {} is more than ten years", self.uptime_seconds));
        }
        if self.outbox.oldest_age_seconds.is_some_and(|age| age > TEN_YEARS) {
            problems.push("outbox.oldest_age_seconds is more than ten years".into());
        }
        if (self.outbox.pending == 0) != self.outbox.oldest_age_seconds.is_none() {
            problems.push("outbox.oldest_age_seconds is given exactly when something is pending".into());
        }
        const MILLION: u32 = 1_000_000;
        for (what, value) in [
            ("outbox.pending", self.outbox.pending),
            ("outbox.dead_letters", self.outbox.dead_letters),
            ("open_payments", self.open_payments),
            ("sessions_today", self.sessions_today),
        ] {
            if value > MILLION {
                problems.push(format!("{what} {value} is more than a million"));
            }
        }
        if self.devices.len() > MAX_DEVICES {
            problems.push(format!("{} devices listed, at most {MAX_DEVICES}", self.devices.len()));
        }
        let mut classes: Vec<DeviceClass> = self.devices.iter().map(|d| d.device).collect();
        classes.sort();
        if classes.windows(2).any(|pair| pair[0] == pair[1]) {
            problems.push("a device class is listed twice".into());
        }
        if self.devices.iter().any(|d| d.detail.len() > MAX_DETAIL) {
            problems.push(format!("a device's detail is longer than {MAX_DETAIL} bytes"));
        }
        if !is_screen_name(&self.screen) {
            problems.push(format!("screen {:?} is not a screen name", self.screen));
        }
        problems
    }
}

/// Central's answer to a heartbeat: the commands waiting for this kiosk, oldest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HeartbeatAnswer {
    pub commands: Vec<KioskCommand>,
}

/// Something staff asked one kiosk to do. Carried out once: a command the kiosk has seen
/// before (a repeated delivery) is reported again, not done again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KioskCommand {
    pub command_id: Uuid,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub issued_at: Timestamp,
    /// After this the kiosk does not carry it out (it reports it expired).
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub expires_at: Timestamp,
    pub action: CommandAction,
}

/// What a command asks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum CommandAction {
    /// Stop serving and show `message` (a citizen mid-journey finishes first).
    OutOfService {
        message: LocalizedText,
    },
    BackInService,
    /// Fetch the catalog and the other reference data now.
    RefreshCatalog,
    /// Close the payment terminal's day now.
    CloseDay,
    /// Restart the program (when no citizen is being served).
    Restart,
    /// Send the last `minutes` of the program's logs (they hold no personal data).
    UploadLogs {
        minutes: u32,
    },
    /// Send a picture of the screen with every value a citizen gave masked.
    Screenshot,
}

impl CommandAction {
    /// The action's name, as central stores and shows it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::OutOfService { .. } => "out-of-service",
            Self::BackInService => "back-in-service",
            Self::RefreshCatalog => "refresh-catalog",
            Self::CloseDay => "close-day",
            Self::Restart => "restart",
            Self::UploadLogs { .. } => "upload-logs",
            Self::Screenshot => "screenshot",
        }
    }

    /// What is wrong with the command's values, if anything.
    pub fn problems(&self) -> Vec<String> {
        match self {
            Self::OutOfService { message } => {
                let mut problems = Vec::new();
                if !message.is_complete() {
                    problems.push("the message is needed in zh-Hant, pt and en".to_string());
                }
                if super::Language::ALL.iter().any(|&l| message.get(l).chars().count() > MAX_MESSAGE) {
                    problems.push(format!("the message is longer than {MAX_MESSAGE} characters in a language"));
                }
                problems
            }
            Self::UploadLogs { minutes } if !(1..=MAX_LOG_MINUTES).contains(minutes) => {
                vec![format!("minutes must be 1 to {MAX_LOG_MINUTES}, not {minutes}")]
            }
            _ => Vec::new(),
        }
    }
}

/// What came of a command, as the kiosk reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum CommandOutcome {
    Done,
    Failed,
    /// It reached the kiosk after its expiry; nothing was done.
    Expired,
}

/// A kiosk's report on one of its commands. A repeat of a report is acknowledged and changes
/// nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CommandReport {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 32, pattern = "^[A-Za-z0-9-]{1,32}$"))]
    pub kiosk_id: String,
    pub outcome: CommandOutcome,
    /// What the kiosk says of it, for staff; at most 2000 bytes.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 2000))]
    pub detail: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: Timestamp,
}

/// A citizen at a kiosk asks for an attendant. The screen is named, never its content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AttendantCall {
    /// Made by the kiosk: a repeat of the call is the same call.
    pub call_id: Uuid,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 32, pattern = "^[A-Za-z0-9-]{1,32}$"))]
    pub kiosk_id: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 32, pattern = "^[A-Za-z0-9-]{1,32}$"))]
    pub centre_id: String,
    /// The screen the citizen is on, by name (e.g. `payment`).
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 32, pattern = "^[a-z][a-z0-9-]{0,31}$"))]
    pub screen: String,
    /// The citizen's language, so the attendant knows before walking over.
    pub language: super::Language,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: Timestamp,
}

impl AttendantCall {
    /// What is wrong with the call's values, if anything.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !is_name(&self.kiosk_id) || !is_name(&self.centre_id) {
            problems.push("kiosk_id and centre_id must be names of 1 to 32 letters, digits and dashes".to_string());
        }
        if !is_screen_name(&self.screen) {
            problems.push(format!("screen {:?} is not a screen name", self.screen));
        }
        problems
    }
}

/// Where a citizen's call for an attendant stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AttendantCallStatus {
    pub call_id: Uuid,
    /// When staff acknowledged it: someone is on the way.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub acknowledged_at: Option<Timestamp>,
    /// The call is over (the kiosk ended it, or it lapsed), or staff cannot take calls now.
    pub ended: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn heartbeat() -> Heartbeat {
        Heartbeat {
            kiosk_id: "K01".into(),
            centre_id: "GSC-01".into(),
            sent_at: Timestamp::now(),
            software_version: "0.1.0".into(),
            uptime_seconds: 3600,
            devices: vec![DeviceReport {
                device: DeviceClass::ReceiptPrinter,
                condition: DeviceCondition::PaperNearEnd,
                detail: String::new(),
            }],
            outbox: OutboxReport { pending: 2, oldest_age_seconds: Some(30), dead_letters: 0 },
            last_sync_at: None,
            database_bytes: 1 << 20,
            disk_free_bytes: 1 << 30,
            open_payments: 0,
            screen: "attract".into(),
            sessions_today: 12,
            out_of_service: false,
        }
    }

    #[test]
    fn a_sound_heartbeat_has_no_problems_and_each_bad_value_is_named() {
        assert_eq!(heartbeat().problems(), Vec::<String>::new());
        type Spoil = fn(&mut Heartbeat);
        let bad: Vec<(Spoil, &str)> = vec![
            (|h| h.kiosk_id = "K 01".into(), "kiosk_id"),
            (|h| h.uptime_seconds = u64::MAX, "uptime_seconds"),
            (|h| h.outbox.oldest_age_seconds = None, "oldest_age_seconds"),
            (|h| h.sessions_today = 2_000_000, "sessions_today"),
            (|h| h.screen = "Form<script>".into(), "screen"),
            (|h| h.software_version = "1.0\n".into(), "software_version"),
            (|h| h.devices.push(h.devices[0].clone()), "listed twice"),
        ];
        for (spoil, named) in bad {
            let mut h = heartbeat();
            spoil(&mut h);
            let problems = h.problems();
            assert!(problems.iter().any(|p| p.contains(named)), "{named}: {problems:?}");
        }
    }

    #[test]
    fn unknown_fields_are_refused() {
        let mut json = serde_json::to_value(heartbeat()).expect("json");
        json["camera"] = serde_json::json!("on");
        let refused = serde_json::from_value::<Heartbeat>(json).expect_err("unknown field");
        assert!(refused.to_string().contains("camera"), "{refused}");
    }

    #[test]
    fn commands_read_as_their_kind_and_bad_ones_are_named() {
        let json = r#"{"kind":"out-of-service","message":{"zh-Hant":"暫停服務","pt":"Fora de serviço","en":"Out of service"}}"#;
        let action: CommandAction = serde_json::from_str(json).expect("json");
        assert_eq!(action.name(), "out-of-service");
        assert!(action.problems().is_empty());
        let half = CommandAction::OutOfService { message: LocalizedText::new("暫停服務", "", "Out of service") };
        assert_eq!(half.problems().len(), 1);
        assert_eq!(CommandAction::UploadLogs { minutes: 0 }.problems().len(), 1);
        assert!(serde_json::from_str::<CommandAction>(r#"{"kind":"format-disk"}"#).is_err());
    }
}
