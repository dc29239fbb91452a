//! Sign-in codes from the government app, checked offline: the signature against the issuer
//! keys cached from central, then the code's nonce against those already accepted here, so a
//! code (a screenshot, say) signs in once.

use balcao_backend_client::api::IssuerKeys;
use balcao_backend_client::api::signin::{self, CLOCK_SKEW_SECS, SignInClaims, SignInRefusal};
use jiff::Timestamp;
use rusqlite::params;

use super::{Store, StoreError};
use crate::runtime::sync::ISSUER_KEYS;

impl Store {
    /// Checks a scanned sign-in code for this kiosk (of `centre`, id `kiosk`) at `now`, and
    /// records its nonce, durably, before saying it is good.
    pub fn accept_sign_in(
        &mut self,
        code: &str,
        now: Timestamp,
        centre: &str,
        kiosk: &str,
    ) -> Result<Result<SignInClaims, SignInRefusal>, StoreError> {
        let Some((_, body)) = self.reference_data(ISSUER_KEYS)? else {
            // The keys never reached this kiosk: nothing can be checked.
            return Ok(Err(SignInRefusal::UnknownKey));
        };
        let keys: IssuerKeys = serde_json::from_str(&body).map_err(|e| StoreError::Corrupt(format!("cached issuer keys: {e}")))?;
        let claims = match signin::verify(code, &keys, now, centre, kiosk) {
            Ok(claims) => claims,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM sign_in_nonces WHERE expires_at < ?1", [now.as_second()])?;
        let fresh = tx.execute(
            "INSERT INTO sign_in_nonces (nonce, expires_at) VALUES (?1, ?2) ON CONFLICT (nonce) DO NOTHING",
            params![claims.nonce, claims.exp + CLOCK_SKEW_SECS],
        )?;
        tx.commit()?;
        Ok(if fresh == 1 { Ok(claims) } else { Err(SignInRefusal::Replayed) })
    }
}
