//! Central's staff: accounts (Argon2id password hashes, a role, the centres they may see),
//! sessions kept in the database so every central instance understands a session cookie, a
//! lockout after repeated wrong passwords, and the audit log of every staff action.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use jiff::{SignedDuration, Timestamp};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::db::args;
use super::{Store, StoreError};

/// Staff, their sessions, the same on both databases.
pub(super) const STAFF_SCHEMA: &str = "
    CREATE TABLE staff (
        username TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        centres TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        failed_logins BIGINT NOT NULL DEFAULT 0,
        locked_until BIGINT NOT NULL DEFAULT 0,
        created_at BIGINT NOT NULL
    );
    CREATE TABLE staff_sessions (
        token_hash TEXT PRIMARY KEY,
        username TEXT NOT NULL REFERENCES staff(username),
        csrf TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        last_seen BIGINT NOT NULL
    );
    CREATE INDEX staff_sessions_username ON staff_sessions(username);
";
/// The audit log: appended to, never changed. Its sequence differs by database.
pub(super) const SQLITE_AUDIT_SCHEMA: &str = "
    CREATE TABLE audit_log (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at BIGINT NOT NULL, username TEXT NOT NULL, address TEXT NOT NULL,
        action TEXT NOT NULL, target TEXT NOT NULL, detail TEXT NOT NULL, outcome TEXT NOT NULL
    );
    CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
";
pub(super) const POSTGRES_AUDIT_SCHEMA: &str = "
    CREATE TABLE audit_log (
        seq BIGSERIAL PRIMARY KEY,
        at BIGINT NOT NULL, username TEXT NOT NULL, address TEXT NOT NULL,
        action TEXT NOT NULL, target TEXT NOT NULL, detail TEXT NOT NULL, outcome TEXT NOT NULL
    );
    CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
    CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
";

/// Finds the refused log-ins from one address quickly (see [`Store::refused_from`]).
pub(super) const AUDIT_ADDRESS_INDEX: &str = "CREATE INDEX audit_log_address ON audit_log(address, action, at);";

/// Refused log-ins from one address within [`ADDRESS_WINDOW`] after which that address may not
/// try again until it has kept quiet for the window: one account's lockout does not stop
/// someone trying one password on every account.
pub const ADDRESS_LIMIT: u64 = 30;
pub const ADDRESS_WINDOW: SignedDuration = SignedDuration::from_mins(15);

/// `locked_until` of a disabled account: locked for good, until an administrator enables it.
const DISABLED: i64 = i64::MAX;

/// Wrong passwords in a row before an account is locked.
pub const LOCK_AFTER: i64 = 10;
/// How long a locked account stays locked.
pub const LOCKED_FOR: SignedDuration = SignedDuration::from_mins(15);
/// A session unused this long ends.
pub const SESSION_IDLE: SignedDuration = SignedDuration::from_mins(30);
/// A session ends this long after it began, used or not.
pub const SESSION_MAX: SignedDuration = SignedDuration::from_hours(12);
/// The shortest password accepted.
pub const MIN_PASSWORD: usize = 12;

/// What a staff member may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Sees the fleet, alerts and the day's figures.
    Viewer,
    /// Also sends commands to kiosks and acknowledges alerts.
    Operator,
    /// Also manages staff and alert rules, and reads the audit log.
    Administrator,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Operator => "operator",
            Self::Administrator => "administrator",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Viewer, Self::Operator, Self::Administrator].into_iter().find(|r| r.name() == name)
    }
}

/// A staff member as the console knows them (never their password hash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Staff {
    pub username: String,
    pub name: String,
    pub role: Role,
    /// The centres they may see and steer; empty: every centre.
    pub centres: Vec<String>,
}

impl Staff {
    /// Whether they may see and steer `centre`'s kiosks.
    pub fn sees(&self, centre: &str) -> bool {
        self.centres.is_empty() || self.centres.iter().any(|c| c == centre)
    }

    /// The centres they are limited to, as the store's queries take them (`None`: all).
    pub fn centre_filter(&self) -> Option<&[String]> {
        (!self.centres.is_empty()).then_some(self.centres.as_slice())
    }
}

/// A signed-in staff member's session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaffSession {
    pub staff: Staff,
    /// The token every form of this session must carry.
    pub csrf: String,
}

/// Why a login failed. Wrong name and wrong password read the same to the person trying.
#[derive(Debug, thiserror::Error)]
pub enum LoginRefused {
    #[error("the name or the password is wrong")]
    Wrong,
    #[error("the account is locked until {until} after too many wrong passwords")]
    Locked { until: Timestamp },
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, thiserror::Error)]
pub enum StaffRefused {
    #[error("{0}")]
    Invalid(String),
    #[error("a staff member named {0:?} exists already")]
    Exists(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One line of the audit log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: Timestamp,
    pub username: String,
    pub address: String,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub outcome: String,
}

fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Argon2id with the crate's defaults (19 MiB, two passes: OWASP's recommendation), in the PHC
/// string format, which carries its salt and costs.
fn hash_password(password: &str) -> Result<String, StoreError> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| StoreError::Corrupt(format!("salt: {e}")))?;
    Ok(Argon2::default().hash_password(password.as_bytes(), &salt).map_err(|e| StoreError::Corrupt(format!("hashing: {e}")))?.to_string())
}

fn password_matches(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|hash| Argon2::default().verify_password(password.as_bytes(), &hash).is_ok())
}

/// A hash of no one's password, checked when the name is unknown so that a wrong name costs
/// the same time as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password(&random_token()).unwrap_or_default())
}

fn valid_name(value: &str) -> bool {
    (1..=64).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

fn staff_of(row: &super::db::Row) -> Result<Staff, StoreError> {
    let role: String = row.get(2)?;
    let centres: String = row.get(3)?;
    Ok(Staff {
        username: row.get(0)?,
        name: row.get(1)?,
        role: Role::from_name(&role).ok_or_else(|| StoreError::Corrupt(format!("role {role:?}")))?,
        centres: centres.split(',').filter(|c| !c.is_empty()).map(str::to_owned).collect(),
    })
}

impl Store {
    /// Adds a staff member. `centres` empty: every centre.
    pub fn add_staff(&self, username: &str, name: &str, role: Role, centres: &[String], password: &str) -> Result<Staff, StaffRefused> {
        if !valid_name(username) {
            return Err(StaffRefused::Invalid("a user name is 1 to 64 letters, digits, '.', '_' or '-'".into()));
        }
        if name.trim().is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(StaffRefused::Invalid("a name is 1 to 100 printable characters".into()));
        }
        if password.chars().count() < MIN_PASSWORD {
            return Err(StaffRefused::Invalid(format!("a password has at least {MIN_PASSWORD} characters")));
        }
        if let Some(centre) = centres.iter().find(|c| !valid_name(c)) {
            return Err(StaffRefused::Invalid(format!("{centre:?} is not a centre's name")));
        }
        let hash = hash_password(password)?;
        let centres_text = centres.join(",");
        let added = self.db.write(|tx| {
            if tx.query_opt("SELECT 1 FROM staff WHERE username = $1", args![username])?.is_some() {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO staff (username, name, role, centres, password_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                args![username, name.trim(), role.name(), centres_text, hash, Timestamp::now().as_millisecond()],
            )?;
            Ok::<_, StoreError>(true)
        })?;
        if !added {
            return Err(StaffRefused::Exists(username.to_string()));
        }
        Ok(Staff { username: username.into(), name: name.trim().into(), role, centres: centres.to_vec() })
    }

    /// Every staff member with whether their account is disabled, by name.
    pub fn staff_accounts(&self) -> Result<Vec<(Staff, bool)>, StoreError> {
        let rows =
            self.db.read(|tx| tx.query("SELECT username, name, role, centres, locked_until FROM staff ORDER BY username", args![]))?;
        rows.iter().map(|row| Ok((staff_of(row)?, row.get::<i64>(4)? == DISABLED))).collect()
    }

    /// Changes what a staff member may do and where; it applies to their next request.
    /// `false` if there is no such staff member.
    pub fn update_staff(&self, username: &str, role: Role, centres: &[String]) -> Result<bool, StaffRefused> {
        if let Some(centre) = centres.iter().find(|c| !valid_name(c)) {
            return Err(StaffRefused::Invalid(format!("{centre:?} is not a centre's name")));
        }
        let changed = self.db.write(|tx| {
            tx.execute("UPDATE staff SET role = $2, centres = $3 WHERE username = $1", args![username, role.name(), centres.join(",")])
        })?;
        Ok(changed == 1)
    }

    /// Disables an account (its sessions end; it cannot log in) or enables it again.
    pub fn set_staff_enabled(&self, username: &str, enabled: bool) -> Result<bool, StoreError> {
        self.db.write(|tx| {
            let changed = tx.execute(
                "UPDATE staff SET locked_until = $2, failed_logins = 0 WHERE username = $1",
                args![username, if enabled { 0 } else { DISABLED }],
            )?;
            if !enabled {
                tx.execute("DELETE FROM staff_sessions WHERE username = $1", args![username])?;
            }
            Ok(changed == 1)
        })
    }

    /// Gives a staff member a new password (an administrator's reset): their sessions end.
    pub fn reset_password(&self, username: &str, password: &str) -> Result<bool, StaffRefused> {
        if password.chars().count() < MIN_PASSWORD {
            return Err(StaffRefused::Invalid(format!("a password has at least {MIN_PASSWORD} characters")));
        }
        let hash = hash_password(password)?;
        let changed = self.db.write(|tx| {
            let changed = tx.execute("UPDATE staff SET password_hash = $2 WHERE username = $1", args![username, hash])?;
            tx.execute("DELETE FROM staff_sessions WHERE username = $1", args![username])?;
            Ok::<_, StoreError>(changed)
        })?;
        Ok(changed == 1)
    }

    /// Every staff member, by name.
    pub fn staff(&self) -> Result<Vec<Staff>, StoreError> {
        let rows = self.db.read(|tx| tx.query("SELECT username, name, role, centres FROM staff ORDER BY username", args![]))?;
        rows.iter().map(staff_of).collect()
    }

    /// Checks a password and opens a session: its token (for the cookie; only its hash is
    /// kept) and the session. Ten wrong passwords in a row lock the account for a while.
    pub fn log_in(&self, username: &str, password: &str) -> Result<(String, StaffSession), LoginRefused> {
        let now = Timestamp::now();
        let found = self.db.read(|tx| {
            tx.query_opt(
                "SELECT username, name, role, centres, password_hash, failed_logins, locked_until FROM staff WHERE username = $1",
                args![username],
            )
        })?;
        let Some(row) = found else {
            password_matches(password, decoy_hash());
            return Err(LoginRefused::Wrong);
        };
        let locked_until: i64 = row.get(6)?;
        if locked_until > now.as_millisecond() {
            return Err(LoginRefused::Locked { until: Timestamp::from_millisecond(locked_until).unwrap_or(now) });
        }
        let stored: String = row.get(4)?;
        if !password_matches(password, &stored) {
            let lock_until = (now + LOCKED_FOR).as_millisecond();
            let locked: i64 = self.db.write(|tx| {
                tx.execute(
                    "UPDATE staff SET failed_logins = failed_logins + 1,
                     locked_until = CASE WHEN failed_logins + 1 >= $2 THEN $3 ELSE locked_until END WHERE username = $1",
                    args![username, LOCK_AFTER, lock_until],
                )?;
                tx.query_one("SELECT locked_until FROM staff WHERE username = $1", args![username])?.get(0)
            })?;
            if locked > now.as_millisecond() {
                return Err(LoginRefused::Locked { until: Timestamp::from_millisecond(locked).unwrap_or(now) });
            }
            return Err(LoginRefused::Wrong);
        }
        let staff = staff_of(&row)?;
        let (token, csrf) = (random_token(), random_token());
        self.db.write(|tx| {
            tx.execute("UPDATE staff SET failed_logins = 0, locked_until = 0 WHERE username = $1", args![username])?;
            tx.execute(
                "INSERT INTO staff_sessions (token_hash, username, csrf, created_at, last_seen) VALUES ($1, $2, $3, $4, $4)",
                args![hash_token(&token), username, csrf, now.as_millisecond()],
            )
        })?;
        Ok((token, StaffSession { staff, csrf }))
    }

    /// The session a cookie's token opens, if it is still open (unused for less than
    /// [`SESSION_IDLE`], younger than [`SESSION_MAX`]); using it keeps it open.
    pub fn staff_session(&self, token: &str) -> Result<Option<StaffSession>, StoreError> {
        let now = Timestamp::now().as_millisecond();
        let (idle, oldest) = (now - SESSION_IDLE.as_millis() as i64, now - SESSION_MAX.as_millis() as i64);
        let token_hash = hash_token(token);
        let row = self.db.read(|tx| {
            tx.query_opt(
                "SELECT s.username, s.name, s.role, s.centres, x.csrf, x.last_seen FROM staff_sessions x JOIN staff s ON s.username = x.username
                 WHERE x.token_hash = $1 AND x.last_seen > $2 AND x.created_at > $3",
                args![token_hash, idle, oldest],
            )
        })?;
        let Some(row) = row else { return Ok(None) };
        let last_seen: i64 = row.get(5)?;
        // Written at most once a minute: a page's live updates do not write on every event.
        if now - last_seen > 60_000 {
            self.db.write(|tx| tx.execute("UPDATE staff_sessions SET last_seen = $2 WHERE token_hash = $1", args![token_hash, now]))?;
        }
        Ok(Some(StaffSession { staff: staff_of(&row)?, csrf: row.get(4)? }))
    }

    /// Ends a session.
    pub fn log_out(&self, token: &str) -> Result<(), StoreError> {
        self.db.write(|tx| tx.execute("DELETE FROM staff_sessions WHERE token_hash = $1", args![hash_token(token)]))?;
        Ok(())
    }

    /// Appends to the audit log.
    #[allow(clippy::too_many_arguments, reason = "one column each")]
    pub fn audit(&self, username: &str, address: &str, action: &str, target: &str, detail: &str, outcome: &str) -> Result<(), StoreError> {
        self.db.write(|tx| {
            tx.execute(
                "INSERT INTO audit_log (at, username, address, action, target, detail, outcome) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                args![Timestamp::now().as_millisecond(), username, address, action, target, detail, outcome],
            )
        })?;
        Ok(())
    }

    /// How many attempts at `action` (`log-in`, `enroll`) from `address` were refused since
    /// `since` (read from the audit log, so every instance counts the same).
    pub fn refused_from(&self, address: &str, action: &str, since: Timestamp) -> Result<u64, StoreError> {
        self.db.read(|tx| {
            tx.query_one(
                "SELECT COUNT(*) FROM audit_log WHERE address = $1 AND action = $2 AND at >= $3 AND outcome = 'refused'",
                args![address, action, since.as_millisecond()],
            )?
            .get(0)
        })
    }

    /// The audit log, newest first, `limit` lines at most.
    pub fn audit_log(&self, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = self.db.read(|tx| {
            tx.query(
                "SELECT seq, at, username, address, action, target, detail, outcome FROM audit_log ORDER BY seq DESC LIMIT $1",
                args![i64::from(limit)],
            )
        })?;
        rows.iter()
            .map(|row| {
                let at: i64 = row.get(1)?;
                Ok(AuditEntry {
                    seq: row.get(0)?,
                    at: Timestamp::from_millisecond(at).map_err(|e| StoreError::Corrupt(format!("audit time: {e}")))?,
                    username: row.get(2)?,
                    address: row.get(3)?,
                    action: row.get(4)?,
                    target: row.get(5)?,
                    detail: row.get(6)?,
                    outcome: row.get(7)?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_hash_is_argon2id_salted_and_checks_only_its_password() {
        let hash = hash_password("correct horse battery").expect("hash");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert_ne!(hash, hash_password("correct horse battery").expect("hash"), "salted");
        assert!(password_matches("correct horse battery", &hash));
        assert!(!password_matches("correct horse batterz", &hash));
        assert!(!password_matches("anything", "not a hash"));
    }
}
