//! The public keys of the identity provider that signs the government app's sign-in codes.
//! Kiosks cache them (fetched by `ETag`, like the catalog) so they can check a sign-in code
//! while central cannot be reached.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// One signing key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IssuerKey {
    /// Key id, named in each signed token.
    pub kid: String,
    /// Signature algorithm; `Ed25519` for now.
    pub alg: String,
    /// The raw public key, base64url without padding.
    pub public_key: String,
    /// Tokens signed by this key are not accepted after this time (rotation).
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub not_after: Timestamp,
}

/// The keys a kiosk accepts sign-in codes from, newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IssuerKeys {
    pub issuer: String,
    pub keys: Vec<IssuerKey>,
}
