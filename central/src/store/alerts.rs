//! Alerts: what staff must act on, raised by rules from kiosks' heartbeats, their silence,
//! their events and citizens' calls for an attendant; acknowledged by staff, cleared when the
//! condition ends, and handed to a webhook (see `alerts.rs` at the crate's root) through an
//! outbox of deliveries. The same SQL on both databases.
//!
//! An alert is *open* until it clears. A condition (paper out, a silent kiosk) clears when the
//! kiosk reports it gone; a one-off (a storage failure, a payment day that does not add up)
//! clears when staff acknowledge it; a citizen's call clears when the kiosk ends it (the
//! citizen was helped or left) or after [`CALL_LIFETIME`].

use balcao_backend_client::api::{
    AttendantCall, AttendantCallStatus, DayTotals, DeviceClass, DeviceCondition, Heartbeat, KioskEvent, KioskEventKind, Severity,
};
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use uuid::Uuid;

use super::db::{Tx, args};
use super::{Store, StoreError};

pub(super) const ALERTS_SCHEMA: &str = "
    CREATE TABLE alerts (
        alert_id TEXT PRIMARY KEY,
        kiosk_id TEXT NOT NULL,
        centre_id TEXT NOT NULL,
        rule TEXT NOT NULL,
        subject TEXT NOT NULL,
        detail TEXT NOT NULL,
        screen TEXT NOT NULL,
        raised_at BIGINT NOT NULL,
        acknowledged_by TEXT,
        acknowledged_at BIGINT,
        cleared_at BIGINT
    );
    CREATE UNIQUE INDEX alerts_open ON alerts(kiosk_id, rule, subject) WHERE cleared_at IS NULL;
    CREATE INDEX alerts_raised ON alerts(raised_at);
    CREATE TABLE alert_rules (
        rule TEXT PRIMARY KEY,
        enabled BIGINT NOT NULL,
        minutes BIGINT
    );
    CREATE TABLE alert_deliveries (
        delivery_id TEXT PRIMARY KEY,
        alert_id TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        attempts BIGINT NOT NULL,
        next_at BIGINT NOT NULL,
        delivered_at BIGINT,
        last_error TEXT
    );
    CREATE INDEX alert_deliveries_due ON alert_deliveries(next_at) WHERE delivered_at IS NULL;
";

/// How long the alert rules read are used before they are read again.
const RULES_FRESH: std::time::Duration = std::time::Duration::from_secs(5);

/// How long a citizen's call stays open if the kiosk never ends it (it lost central meanwhile).
pub const CALL_LIFETIME: SignedDuration = SignedDuration::from_mins(30);

/// What raises an alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlertRule {
    /// A citizen asks for help at a kiosk.
    AttendantCalled,
    /// No heartbeat for longer than central's offline threshold.
    Offline,
    /// The kiosk's database failed (its events say so).
    StorageFailure,
    /// The payment terminal's day does not agree with the kiosk's journal, or did not close.
    PaymentDay,
    PaperOut,
    /// A device offline, in fault or with its cover open.
    DeviceLost,
    DeadLetters,
    /// The oldest record waiting in the outbox is older than the rule's minutes.
    OutboxOld,
    PaperNearEnd,
}

impl AlertRule {
    pub const ALL: [Self; 9] = [
        Self::AttendantCalled,
        Self::Offline,
        Self::StorageFailure,
        Self::PaymentDay,
        Self::PaperOut,
        Self::DeviceLost,
        Self::DeadLetters,
        Self::OutboxOld,
        Self::PaperNearEnd,
    ];

    /// The rules judged from a heartbeat's content (the others: silence, events, calls).
    const FROM_HEARTBEAT: [Self; 5] = [Self::PaperOut, Self::DeviceLost, Self::DeadLetters, Self::OutboxOld, Self::PaperNearEnd];

    pub fn name(self) -> &'static str {
        match self {
            Self::AttendantCalled => "attendant-called",
            Self::Offline => "offline",
            Self::StorageFailure => "storage-failure",
            Self::PaymentDay => "payment-day",
            Self::PaperOut => "paper-out",
            Self::DeviceLost => "device-lost",
            Self::DeadLetters => "dead-letters",
            Self::OutboxOld => "outbox-old",
            Self::PaperNearEnd => "paper-near-end",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.name() == name)
    }

    /// Whether staff's acknowledgement ends it (it reports something that happened, not a
    /// condition that lasts).
    fn one_off(self) -> bool {
        matches!(self, Self::StorageFailure | Self::PaymentDay)
    }

    /// The rule's threshold in minutes, where it has one, by default.
    pub fn default_minutes(self) -> Option<u32> {
        match self {
            Self::OutboxOld => Some(15),
            _ => None,
        }
    }
}

/// A rule as configured: on or off, and its threshold where it has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RuleSetting {
    pub rule: AlertRule,
    pub enabled: bool,
    pub minutes: Option<u32>,
}

/// An alert as staff see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Alert {
    pub alert_id: Uuid,
    pub kiosk_id: String,
    pub centre_id: String,
    pub rule: AlertRule,
    /// What in the kiosk it is about: a device class, a call's id; empty when the kiosk.
    pub subject: String,
    /// The rule's datum, which the console words in the reader's language: the device's own
    /// detail, how many dead letters, the outbox's oldest entry's age in minutes, the last
    /// heartbeat's time, the citizen's language, or the event's detail.
    pub detail: String,
    /// The screen the kiosk was showing (a citizen's call), by name.
    pub screen: String,
    pub raised_at: Timestamp,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<Timestamp>,
    pub cleared_at: Option<Timestamp>,
}

/// What a webhook is told.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlertChange {
    Raised,
    Acknowledged,
    Cleared,
}

/// A webhook delivery waiting to be made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub delivery_id: Uuid,
    pub body: String,
    pub attempts: u32,
}

/// How an acknowledgement went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Acknowledged {
    Done(Alert),
    /// Acknowledged before (by someone): nothing changed.
    Already(Alert),
    NotFound,
}

const ALERT_COLUMNS: &str =
    "alert_id, kiosk_id, centre_id, rule, subject, detail, screen, raised_at, acknowledged_by, acknowledged_at, cleared_at";

fn alert_of(row: &super::db::Row) -> Result<Alert, StoreError> {
    let id: String = row.get(0)?;
    let rule: String = row.get(3)?;
    let instant = |millis: i64| Timestamp::from_millisecond(millis).map_err(|e| StoreError::Corrupt(format!("alert {id}: {e}")));
    let optional = |millis: Option<i64>| millis.map(instant).transpose();
    Ok(Alert {
        alert_id: Uuid::parse_str(&id).map_err(|e| StoreError::Corrupt(format!("alert id {id:?}: {e}")))?,
        kiosk_id: row.get(1)?,
        centre_id: row.get(2)?,
        rule: AlertRule::from_name(&rule).ok_or_else(|| StoreError::Corrupt(format!("alert {id}: rule {rule:?}")))?,
        subject: row.get(4)?,
        detail: row.get(5)?,
        screen: row.get(6)?,
        raised_at: instant(row.get(7)?)?,
        acknowledged_by: row.get(8)?,
        acknowledged_at: optional(row.get(9)?)?,
        cleared_at: optional(row.get(10)?)?,
    })
}

/// A condition a rule found: the rule, its subject, its detail.
type Found = (AlertRule, String, String);

/// What the heartbeat's content says staff must act on, under `rules`.
fn found_in(heartbeat: &Heartbeat, rules: &[RuleSetting]) -> Vec<Found> {
    let setting = |rule: AlertRule| rules.iter().find(|s| s.rule == rule).filter(|s| s.enabled);
    let mut found = Vec::new();
    for device in &heartbeat.devices {
        let rule = match device.condition {
            DeviceCondition::PaperOut => AlertRule::PaperOut,
            DeviceCondition::PaperNearEnd => AlertRule::PaperNearEnd,
            DeviceCondition::CoverOpen | DeviceCondition::Offline | DeviceCondition::Fault => AlertRule::DeviceLost,
            DeviceCondition::Ok | DeviceCondition::NotFitted => continue,
        };
        if setting(rule).is_some() {
            found.push((rule, device_name(device.device), device.detail.clone()));
        }
    }
    if heartbeat.outbox.dead_letters > 0 && setting(AlertRule::DeadLetters).is_some() {
        found.push((AlertRule::DeadLetters, String::new(), heartbeat.outbox.dead_letters.to_string()));
    }
    if let (Some(rule), Some(age)) = (setting(AlertRule::OutboxOld), heartbeat.outbox.oldest_age_seconds) {
        let minutes = rule.minutes.unwrap_or(15);
        if age > u64::from(minutes) * 60 {
            found.push((AlertRule::OutboxOld, String::new(), (age / 60).to_string()));
        }
    }
    found
}

fn device_name(device: DeviceClass) -> String {
    serde_json::to_value(device).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// How a payment-day alert's detail holds the day's totals: `totals:TERMINAL:JOURNAL`, in avos.
fn day_totals_detail(totals: &DayTotals) -> String {
    format!("totals:{}:{}", totals.terminal_avos, totals.journal_avos)
}

/// The terminal's and the journal's totals of a payment-day alert's detail, in avos.
pub fn day_totals_of(detail: &str) -> Option<(u64, u64)> {
    let (terminal, journal) = detail.strip_prefix("totals:")?.split_once(':')?;
    Some((terminal.parse().ok()?, journal.parse().ok()?))
}

/// The rule an event raises, if any.
fn rule_of_event(event: &KioskEvent) -> Option<AlertRule> {
    match event.kind {
        KioskEventKind::StorageFailed | KioskEventKind::StorageIntegrityFailed => Some(AlertRule::StorageFailure),
        KioskEventKind::DayClosed | KioskEventKind::DayCloseFailed if event.severity == Severity::Critical => Some(AlertRule::PaymentDay),
        KioskEventKind::DeviceFault => Some(AlertRule::DeviceLost),
        _ => None,
    }
}

impl Store {
    /// Every rule as configured (a rule never set is on, with its default threshold).
    pub fn alert_rules(&self) -> Result<Vec<RuleSetting>, StoreError> {
        let rows = self.db.read(|tx| tx.query("SELECT rule, enabled, minutes FROM alert_rules", args![]))?;
        rules_of(&rows)
    }

    /// The rules, as read within the last [`RULES_FRESH`] (every heartbeat needs them; a change
    /// made on another instance is seen within that time).
    fn rules_in(&self, tx: &mut Tx<'_>) -> Result<Vec<RuleSetting>, StoreError> {
        let mut cached = self.alert_rules_read.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, rules)) = &*cached
            && at.elapsed() < RULES_FRESH
        {
            return Ok(rules.clone());
        }
        let rules = rules_of(&tx.query("SELECT rule, enabled, minutes FROM alert_rules", args![])?)?;
        *cached = Some((std::time::Instant::now(), rules.clone()));
        Ok(rules)
    }

    /// Turns a rule on or off and sets its threshold (for rules that have one).
    pub fn set_alert_rule(&self, setting: RuleSetting) -> Result<(), StoreError> {
        let minutes = setting.minutes.filter(|_| setting.rule.default_minutes().is_some()).map(i64::from);
        self.db.write(|tx| {
            tx.execute(
                "INSERT INTO alert_rules (rule, enabled, minutes) VALUES ($1, $2, $3)
                 ON CONFLICT (rule) DO UPDATE SET enabled = excluded.enabled, minutes = excluded.minutes",
                args![setting.rule.name(), i64::from(setting.enabled), minutes],
            )?;
            Ok::<_, StoreError>(())
        })?;
        // This instance applies the change at once.
        *self.alert_rules_read.lock().unwrap_or_else(|e| e.into_inner()) = None;
        Ok(())
    }

    /// Raises and clears `kiosk_id`'s alerts after its heartbeat (in the heartbeat's
    /// transaction): its silence is over, and what the heartbeat shows is what stays open.
    /// `maybe_open`: the kiosk's row says an alert of it may be open; when it does not and the
    /// heartbeat finds nothing, there is nothing to read.
    pub(super) fn heartbeat_alerts(&self, tx: &mut Tx<'_>, heartbeat: &Heartbeat, now: i64, maybe_open: bool) -> Result<(), StoreError> {
        let rules = self.rules_in(tx)?;
        let found = found_in(heartbeat, &rules);
        if found.is_empty() && !maybe_open {
            return Ok(());
        }
        let open =
            tx.query(&format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE kiosk_id = $1 AND cleared_at IS NULL"), args![heartbeat.kiosk_id])?;
        let open = open.iter().map(alert_of).collect::<Result<Vec<_>, _>>()?;
        let mut left_open = 0;
        for alert in &open {
            let managed = alert.rule == AlertRule::Offline || AlertRule::FROM_HEARTBEAT.contains(&alert.rule);
            let still = found.iter().any(|(rule, subject, _)| *rule == alert.rule && *subject == alert.subject);
            if managed && !still {
                self.clear(tx, alert, now)?;
            } else {
                left_open += 1;
            }
        }
        let mut raised = 0;
        for (rule, subject, detail) in found {
            if !open.iter().any(|a| a.rule == rule && a.subject == subject) {
                raised +=
                    usize::from(self.raise(tx, &heartbeat.kiosk_id, &heartbeat.centre_id, rule, &subject, &detail, "", now)?.is_some());
            }
        }
        if left_open == 0 && raised == 0 && maybe_open {
            tx.execute("UPDATE kiosks SET alerts_open = 0 WHERE kiosk_id = $1", args![heartbeat.kiosk_id])?;
        }
        Ok(())
    }

    /// Raises the alert an event calls for, if any (the event was new).
    pub(super) fn event_alert(&self, tx: &mut Tx<'_>, event: &KioskEvent, now: i64) -> Result<(), StoreError> {
        let Some(rule) = rule_of_event(event) else { return Ok(()) };
        let rules = self.rules_in(tx)?;
        if rules.iter().any(|s| s.rule == rule && s.enabled) {
            let subject = if rule.one_off() { event.event_id.to_string() } else { String::new() };
            // A day that does not add up carries its two totals, which the console words; the
            // kiosk's own text is for a day that did not close.
            let detail = match (&event.day_totals, event.kind) {
                (Some(totals), KioskEventKind::DayClosed) => day_totals_detail(totals),
                _ => event.detail.clone(),
            };
            self.raise(tx, &event.kiosk_id, &event.centre_id, rule, &subject, &detail, "", now)?;
        }
        Ok(())
    }

    /// Raises `rule` on a kiosk unless it is open already (on any instance: the open alerts'
    /// unique index decides), and queues its delivery to the webhook.
    #[allow(clippy::too_many_arguments, reason = "one alert's columns")]
    fn raise(
        &self,
        tx: &mut Tx<'_>,
        kiosk_id: &str,
        centre_id: &str,
        rule: AlertRule,
        subject: &str,
        detail: &str,
        screen: &str,
        now: i64,
    ) -> Result<Option<Alert>, StoreError> {
        let id = Uuid::now_v7();
        let inserted = tx.execute(
            "INSERT INTO alerts (alert_id, kiosk_id, centre_id, rule, subject, detail, screen, raised_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (kiosk_id, rule, subject) WHERE cleared_at IS NULL DO NOTHING",
            args![id.to_string(), kiosk_id, centre_id, rule.name(), subject, detail, screen, now],
        )?;
        if inserted == 0 {
            return Ok(None);
        }
        // The kiosk's heartbeats look at its alerts again.
        tx.execute("UPDATE kiosks SET alerts_open = 1 WHERE kiosk_id = $1 AND alerts_open = 0", args![kiosk_id])?;
        let alert = self.alert_in(tx, id)?.ok_or_else(|| StoreError::Corrupt(format!("alert {id} vanished")))?;
        self.queue_delivery(tx, AlertChange::Raised, &alert, now)?;
        Ok(Some(alert))
    }

    fn clear(&self, tx: &mut Tx<'_>, alert: &Alert, now: i64) -> Result<(), StoreError> {
        let changed = tx.execute(
            "UPDATE alerts SET cleared_at = $2 WHERE alert_id = $1 AND cleared_at IS NULL",
            args![alert.alert_id.to_string(), now],
        )?;
        if changed > 0 {
            let mut cleared = alert.clone();
            cleared.cleared_at = Timestamp::from_millisecond(now).ok();
            self.queue_delivery(tx, AlertChange::Cleared, &cleared, now)?;
        }
        Ok(())
    }

    fn alert_in(&self, tx: &mut Tx<'_>, id: Uuid) -> Result<Option<Alert>, StoreError> {
        tx.query_opt(&format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE alert_id = $1"), args![id.to_string()])?
            .map(|row| alert_of(&row))
            .transpose()
    }

    /// One alert.
    pub fn alert(&self, id: Uuid) -> Result<Option<Alert>, StoreError> {
        self.db.read(|tx| self.alert_in(tx, id))
    }

    /// Raises the offline alert of every kiosk silent for longer than the offline threshold,
    /// and ends citizens' calls open longer than [`CALL_LIFETIME`]. Any instance may run it at
    /// any time; what is open already stays as it is. Returns how many alerts it raised.
    pub fn sweep_alerts(&self, now: Timestamp) -> Result<usize, StoreError> {
        let silent_since = (now - self.offline_after()).as_millisecond();
        let now_ms = now.as_millisecond();
        let calls_before = (now - CALL_LIFETIME).as_millisecond();
        self.db.write(|tx| {
            let rules = rules_of(&tx.query("SELECT rule, enabled, minutes FROM alert_rules", args![])?)?;
            let mut raised = 0;
            if rules.iter().any(|s| s.rule == AlertRule::Offline && s.enabled) {
                let silent = tx.query(
                    "SELECT k.kiosk_id, k.centre_id, k.last_seen FROM kiosks k WHERE k.last_seen < $1 AND NOT EXISTS
                     (SELECT 1 FROM alerts a WHERE a.kiosk_id = k.kiosk_id AND a.rule = 'offline' AND a.cleared_at IS NULL)",
                    args![silent_since],
                )?;
                for row in silent {
                    let (kiosk_id, centre_id, last_seen): (String, String, i64) = (row.get(0)?, row.get(1)?, row.get(2)?);
                    let detail = Timestamp::from_millisecond(last_seen).map_or_else(|_| last_seen.to_string(), |t| t.to_string());
                    raised += usize::from(self.raise(tx, &kiosk_id, &centre_id, AlertRule::Offline, "", &detail, "", now_ms)?.is_some());
                }
            }
            let stale = tx.query(
                &format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE rule = 'attendant-called' AND cleared_at IS NULL AND raised_at < $1"),
                args![calls_before],
            )?;
            for row in stale {
                self.clear(tx, &alert_of(&row)?, now_ms)?;
            }
            Ok(raised)
        })
    }

    /// The alerts staff see: every open one, then those cleared within `recent`, newest first.
    /// `centres`: only those centres' kiosks (`None`: all).
    pub fn alerts(&self, centres: Option<&[String]>, recent: SignedDuration) -> Result<Vec<Alert>, StoreError> {
        let since = (Timestamp::now() - recent).as_millisecond();
        let rows = self.db.read(|tx| {
            tx.query(
                &format!(
                    "SELECT {ALERT_COLUMNS} FROM alerts WHERE cleared_at IS NULL OR cleared_at > $1 ORDER BY raised_at DESC LIMIT 1000"
                ),
                args![since],
            )
        })?;
        let mut alerts = rows.iter().map(alert_of).collect::<Result<Vec<_>, _>>()?;
        alerts.retain(|a| centres.is_none_or(|centres| centres.contains(&a.centre_id)));
        // Open first, the most urgent rule first, then newest.
        alerts.sort_by(|a, b| {
            (a.cleared_at.is_some(), a.rule, std::cmp::Reverse(a.raised_at)).cmp(&(
                b.cleared_at.is_some(),
                b.rule,
                std::cmp::Reverse(b.raised_at),
            ))
        });
        Ok(alerts)
    }

    /// A staff member acknowledges an alert. A one-off alert ends with it.
    pub fn acknowledge_alert(&self, id: Uuid, by: &str) -> Result<Acknowledged, StoreError> {
        let now = Timestamp::now().as_millisecond();
        self.db.write(|tx| {
            let Some(alert) = self.alert_in(tx, id)? else { return Ok(Acknowledged::NotFound) };
            if alert.acknowledged_at.is_some() {
                return Ok(Acknowledged::Already(alert));
            }
            let clears = alert.rule.one_off() && alert.cleared_at.is_none();
            tx.execute(
                "UPDATE alerts SET acknowledged_by = $2, acknowledged_at = $3,
                 cleared_at = CASE WHEN $4 = 1 THEN COALESCE(cleared_at, $3) ELSE cleared_at END WHERE alert_id = $1",
                args![id.to_string(), by, now, i64::from(clears)],
            )?;
            let alert = self.alert_in(tx, id)?.ok_or_else(|| StoreError::Corrupt(format!("alert {id} vanished")))?;
            self.queue_delivery(tx, AlertChange::Acknowledged, &alert, now)?;
            Ok(Acknowledged::Done(alert))
        })
    }

    /// A citizen at `call.kiosk_id` asks for an attendant: the call is an alert at once. A
    /// repeat of the same call changes nothing.
    pub fn call_attendant(&self, call: &AttendantCall) -> Result<AttendantCallStatus, StoreError> {
        let now = Timestamp::now().as_millisecond();
        let subject = call.call_id.to_string();
        self.db.write(|tx| {
            let enabled = rules_of(&tx.query("SELECT rule, enabled, minutes FROM alert_rules", args![])?)?
                .iter()
                .any(|s| s.rule == AlertRule::AttendantCalled && s.enabled);
            // A call staff cannot see is no call: refused rather than silently dropped.
            if !enabled {
                return Ok(AttendantCallStatus { call_id: call.call_id, acknowledged_at: None, ended: true });
            }
            let detail = call.language.tag().to_string();
            self.raise(tx, &call.kiosk_id, &call.centre_id, AlertRule::AttendantCalled, &subject, &detail, &call.screen, now)?;
            self.call_status_in(tx, &call.kiosk_id, call.call_id)
                .map(|status| status.unwrap_or(AttendantCallStatus { call_id: call.call_id, acknowledged_at: None, ended: true }))
        })
    }

    fn call_status_in(&self, tx: &mut Tx<'_>, kiosk_id: &str, call_id: Uuid) -> Result<Option<AttendantCallStatus>, StoreError> {
        let row = tx.query_opt(
            &format!(
                "SELECT {ALERT_COLUMNS} FROM alerts WHERE kiosk_id = $1 AND rule = 'attendant-called' AND subject = $2
                 ORDER BY raised_at DESC LIMIT 1"
            ),
            args![kiosk_id, call_id.to_string()],
        )?;
        row.map(|row| {
            let alert = alert_of(&row)?;
            Ok(AttendantCallStatus { call_id, acknowledged_at: alert.acknowledged_at, ended: alert.cleared_at.is_some() })
        })
        .transpose()
    }

    /// Where `kiosk_id`'s call stands; `None` if the kiosk has no such call (another kiosk's
    /// call is no call of its own).
    pub fn attendant_call(&self, kiosk_id: &str, call_id: Uuid) -> Result<Option<AttendantCallStatus>, StoreError> {
        self.db.read(|tx| self.call_status_in(tx, kiosk_id, call_id))
    }

    /// The kiosk ends its call (the citizen was helped, cancelled or left). `false` if it had
    /// no such call.
    pub fn end_attendant_call(&self, kiosk_id: &str, call_id: Uuid) -> Result<bool, StoreError> {
        let now = Timestamp::now().as_millisecond();
        self.db.write(|tx| {
            let row = tx.query_opt(
                &format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE kiosk_id = $1 AND rule = 'attendant-called' AND subject = $2"),
                args![kiosk_id, call_id.to_string()],
            )?;
            let Some(row) = row else { return Ok(false) };
            self.clear(tx, &alert_of(&row)?, now)?;
            Ok(true)
        })
    }

    /// Sets whether alerts' changes are queued for a webhook (central has one configured).
    pub fn set_alert_webhook(&self, on: bool) {
        self.webhook.store(on, std::sync::atomic::Ordering::Relaxed);
    }

    fn queue_delivery(&self, tx: &mut Tx<'_>, change: AlertChange, alert: &Alert, now: i64) -> Result<(), StoreError> {
        if !self.webhook.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(());
        }
        #[derive(Serialize)]
        struct Body<'a> {
            change: AlertChange,
            delivery_id: Uuid,
            alert: &'a Alert,
        }
        let delivery_id = Uuid::now_v7();
        let body = serde_json::to_string(&Body { change, delivery_id, alert }).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        tx.execute(
            "INSERT INTO alert_deliveries (delivery_id, alert_id, body, created_at, attempts, next_at) VALUES ($1, $2, $3, $4, 0, $4)",
            args![delivery_id.to_string(), alert.alert_id.to_string(), body, now],
        )?;
        Ok(())
    }

    /// Takes up to `limit` deliveries that are due, each leased for `lease` so no other
    /// instance takes it meanwhile (a delivery whose instance died is taken again after it).
    pub fn take_deliveries(&self, now: Timestamp, lease: SignedDuration, limit: u32) -> Result<Vec<Delivery>, StoreError> {
        let (now_ms, until) = (now.as_millisecond(), (now + lease).as_millisecond());
        self.db.write(|tx| {
            let due = tx.query(
                "SELECT delivery_id, body, attempts, next_at FROM alert_deliveries WHERE delivered_at IS NULL AND next_at <= $1
                 ORDER BY next_at LIMIT $2",
                args![now_ms, i64::from(limit)],
            )?;
            let mut taken = Vec::new();
            for row in due {
                let (id, body, attempts, next_at): (String, String, i64, i64) = (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?);
                // Taken only if nobody took it since it was read.
                let leased = tx.execute(
                    "UPDATE alert_deliveries SET next_at = $3 WHERE delivery_id = $1 AND next_at = $2 AND delivered_at IS NULL",
                    args![id, next_at, until],
                )?;
                if leased == 1 {
                    let delivery_id = Uuid::parse_str(&id).map_err(|e| StoreError::Corrupt(format!("delivery {id:?}: {e}")))?;
                    taken.push(Delivery { delivery_id, body, attempts: u32::try_from(attempts).unwrap_or(u32::MAX) });
                }
            }
            Ok(taken)
        })
    }

    /// Files how a delivery went: delivered, or tried again at `retry_at` (`None`: given up).
    pub fn delivery_done(&self, id: Uuid, result: Result<(), (String, Option<Timestamp>)>) -> Result<(), StoreError> {
        let now = Timestamp::now().as_millisecond();
        self.db.write(|tx| {
            match &result {
                Ok(()) => tx.execute(
                    "UPDATE alert_deliveries SET delivered_at = $2, attempts = attempts + 1, last_error = NULL WHERE delivery_id = $1",
                    args![id.to_string(), now],
                )?,
                Err((error, retry_at)) => {
                    // Given up: kept, marked delivered never, out of the due index's way.
                    let next = retry_at.map_or(i64::MAX, Timestamp::as_millisecond);
                    tx.execute(
                        "UPDATE alert_deliveries SET attempts = attempts + 1, next_at = $2, last_error = $3 WHERE delivery_id = $1",
                        args![id.to_string(), next, error],
                    )?
                }
            };
            Ok(())
        })
    }

    /// Deliveries not yet made (for the console and the tests): how many, and the last error.
    pub fn undelivered(&self) -> Result<(u64, Option<String>), StoreError> {
        self.db.read(|tx| {
            let row = tx.query_one("SELECT COUNT(*) FROM alert_deliveries WHERE delivered_at IS NULL", args![])?;
            let count: i64 = row.get(0)?;
            let last = tx.query_opt(
                "SELECT last_error FROM alert_deliveries WHERE last_error IS NOT NULL AND delivered_at IS NULL ORDER BY created_at DESC LIMIT 1",
                args![],
            )?;
            Ok((u64::try_from(count).unwrap_or(0), last.map(|r| r.get(0)).transpose()?))
        })
    }
}

fn rules_of(rows: &[super::db::Row]) -> Result<Vec<RuleSetting>, StoreError> {
    let mut settings: Vec<RuleSetting> =
        AlertRule::ALL.iter().map(|&rule| RuleSetting { rule, enabled: true, minutes: rule.default_minutes() }).collect();
    for row in rows {
        let (rule, enabled, minutes): (String, i64, Option<i64>) = (row.get(0)?, row.get(1)?, row.get(2)?);
        if let Some(setting) = settings.iter_mut().find(|s| s.rule.name() == rule) {
            setting.enabled = enabled != 0;
            if setting.rule.default_minutes().is_some() {
                setting.minutes = minutes.and_then(|m| u32::try_from(m).ok()).or(setting.rule.default_minutes());
            }
        }
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payment_days_totals_go_into_its_detail_and_come_back() {
        let totals = DayTotals { terminal_avos: 4000, journal_avos: 3000, payments: 1 };
        assert_eq!(day_totals_of(&day_totals_detail(&totals)), Some((4000, 3000)));
        for other in ["", "end of day", "totals:12", "totals:x:1", "totals:-1:2"] {
            assert_eq!(day_totals_of(other), None, "{other:?}");
        }
    }
}
