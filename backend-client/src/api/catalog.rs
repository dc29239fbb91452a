use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use super::{Answer, CounterQueue, FormField, LocalizedText};

/// The service catalog a kiosk offers, as one snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Catalog {
    /// Changes whenever anything in the catalog changes; the `ETag` is derived from the content.
    pub version: String,
    pub services: Vec<Service>,
    /// The centre's counter queues a kiosk issues tickets for (none in catalogs from before
    /// queues existed).
    #[serde(default)]
    pub queues: Vec<CounterQueue>,
}

impl Catalog {
    pub fn service(&self, id: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.id == id)
    }

    pub fn queue(&self, id: &str) -> Option<&CounterQueue> {
        self.queues.iter().find(|q| q.id == id)
    }
}

/// The agency that provides a service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Agency {
    pub id: String,
    pub name: LocalizedText,
}

/// What the citizen gets at the kiosk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ServiceKind {
    /// An application that the agency processes (the citizen gets a receipt).
    Application,
    /// A booking of a counter appointment (online only).
    Appointment,
}

/// How the result reaches the citizen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// Printed at a kiosk of the centre once ready.
    PrintAtKiosk,
    CollectAtCounter,
    Electronic,
}

/// How sure the kiosk must be of who the applicant is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum IdentityLevel {
    /// Anyone may apply; identity is declared in the form.
    Declared,
    /// A signed sign-in QR from the government app, or better.
    App,
    /// The chip of an identity document.
    Chip,
}

/// A kiosk device a service cannot do without.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeviceNeed {
    PaymentTerminal,
    ReceiptPrinter,
    DocumentPrinter,
    IdentityReader,
    CodeScanner,
}

/// One entry of the catalog.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Service {
    /// Stable id, e.g. `criminal-record-certificate`.
    pub id: String,
    pub kind: ServiceKind,
    pub name: LocalizedText,
    pub description: LocalizedText,
    pub agency: Agency,
    /// Fee in avos (1 MOP = 100 avos); 0 for free services. Per copy when `copies_field` is set.
    pub fee_avos: u64,
    pub identity_level: IdentityLevel,
    pub form: Vec<FormField>,
    pub delivery: Delivery,
    /// Working days until the result is ready.
    pub processing_days: u16,
    pub devices: Vec<DeviceNeed>,
    /// Whether the kiosk may accept it while the central platform cannot be reached.
    pub offline_capable: bool,
    /// The form's number field that says how many copies the citizen orders: the fee is
    /// charged, and the certificate issued, once per copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copies_field: Option<String>,
}

impl Service {
    /// How many copies `answers` order: the copies field's number, 1 without one.
    pub fn copies(&self, answers: &BTreeMap<String, Answer>) -> u32 {
        match self.copies_field.as_ref().and_then(|field| answers.get(field)) {
            Some(Answer::Number(n)) => u32::try_from(*n).unwrap_or(1).max(1),
            _ => 1,
        }
    }

    /// The fee for `answers`: the catalog's fee times the copies they order.
    pub fn fee_for(&self, answers: &BTreeMap<String, Answer>) -> u64 {
        self.fee_avos.saturating_mul(u64::from(self.copies(answers)))
    }
}
