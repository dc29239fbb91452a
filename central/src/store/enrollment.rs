//! Enrolling kiosks: one-time tokens an administrator makes (kept only as their SHA-256), the
//! certificates central's kiosk CA issued, and revocations — the same tables on both
//! databases.
//!
//! A revocation names a kiosk and a moment: every certificate of that kiosk issued before it
//! is refused (each request is checked, see `api::auth`), including certificates made by hand
//! before enrollment existed; a kiosk enrolled again afterwards gets a certificate issued after
//! it, which is accepted.

use balcao_backend_client::api::EnrollmentToken;
use jiff::{SignedDuration, Timestamp};

use super::db::args;
use super::{Store, StoreError};

pub(super) const ENROLLMENT_SCHEMA: &str = "
    CREATE TABLE enrollment_tokens (
        token_hash TEXT PRIMARY KEY,
        kiosk_id TEXT NOT NULL,
        centre_id TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        used_at BIGINT,
        used_from TEXT
    );
    CREATE INDEX enrollment_tokens_created ON enrollment_tokens(created_at);
    CREATE TABLE kiosk_certificates (
        serial TEXT PRIMARY KEY,
        kiosk_id TEXT NOT NULL,
        centre_id TEXT NOT NULL,
        issued_at BIGINT NOT NULL,
        not_after BIGINT NOT NULL,
        how TEXT NOT NULL
    );
    CREATE INDEX kiosk_certificates_kiosk ON kiosk_certificates(kiosk_id, issued_at);
    CREATE TABLE kiosk_revocations (
        kiosk_id TEXT PRIMARY KEY,
        revoked_at BIGINT NOT NULL,
        revoked_by TEXT NOT NULL
    );
";

/// Kiosks decommissioned, added at migration 17 (both databases).
pub(super) const RETIRED_SCHEMA: &str = "
    CREATE TABLE retired_kiosks (
        kiosk_id TEXT PRIMARY KEY,
        centre_id TEXT NOT NULL,
        retired_at BIGINT NOT NULL,
        exported_records BIGINT NOT NULL
    );
";

/// How long a token lasts unless its maker says otherwise.
pub const TOKEN_LIFETIME: SignedDuration = SignedDuration::from_hours(24);
/// The longest a token may be made to last.
pub const MAX_TOKEN_LIFETIME: SignedDuration = SignedDuration::from_hours(7 * 24);

/// A token as the console lists it (never the token itself, which is shown once).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRecord {
    pub kiosk_id: String,
    pub centre_id: String,
    pub created_by: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub used_at: Option<Timestamp>,
    pub used_from: Option<String>,
}

/// Why a token was not taken. Each says what the technician should do.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenRefusal {
    #[error("central issued no such token: check it was typed as given, or ask the administrator for a new one")]
    Unknown,
    #[error("this token was used already, at {at} from {from}: ask the administrator for a new one")]
    Used { at: Timestamp, from: String },
    #[error("this token expired at {0}: ask the administrator for a new one")]
    Expired(Timestamp),
    #[error(
        "this token enrolls kiosk {kiosk_id} at centre {centre_id}, not the kiosk this one is configured as: check the token, or the configuration's kiosk.id and kiosk.centre_id"
    )]
    OtherKiosk { kiosk_id: String, centre_id: String },
}

/// Why a token was not made.
#[derive(Debug, thiserror::Error)]
pub enum TokenNotMade {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a redeemed token enrolls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Enrolling {
    pub kiosk_id: String,
    pub centre_id: String,
}

/// A certificate the kiosk CA issued, as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateRecord {
    pub serial: String,
    pub kiosk_id: String,
    pub centre_id: String,
    pub issued_at: Timestamp,
    pub not_after: Timestamp,
    /// `enrolled` or `renewed`.
    pub how: String,
}

fn timestamp(ms: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_millisecond(ms).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl Store {
    /// Makes a one-time token that enrolls `kiosk_id` at `centre_id`, lasting `lifetime`
    /// (at most [`MAX_TOKEN_LIFETIME`]). Returns it: it is not kept, only its hash.
    pub fn create_enrollment_token(
        &self,
        kiosk_id: &str,
        centre_id: &str,
        created_by: &str,
        lifetime: SignedDuration,
    ) -> Result<(EnrollmentToken, Timestamp), TokenNotMade> {
        for (what, id) in [("kiosk", kiosk_id), ("centre", centre_id)] {
            if !crate::tls::is_kiosk_id(id) {
                return Err(TokenNotMade::Invalid(format!("{id:?} is not a {what} name: 1 to 32 letters, digits and '-'")));
            }
        }
        if lifetime <= SignedDuration::ZERO || lifetime > MAX_TOKEN_LIFETIME {
            return Err(TokenNotMade::Invalid(format!("a token lasts from a minute to {} hours", MAX_TOKEN_LIFETIME.as_hours())));
        }
        let token = EnrollmentToken::generate();
        let now = Timestamp::now();
        let expires = now + lifetime;
        self.db.write(|tx| {
            tx.execute(
                "INSERT INTO enrollment_tokens (token_hash, kiosk_id, centre_id, created_by, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                args![token.hash(), kiosk_id, centre_id, created_by, now.as_millisecond(), expires.as_millisecond()],
            )
        })?;
        Ok((token, expires))
    }

    /// Takes the token whose hash is `token_hash`, once, for a technician at `from`: on every
    /// instance at once, only one enrollment gets it. `expect` is the kiosk and centre the
    /// technician's configuration names, where it names them: a token made for another is
    /// refused and left unused.
    pub fn redeem_enrollment_token(
        &self,
        token_hash: &str,
        from: &str,
        expect: (Option<&str>, Option<&str>),
    ) -> Result<Result<Enrolling, TokenRefusal>, StoreError> {
        let now = Timestamp::now();
        self.db.write(|tx| {
            let Some(row) = tx.query_opt(
                "SELECT kiosk_id, centre_id, expires_at, used_at, used_from FROM enrollment_tokens WHERE token_hash = $1",
                args![token_hash],
            )?
            else {
                return Ok(Err(TokenRefusal::Unknown));
            };
            if let Some(used) = row.get::<Option<i64>>(3)? {
                return Ok(Err(TokenRefusal::Used { at: timestamp(used)?, from: row.get::<Option<String>>(4)?.unwrap_or_default() }));
            }
            let expires = timestamp(row.get(2)?)?;
            if expires <= now {
                return Ok(Err(TokenRefusal::Expired(expires)));
            }
            let (kiosk_id, centre_id): (String, String) = (row.get(0)?, row.get(1)?);
            if expect.0.is_some_and(|k| k != kiosk_id) || expect.1.is_some_and(|c| c != centre_id) {
                return Ok(Err(TokenRefusal::OtherKiosk { kiosk_id, centre_id }));
            }
            // The first to mark it used has it (another instance may be reading it now).
            let taken = tx.execute(
                "UPDATE enrollment_tokens SET used_at = $2, used_from = $3 WHERE token_hash = $1 AND used_at IS NULL",
                args![token_hash, now.as_millisecond(), from],
            )?;
            if taken != 1 {
                return Ok(Err(TokenRefusal::Used { at: now, from: "another request".into() }));
            }
            // A kiosk enrolled again is in service again.
            tx.execute("DELETE FROM retired_kiosks WHERE kiosk_id = $1", args![kiosk_id])?;
            Ok(Ok(Enrolling { kiosk_id, centre_id }))
        })
    }

    /// The tokens made, newest first.
    pub fn enrollment_tokens(&self, limit: u32) -> Result<Vec<TokenRecord>, StoreError> {
        let rows = self.db.read(|tx| {
            tx.query(
                "SELECT kiosk_id, centre_id, created_by, created_at, expires_at, used_at, used_from FROM enrollment_tokens
                 ORDER BY created_at DESC LIMIT $1",
                args![limit],
            )
        })?;
        rows.iter()
            .map(|r| {
                Ok(TokenRecord {
                    kiosk_id: r.get(0)?,
                    centre_id: r.get(1)?,
                    created_by: r.get(2)?,
                    created_at: timestamp(r.get(3)?)?,
                    expires_at: timestamp(r.get(4)?)?,
                    used_at: r.get::<Option<i64>>(5)?.map(timestamp).transpose()?,
                    used_from: r.get(6)?,
                })
            })
            .collect()
    }

    /// Keeps a certificate the kiosk CA issued.
    pub fn record_kiosk_certificate(&self, record: &CertificateRecord) -> Result<(), StoreError> {
        self.db.write(|tx| {
            tx.execute(
                "INSERT INTO kiosk_certificates (serial, kiosk_id, centre_id, issued_at, not_after, how) VALUES ($1, $2, $3, $4, $5, $6)",
                args![
                    record.serial,
                    record.kiosk_id,
                    record.centre_id,
                    record.issued_at.as_millisecond(),
                    record.not_after.as_millisecond(),
                    record.how
                ],
            )
        })?;
        Ok(())
    }

    /// The certificates issued to `kiosk_id`, newest first.
    pub fn kiosk_certificates(&self, kiosk_id: &str) -> Result<Vec<CertificateRecord>, StoreError> {
        let rows = self.db.read(|tx| {
            tx.query(
                "SELECT serial, kiosk_id, centre_id, issued_at, not_after, how FROM kiosk_certificates WHERE kiosk_id = $1
                 ORDER BY issued_at DESC LIMIT 20",
                args![kiosk_id],
            )
        })?;
        rows.iter()
            .map(|r| {
                Ok(CertificateRecord {
                    serial: r.get(0)?,
                    kiosk_id: r.get(1)?,
                    centre_id: r.get(2)?,
                    issued_at: timestamp(r.get(3)?)?,
                    not_after: timestamp(r.get(4)?)?,
                    how: r.get(5)?,
                })
            })
            .collect()
    }

    /// Revokes every certificate of `kiosk_id` issued up to now. Returns the moment from which
    /// a certificate of it is good again (the next whole second: certificates count in seconds).
    pub fn revoke_kiosk(&self, kiosk_id: &str, by: &str) -> Result<Timestamp, StoreError> {
        let now = Timestamp::now();
        let from = Timestamp::from_second(now.as_second() + 1).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.db.write(|tx| {
            tx.execute(
                "INSERT INTO kiosk_revocations (kiosk_id, revoked_at, revoked_by) VALUES ($1, $2, $3)
                 ON CONFLICT (kiosk_id) DO UPDATE SET revoked_at = excluded.revoked_at, revoked_by = excluded.revoked_by",
                args![kiosk_id, from.as_millisecond(), by],
            )
        })?;
        Ok(from)
    }

    /// Retires a decommissioned kiosk in one transaction: it leaves the fleet (its history
    /// stays), its open alerts close, and every certificate it has is revoked. Returns from when
    /// a new certificate of the same name would be good (it must be enrolled again).
    pub fn retire_kiosk(&self, kiosk_id: &str, centre_id: &str, exported_records: u32) -> Result<Timestamp, StoreError> {
        let now = Timestamp::now();
        let from = Timestamp::from_second(now.as_second() + 1).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.db.write(|tx| {
            tx.execute(
                "INSERT INTO retired_kiosks (kiosk_id, centre_id, retired_at, exported_records) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (kiosk_id) DO UPDATE SET centre_id = excluded.centre_id, retired_at = excluded.retired_at,
                 exported_records = excluded.exported_records",
                args![kiosk_id, centre_id, now.as_millisecond(), exported_records],
            )?;
            tx.execute("DELETE FROM kiosks WHERE kiosk_id = $1", args![kiosk_id])?;
            tx.execute(
                "UPDATE alerts SET cleared_at = $2 WHERE kiosk_id = $1 AND cleared_at IS NULL",
                args![kiosk_id, now.as_millisecond()],
            )?;
            tx.execute(
                "INSERT INTO kiosk_revocations (kiosk_id, revoked_at, revoked_by) VALUES ($1, $2, 'decommissioned')
                 ON CONFLICT (kiosk_id) DO UPDATE SET revoked_at = excluded.revoked_at, revoked_by = excluded.revoked_by",
                args![kiosk_id, from.as_millisecond()],
            )
        })?;
        Ok(from)
    }

    /// The kiosks decommissioned, newest first: kiosk, centre, when, records exported.
    pub fn retired_kiosks(&self) -> Result<Vec<(String, String, Timestamp, u32)>, StoreError> {
        let rows = self.db.read(|tx| {
            tx.query(
                "SELECT kiosk_id, centre_id, retired_at, exported_records FROM retired_kiosks ORDER BY retired_at DESC LIMIT 100",
                args![],
            )
        })?;
        rows.iter().map(|r| Ok((r.get(0)?, r.get(1)?, timestamp(r.get(2)?)?, r.get(3)?))).collect()
    }

    /// Every revoked kiosk with the moment its certificates issued before are refused.
    pub fn revocations(&self) -> Result<std::collections::HashMap<String, Timestamp>, StoreError> {
        let rows = self.db.read(|tx| tx.query("SELECT kiosk_id, revoked_at FROM kiosk_revocations", args![]))?;
        rows.iter().map(|r| Ok((r.get::<String>(0)?, timestamp(r.get(1)?)?))).collect()
    }
}
