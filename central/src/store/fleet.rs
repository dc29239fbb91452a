//! The fleet as central sees it: each kiosk's last heartbeat, and the commands staff gave
//! kiosks with what came of each. The same SQL on both databases.

use balcao_backend_client::api::{CommandAction, CommandOutcome, CommandReport, DeviceCondition, Diagnosis, Heartbeat, KioskCommand};
use jiff::{SignedDuration, Timestamp};
use uuid::Uuid;

use super::db::args;
use super::{Store, StoreError, to_json};

/// The fleet's tables, the same on SQLite and PostgreSQL (`BIGINT` is an integer to both).
/// Times are milliseconds since the epoch on central's clock.
pub(super) const FLEET_SCHEMA: &str = "
    CREATE TABLE kiosks (
        kiosk_id TEXT PRIMARY KEY,
        centre_id TEXT NOT NULL,
        last_seen BIGINT NOT NULL,
        heartbeat TEXT NOT NULL
    );
    CREATE INDEX kiosks_centre ON kiosks(centre_id);
    CREATE TABLE kiosk_commands (
        command_id TEXT PRIMARY KEY,
        kiosk_id TEXT NOT NULL,
        centre_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        action TEXT NOT NULL,
        issued_by TEXT NOT NULL,
        issued_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        delivered_at BIGINT,
        outcome TEXT,
        detail TEXT,
        reported_at BIGINT
    );
    CREATE INDEX kiosk_commands_kiosk ON kiosk_commands(kiosk_id, issued_at);
";

/// What kiosks send when staff ask for it: a masked screenshot (PNG) or the last minutes of
/// their logs (text), one per command, base64 in a text column (the same on both databases).
pub(super) const UPLOADS_SCHEMA: &str = "
    CREATE TABLE kiosk_uploads (
        command_id TEXT PRIMARY KEY,
        kiosk_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        content_type TEXT NOT NULL,
        body TEXT NOT NULL,
        bytes BIGINT NOT NULL,
        received_at BIGINT NOT NULL
    );
    CREATE INDEX kiosk_uploads_kiosk ON kiosk_uploads(kiosk_id, kind, received_at);
";

/// A file a kiosk sent for a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upload {
    pub command_id: Uuid,
    pub kiosk_id: String,
    /// The command's kind: `screenshot` or `upload-logs`.
    pub kind: String,
    pub content_type: String,
    pub body: Vec<u8>,
    pub received_at: Timestamp,
}

/// How an upload was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UploadFiled {
    Kept,
    /// Sent before: the first stands.
    Repeat,
    /// No such command of this kiosk asks for this kind of file.
    NotAsked,
}

/// What a heartbeat needs to know of its kiosk besides its last heartbeat: whether any alert
/// of it is open (`alerts_open`: 0 only when none is), and until when a command may wait for
/// it (`commands_until`, milliseconds). Hints that may say "look" when there is nothing, never
/// "nothing" when there is something.
pub(super) const HINTS_SCHEMA: &str = "
    ALTER TABLE kiosks ADD COLUMN alerts_open BIGINT NOT NULL DEFAULT 1;
    ALTER TABLE kiosks ADD COLUMN commands_until BIGINT NOT NULL DEFAULT 0;
    UPDATE kiosks SET commands_until = COALESCE(
        (SELECT MAX(c.expires_at) FROM kiosk_commands c WHERE c.kiosk_id = kiosks.kiosk_id AND c.outcome IS NULL), 0);
";

/// Each kiosk's last readiness report from a technician's `kiosk-provision diagnose` (device
/// states and remedies, nothing of a citizen), kept until the next one replaces it.
pub(super) const DIAGNOSES_SCHEMA: &str = "
    CREATE TABLE kiosk_diagnoses (
        kiosk_id TEXT PRIMARY KEY,
        centre_id TEXT NOT NULL,
        received_at BIGINT NOT NULL,
        report TEXT NOT NULL
    );
";

/// How long a kiosk may be silent before it counts as offline (three missed heartbeats).
pub const OFFLINE_AFTER: SignedDuration = SignedDuration::from_mins(3);
/// The oldest outbox entry's age past which staff are warned (central unreachable for long, or
/// a record it keeps refusing).
pub const OUTBOX_WARNING_AGE: u64 = 15 * 60;
/// Free disk below which staff are warned.
pub const LOW_DISK_BYTES: u64 = 1 << 30;

/// A kiosk's state at a glance, worst first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KioskState {
    Offline,
    Alarm,
    OutOfService,
    Warning,
    Ok,
}

impl KioskState {
    pub fn name(self) -> &'static str {
        match self {
            Self::Offline => "offline",
            Self::Alarm => "alarm",
            Self::OutOfService => "out-of-service",
            Self::Warning => "warning",
            Self::Ok => "ok",
        }
    }
}

/// Why a kiosk is in its state: what staff would act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    Silent { since: Timestamp },
    Device { device: balcao_backend_client::api::DeviceClass, condition: DeviceCondition },
    DeadLetters(u32),
    OutboxWaiting { oldest_seconds: u64 },
    LowDisk { free_bytes: u64 },
    OutOfService,
}

/// A kiosk as the console shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FleetKiosk {
    pub kiosk_id: String,
    pub centre_id: String,
    pub last_seen: Timestamp,
    pub heartbeat: Heartbeat,
    pub state: KioskState,
    pub findings: Vec<Finding>,
}

/// Judges a kiosk from its last heartbeat, received at `last_seen`, as of `now`; silent for
/// longer than `offline_after`, it is offline.
pub fn assess(heartbeat: &Heartbeat, last_seen: Timestamp, now: Timestamp, offline_after: SignedDuration) -> (KioskState, Vec<Finding>) {
    let mut findings = Vec::new();
    let mut state = KioskState::Ok;
    let mut worsen = |to: KioskState, finding: Finding, findings: &mut Vec<Finding>| {
        state = state.min(to);
        findings.push(finding);
    };
    if now.duration_since(last_seen) > offline_after {
        worsen(KioskState::Offline, Finding::Silent { since: last_seen }, &mut findings);
    }
    for device in &heartbeat.devices {
        let severity = match device.condition {
            DeviceCondition::Ok | DeviceCondition::NotFitted => continue,
            DeviceCondition::PaperNearEnd => KioskState::Warning,
            DeviceCondition::PaperOut | DeviceCondition::CoverOpen | DeviceCondition::Offline | DeviceCondition::Fault => KioskState::Alarm,
        };
        worsen(severity, Finding::Device { device: device.device, condition: device.condition }, &mut findings);
    }
    if heartbeat.outbox.dead_letters > 0 {
        worsen(KioskState::Alarm, Finding::DeadLetters(heartbeat.outbox.dead_letters), &mut findings);
    }
    if let Some(oldest) = heartbeat.outbox.oldest_age_seconds.filter(|age| *age > OUTBOX_WARNING_AGE) {
        worsen(KioskState::Warning, Finding::OutboxWaiting { oldest_seconds: oldest }, &mut findings);
    }
    if heartbeat.disk_free_bytes < LOW_DISK_BYTES {
        worsen(KioskState::Warning, Finding::LowDisk { free_bytes: heartbeat.disk_free_bytes }, &mut findings);
    }
    if heartbeat.out_of_service {
        worsen(KioskState::OutOfService, Finding::OutOfService, &mut findings);
    }
    (state, findings)
}

/// A command and what came of it, as staff see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandRecord {
    pub command: KioskCommand,
    pub kiosk_id: String,
    pub centre_id: String,
    pub issued_by: String,
    pub delivered_at: Option<Timestamp>,
    pub outcome: Option<CommandOutcome>,
    pub detail: Option<String>,
    pub reported_at: Option<Timestamp>,
}

/// How a kiosk's report on a command was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFiled {
    Recorded,
    /// The command was reported before: acknowledged, nothing changed.
    Repeat,
    /// No such command for this kiosk (none, or another kiosk's: the same answer).
    NotFound,
}

#[derive(Debug, thiserror::Error)]
pub enum CommandRefused {
    #[error("no kiosk {0:?} has ever sent a heartbeat")]
    UnknownKiosk(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn millis(at: Timestamp) -> i64 {
    at.as_millisecond()
}

fn instant(millis: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_millisecond(millis).map_err(|e| StoreError::Corrupt(format!("a stored time: {e}")))
}

fn upload_of(row: &super::db::Row) -> Result<Upload, StoreError> {
    let id: String = row.get(0)?;
    let body: String = row.get(4)?;
    Ok(Upload {
        command_id: Uuid::parse_str(&id).map_err(|e| StoreError::Corrupt(format!("upload {id:?}: {e}")))?,
        kiosk_id: row.get(1)?,
        kind: row.get(2)?,
        content_type: row.get(3)?,
        body: base64::Engine::decode(&base64::engine::general_purpose::STANDARD, body)
            .map_err(|e| StoreError::Corrupt(format!("upload {id}: {e}")))?,
        received_at: instant(row.get(5)?)?,
    })
}

const COMMAND_COLUMNS: &str =
    "command_id, kiosk_id, centre_id, action, issued_by, issued_at, expires_at, delivered_at, outcome, detail, reported_at";

fn command_of(row: &super::db::Row) -> Result<CommandRecord, StoreError> {
    let id: String = row.get(0)?;
    let action: String = row.get(3)?;
    let outcome: Option<String> = row.get(8)?;
    let optional = |millis: Option<i64>| millis.map(instant).transpose();
    Ok(CommandRecord {
        command: KioskCommand {
            command_id: Uuid::parse_str(&id).map_err(|e| StoreError::Corrupt(format!("command id {id:?}: {e}")))?,
            issued_at: instant(row.get(5)?)?,
            expires_at: instant(row.get(6)?)?,
            action: serde_json::from_str(&action).map_err(|e| StoreError::Corrupt(format!("command {id}: {e}")))?,
        },
        kiosk_id: row.get(1)?,
        centre_id: row.get(2)?,
        issued_by: row.get(4)?,
        delivered_at: optional(row.get(7)?)?,
        outcome: outcome
            .map(|o| {
                serde_json::from_value(serde_json::Value::String(o.clone())).map_err(|e| StoreError::Corrupt(format!("outcome {o:?}: {e}")))
            })
            .transpose()?,
        detail: row.get(9)?,
        reported_at: optional(row.get(10)?)?,
    })
}

impl Store {
    /// How long a kiosk may be silent before it counts as offline.
    pub fn offline_after(&self) -> SignedDuration {
        SignedDuration::from_millis(self.offline_after_ms.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Sets how long a kiosk may be silent before it counts as offline (default
    /// [`OFFLINE_AFTER`], three missed heartbeats).
    pub fn set_offline_after(&self, after: SignedDuration) {
        self.offline_after_ms.store(after.as_millis() as i64, std::sync::atomic::Ordering::Relaxed);
    }

    /// Keeps `heartbeat` as the kiosk's latest and hands out the commands waiting for it,
    /// oldest first: those not yet reported on and not expired (a command delivered before and
    /// not reported is delivered again; the kiosk does it once).
    pub fn record_heartbeat(&self, heartbeat: &Heartbeat) -> Result<Vec<KioskCommand>, StoreError> {
        let body = to_json(heartbeat)?;
        let now = millis(Timestamp::now());
        let sql = format!(
            "SELECT {COMMAND_COLUMNS} FROM kiosk_commands WHERE kiosk_id = $1 AND outcome IS NULL AND expires_at > $2 ORDER BY issued_at, command_id"
        );
        // A heartbeat lost at a power cut is harmless: the next comes within a minute.
        self.db.write_volatile(|tx| {
            // The kiosk's row says whether anything else needs reading: an alert open, a
            // command not yet expired. Most heartbeats of a sound fleet stop here.
            let hints = tx.query_one(
                "INSERT INTO kiosks (kiosk_id, centre_id, last_seen, heartbeat) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (kiosk_id) DO UPDATE SET centre_id = excluded.centre_id, last_seen = excluded.last_seen, heartbeat = excluded.heartbeat
                 RETURNING alerts_open, commands_until",
                args![heartbeat.kiosk_id, heartbeat.centre_id, now, body],
            )?;
            let (alerts_open, commands_until): (i64, i64) = (hints.get(0)?, hints.get(1)?);
            self.heartbeat_alerts(tx, heartbeat, now, alerts_open != 0)?;
            if commands_until <= now {
                return Ok(Vec::new());
            }
            let waiting = tx.query(&sql, args![heartbeat.kiosk_id, now])?.iter().map(command_of).collect::<Result<Vec<_>, _>>()?;
            if waiting.is_empty() {
                tx.execute("UPDATE kiosks SET commands_until = 0 WHERE kiosk_id = $1", args![heartbeat.kiosk_id])?;
            } else {
                tx.execute(
                    "UPDATE kiosk_commands SET delivered_at = $2 WHERE kiosk_id = $1 AND outcome IS NULL AND expires_at > $2 AND delivered_at IS NULL",
                    args![heartbeat.kiosk_id, now],
                )?;
            }
            Ok(waiting.into_iter().map(|c| c.command).collect())
        })
    }

    /// Gives `kiosk_id` a command, to be handed out with its next heartbeat and carried out
    /// before `ttl` has passed. `issued_by` names the staff member.
    pub fn issue_command(
        &self,
        kiosk_id: &str,
        action: CommandAction,
        issued_by: &str,
        ttl: SignedDuration,
    ) -> Result<KioskCommand, CommandRefused> {
        let problems = action.problems();
        if !problems.is_empty() {
            return Err(CommandRefused::Invalid(problems.join("; ")));
        }
        if ttl <= SignedDuration::ZERO || ttl > SignedDuration::from_hours(7 * 24) {
            return Err(CommandRefused::Invalid(format!("a command lasts a second to a week, not {ttl}")));
        }
        // Milliseconds, as stored: the command handed out is the command kept.
        let issued_at = instant(millis(Timestamp::now()))?;
        let command = KioskCommand { command_id: Uuid::now_v7(), issued_at, expires_at: issued_at + ttl, action };
        let action_json = to_json(&command.action)?;
        let stored = self.db.write(|tx| {
            let Some(row) = tx.query_opt("SELECT centre_id FROM kiosks WHERE kiosk_id = $1", args![kiosk_id])? else {
                return Ok(false);
            };
            let centre_id: String = row.get(0)?;
            // The kiosk's next heartbeat looks for commands until this one expires.
            tx.execute(
                "UPDATE kiosks SET commands_until = CASE WHEN commands_until > $2 THEN commands_until ELSE $2 END WHERE kiosk_id = $1",
                args![kiosk_id, millis(command.expires_at)],
            )?;
            tx.execute(
                "INSERT INTO kiosk_commands (command_id, kiosk_id, centre_id, kind, action, issued_by, issued_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                args![
                    command.command_id.to_string(),
                    kiosk_id,
                    centre_id,
                    command.action.name(),
                    action_json,
                    issued_by,
                    millis(command.issued_at),
                    millis(command.expires_at)
                ],
            )?;
            Ok::<_, StoreError>(true)
        })?;
        if !stored {
            return Err(CommandRefused::UnknownKiosk(kiosk_id.to_string()));
        }
        Ok(command)
    }

    /// Files what `kiosk_id` says came of its command. Only the kiosk the command was for can
    /// report on it; the first report stands.
    pub fn report_command(&self, kiosk_id: &str, command_id: Uuid, report: &CommandReport) -> Result<ReportFiled, StoreError> {
        let outcome = to_json(&report.outcome)?;
        let now = millis(Timestamp::now());
        self.db.write(|tx| {
            let found = tx.query_opt(
                "SELECT outcome FROM kiosk_commands WHERE command_id = $1 AND kiosk_id = $2",
                args![command_id.to_string(), kiosk_id],
            )?;
            let Some(row) = found else { return Ok(ReportFiled::NotFound) };
            if row.get::<Option<String>>(0)?.is_some() {
                return Ok(ReportFiled::Repeat);
            }
            tx.execute(
                "UPDATE kiosk_commands SET outcome = $2, detail = $3, reported_at = $4, delivered_at = COALESCE(delivered_at, $4)
                 WHERE command_id = $1",
                args![command_id.to_string(), outcome.trim_matches('"'), report.detail, now],
            )?;
            Ok(ReportFiled::Recorded)
        })
    }

    /// Every kiosk that ever sent a heartbeat, judged as of now, worst first, then by centre
    /// and name. `centres`: only those centres' kiosks (`None`: all).
    pub fn fleet(&self, centres: Option<&[String]>) -> Result<Vec<FleetKiosk>, StoreError> {
        let rows = self.db.read(|tx| tx.query("SELECT kiosk_id, centre_id, last_seen, heartbeat FROM kiosks", args![]))?;
        let now = Timestamp::now();
        let mut fleet = Vec::new();
        for row in rows {
            let centre_id: String = row.get(1)?;
            if centres.is_some_and(|centres| !centres.contains(&centre_id)) {
                continue;
            }
            fleet.push(self.judged(&row, now)?);
        }
        fleet.sort_by(|a, b| (a.state, &a.centre_id, &a.kiosk_id).cmp(&(b.state, &b.centre_id, &b.kiosk_id)));
        Ok(fleet)
    }

    /// One kiosk, judged as of now, if it ever sent a heartbeat.
    pub fn fleet_kiosk(&self, kiosk_id: &str) -> Result<Option<FleetKiosk>, StoreError> {
        let row = self
            .db
            .read(|tx| tx.query_opt("SELECT kiosk_id, centre_id, last_seen, heartbeat FROM kiosks WHERE kiosk_id = $1", args![kiosk_id]))?;
        row.map(|row| self.judged(&row, Timestamp::now())).transpose()
    }

    /// A row of `kiosks` (`kiosk_id, centre_id, last_seen, heartbeat`), judged as of `now`.
    fn judged(&self, row: &super::db::Row, now: Timestamp) -> Result<FleetKiosk, StoreError> {
        let (kiosk_id, centre_id): (String, String) = (row.get(0)?, row.get(1)?);
        let body: String = row.get(3)?;
        let heartbeat: Heartbeat =
            serde_json::from_str(&body).map_err(|e| StoreError::Corrupt(format!("kiosk {kiosk_id}'s heartbeat: {e}")))?;
        let last_seen = instant(row.get(2)?)?;
        let (state, findings) = assess(&heartbeat, last_seen, now, self.offline_after());
        Ok(FleetKiosk { kiosk_id, centre_id, last_seen, heartbeat, state, findings })
    }

    /// Keeps the file `kiosk_id` sends for its command `command_id` (of kind `kind`).
    pub fn store_upload(
        &self,
        kiosk_id: &str,
        command_id: Uuid,
        kind: &str,
        content_type: &str,
        body: &[u8],
    ) -> Result<UploadFiled, StoreError> {
        let encoded = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, body);
        let now = millis(Timestamp::now());
        self.db.write(|tx| {
            let asked = tx.query_opt(
                "SELECT 1 FROM kiosk_commands WHERE command_id = $1 AND kiosk_id = $2 AND kind = $3",
                args![command_id.to_string(), kiosk_id, kind],
            )?;
            if asked.is_none() {
                return Ok(UploadFiled::NotAsked);
            }
            let kept = tx.execute(
                "INSERT INTO kiosk_uploads (command_id, kiosk_id, kind, content_type, body, bytes, received_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (command_id) DO NOTHING",
                args![command_id.to_string(), kiosk_id, kind, content_type, encoded, body.len() as i64, now],
            )?;
            Ok(if kept == 1 { UploadFiled::Kept } else { UploadFiled::Repeat })
        })
    }

    /// The file sent for `command_id`.
    pub fn upload(&self, command_id: Uuid) -> Result<Option<Upload>, StoreError> {
        let row = self.db.read(|tx| {
            tx.query_opt(
                "SELECT command_id, kiosk_id, kind, content_type, body, received_at FROM kiosk_uploads WHERE command_id = $1",
                args![command_id.to_string()],
            )
        })?;
        row.map(|row| upload_of(&row)).transpose()
    }

    /// The newest screenshot of `kiosk_id`.
    pub fn last_screenshot(&self, kiosk_id: &str) -> Result<Option<Upload>, StoreError> {
        let row = self.db.read(|tx| {
            tx.query_opt(
                "SELECT command_id, kiosk_id, kind, content_type, body, received_at FROM kiosk_uploads
                 WHERE kiosk_id = $1 AND kind = 'screenshot' ORDER BY received_at DESC LIMIT 1",
                args![kiosk_id],
            )
        })?;
        row.map(|row| upload_of(&row)).transpose()
    }

    /// Keeps `diagnosis` as its kiosk's last readiness report.
    pub fn record_diagnosis(&self, diagnosis: &Diagnosis) -> Result<(), StoreError> {
        let report = to_json(diagnosis)?;
        self.db.write(|tx| {
            tx.execute(
                "INSERT INTO kiosk_diagnoses (kiosk_id, centre_id, received_at, report) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (kiosk_id) DO UPDATE SET centre_id = excluded.centre_id, received_at = excluded.received_at,
                 report = excluded.report",
                args![diagnosis.kiosk_id, diagnosis.centre_id, Timestamp::now().as_millisecond(), report],
            )
        })?;
        Ok(())
    }

    /// The last readiness report of `kiosk_id`, if a technician sent one.
    pub fn last_diagnosis(&self, kiosk_id: &str) -> Result<Option<Diagnosis>, StoreError> {
        let row = self.db.read(|tx| tx.query_opt("SELECT report FROM kiosk_diagnoses WHERE kiosk_id = $1", args![kiosk_id]))?;
        row.map(|row| {
            let report: String = row.get(0)?;
            serde_json::from_str(&report).map_err(|e| StoreError::Corrupt(format!("kiosk {kiosk_id}'s readiness report: {e}")))
        })
        .transpose()
    }

    /// A kiosk's commands, newest first.
    pub fn commands_of(&self, kiosk_id: &str, limit: u32) -> Result<Vec<CommandRecord>, StoreError> {
        let sql =
            format!("SELECT {COMMAND_COLUMNS} FROM kiosk_commands WHERE kiosk_id = $1 ORDER BY issued_at DESC, command_id DESC LIMIT $2");
        let rows = self.db.read(|tx| tx.query(&sql, args![kiosk_id, i64::from(limit)]))?;
        rows.iter().map(command_of).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use balcao_backend_client::api::{DeviceClass, DeviceReport, OutboxReport};

    fn heartbeat() -> Heartbeat {
        Heartbeat {
            kiosk_id: "K01".into(),
            centre_id: "GSC-01".into(),
            sent_at: Timestamp::now(),
            software_version: "0.1.0".into(),
            uptime_seconds: 60,
            devices: vec![DeviceReport { device: DeviceClass::ReceiptPrinter, condition: DeviceCondition::Ok, detail: String::new() }],
            outbox: OutboxReport { pending: 0, oldest_age_seconds: None, dead_letters: 0 },
            last_sync_at: None,
            database_bytes: 1 << 20,
            disk_free_bytes: 10 << 30,
            open_payments: 0,
            screen: "attract".into(),
            sessions_today: 0,
            out_of_service: false,
        }
    }

    #[test]
    fn a_kiosk_is_judged_by_its_worst_finding() {
        let now = Timestamp::now();
        assert_eq!(assess(&heartbeat(), now, now, OFFLINE_AFTER), (KioskState::Ok, vec![]));

        let mut low = heartbeat();
        low.devices[0].condition = DeviceCondition::PaperNearEnd;
        assert_eq!(assess(&low, now, now, OFFLINE_AFTER).0, KioskState::Warning);

        let mut out = low.clone();
        out.devices.push(DeviceReport { device: DeviceClass::PaymentTerminal, condition: DeviceCondition::Offline, detail: String::new() });
        let (state, findings) = assess(&out, now, now, OFFLINE_AFTER);
        assert_eq!(state, KioskState::Alarm);
        assert_eq!(findings.len(), 2, "each finding is kept: {findings:?}");

        let silent_since = now - SignedDuration::from_mins(4);
        assert_eq!(assess(&out, silent_since, now, OFFLINE_AFTER).0, KioskState::Offline, "silence outranks all");
        assert_eq!(
            assess(&heartbeat(), now - SignedDuration::from_mins(2), now, OFFLINE_AFTER).0,
            KioskState::Ok,
            "two minutes is not yet offline"
        );

        let mut closed = heartbeat();
        closed.out_of_service = true;
        assert_eq!(assess(&closed, now, now, OFFLINE_AFTER).0, KioskState::OutOfService);
        closed.outbox = OutboxReport { pending: 3, oldest_age_seconds: Some(3600), dead_letters: 1 };
        assert_eq!(assess(&closed, now, now, OFFLINE_AFTER).0, KioskState::Alarm, "a dead letter is an alarm even out of service");
    }
}
