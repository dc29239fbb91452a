use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What happened at a kiosk that the fleet's monitoring must see.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum KioskEventKind {
    /// The database failed its check at start-up: the kiosk refuses service.
    StorageIntegrityFailed,
    /// A write to the database failed (disk, file): the kiosk stops and restarts.
    StorageFailed,
    /// Central refused a queued write for good; it is kept on the kiosk for a technician.
    DeadLetter,
    /// The payment terminal closed its day; the detail sets its total beside the kiosk's
    /// journal. `critical` when they differ.
    DayClosed,
    /// The payment terminal did not close its day when it was due (its host unreachable, the
    /// terminal refusing): payments go on, the close is tried again. `critical` once the
    /// longest interval has passed.
    DayCloseFailed,
    /// A delivered service's card reservation could not be booked (it lapsed): staff must
    /// collect the fee another way.
    PaymentLapsed,
    /// A device's driver failed unexpectedly (a bug, or what the device sent): the job it was
    /// doing failed, the driver was made anew. The detail names the device.
    DeviceFault,
    /// A certificate's file did not verify (altered, or signed by a key the kiosk does not
    /// accept): it was not printed nor handed out. The detail names why, never the holder.
    CertificateRejected,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    Info,
    Warning,
    /// Someone must act: the kiosk is out of service or something is kept aside.
    Critical,
}

/// An event a kiosk reports. `event_id` is also the `Idempotency-Key`. `detail` is for
/// technicians and never holds personal data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KioskEvent {
    pub event_id: Uuid,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 32, pattern = "^[A-Za-z0-9-]{1,32}$"))]
    pub kiosk_id: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 32, pattern = "^[A-Za-z0-9-]{1,32}$"))]
    pub centre_id: String,
    pub kind: KioskEventKind,
    pub severity: Severity,
    /// For technicians; at most 2000 bytes.
    #[cfg_attr(feature = "openapi", schema(max_length = 2000))]
    pub detail: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: Timestamp,
    /// A `day-closed` event's figures, for central to reconcile without reading `detail`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day_totals: Option<DayTotals>,
}

/// A payment terminal's day, as the terminal and the kiosk's journal each count it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DayTotals {
    /// What the terminal booked since its previous close, in avos.
    pub terminal_avos: u64,
    /// What the kiosk's journal captured over the same span, in avos.
    pub journal_avos: u64,
    /// How many payments the journal captured over it.
    pub payments: u64,
}

impl DayTotals {
    /// Whether the terminal and the journal agree to the avo.
    pub fn agree(&self) -> bool {
        self.terminal_avos == self.journal_avos
    }

    /// How a closed day is reported: information when the totals agree; critical when they
    /// differ (money the kiosk did not account for, or a charge the terminal lost).
    pub fn severity(&self) -> Severity {
        if self.agree() { Severity::Info } else { Severity::Critical }
    }
}
