use serde::{Deserialize, Serialize};

use super::FieldError;

/// An error body (RFC 9457 `application/problem+json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Problem {
    /// A URI naming the kind of problem, e.g. `urn:balcao:problem:idempotency-key-reused`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Per-field errors of a refused form.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
}

/// One field's error in a [`Problem`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldProblem {
    pub field: String,
    pub error: FieldError,
}

impl Problem {
    pub fn new(status: u16, kind: &str, title: impl Into<String>) -> Self {
        Self { kind: format!("urn:balcao:problem:{kind}"), title: title.into(), status, detail: None, errors: Vec::new() }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// The short name after `urn:balcao:problem:`.
    pub fn short_kind(&self) -> &str {
        self.kind.strip_prefix("urn:balcao:problem:").unwrap_or(&self.kind)
    }
}
