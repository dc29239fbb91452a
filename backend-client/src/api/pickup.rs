//! Certificates ready for pickup at a centre, and pickups recorded by kiosks.
//!
//! A kiosk keeps a copy of the certificates ready at its centre so it can hand them out while
//! central cannot be reached. It follows a change feed with a sync token: each page carries the
//! token to ask for what changed after it. A token central no longer knows (too old, or from
//! another database) gets 410 Gone, and the kiosk starts again without one: a full list.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use super::holder::{HolderCheck, normalise_document_number};

/// Most entries central puts on one page of the feed.
pub const MAX_FEED_PAGE: usize = 200;

/// A certificate waiting at a centre, with its printable document.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReadyCertificate {
    pub application_id: Uuid,
    /// The application number on the citizen's receipt.
    pub reference: String,
    pub service_id: String,
    pub holder: HolderCheck,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub ready_at: Timestamp,
    /// The certificate as a PDF, base64 (standard alphabet, padded).
    pub document_pdf: String,
    /// The agency's signature of the PDF: a kiosk prints only a file it verifies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<super::DocumentSignature>,
}

impl std::fmt::Debug for ReadyCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadyCertificate").field("application_id", &self.application_id).finish_non_exhaustive()
    }
}

/// One page of the feed of certificates ready at a centre.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CertificateChanges {
    /// Give this as `since` to get what changed after this page.
    pub token: String,
    /// This page starts the full list: forget what you have. The list goes on over the pages
    /// that follow while `more` is true; apply it once it is whole.
    pub reset: bool,
    /// Certificates that became ready (or changed), in feed order.
    pub ready: Vec<ReadyCertificate>,
    /// Certificates no longer to be handed out here (collected, or withdrawn).
    pub gone: Vec<Uuid>,
    /// Another page follows; ask again with `token` right away.
    pub more: bool,
}

/// What the kiosk knows of how a pickup ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum PickupOutcome {
    /// The printer reported the certificate printed.
    Printed,
    /// The kiosk stopped while printing: the certificate may have come out. Staff check.
    Uncertain,
}

/// A certificate handed out at a kiosk. `pickup_id` is also the `Idempotency-Key`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PickupRecord {
    pub pickup_id: Uuid,
    /// The application whose certificate it is: one issued at the kiosk's own centre.
    pub application_id: Uuid,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 32, pattern = "^[A-Za-z0-9-]{1,32}$"))]
    pub kiosk_id: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 32, pattern = "^[A-Za-z0-9-]{1,32}$"))]
    pub centre_id: String,
    pub outcome: PickupOutcome,
    /// The kiosk could not reach central when it handed the certificate out.
    pub offline: bool,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub collected_at: Timestamp,
}

/// How central filed a pickup.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum PickupVerdict {
    /// The first pickup of this certificate.
    Recorded,
    /// The certificate had already been handed out by another pickup (two kiosks offline at
    /// once): recorded too, and flagged for staff.
    Duplicate,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PickupReceipt {
    pub pickup_id: Uuid,
    pub verdict: PickupVerdict,
}
