//! The kiosk database's schema, one migration per version. Never edit a released migration:
//! add the next one.

use rusqlite_migration::{M, Migrations};

pub fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(
            "CREATE TABLE applications (
            id TEXT PRIMARY KEY,
            reference TEXT NOT NULL UNIQUE,
            service_id TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            state TEXT NOT NULL,
            acknowledged_at INTEGER,
            central_state TEXT
        );
        CREATE TABLE outbox (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            record_id TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            body TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            attempts INTEGER NOT NULL,
            next_attempt_at INTEGER NOT NULL,
            last_error TEXT,
            state TEXT NOT NULL,
            done_at INTEGER
        );
        CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
        CREATE TABLE catalog (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            etag TEXT,
            body TEXT NOT NULL,
            fetched_at INTEGER NOT NULL
        );
        CREATE TABLE counters (
            name TEXT PRIMARY KEY,
            value INTEGER NOT NULL
        );",
        ),
        // The outbox is read in order of its pending entries.
        M::up("DROP INDEX outbox_due; CREATE INDEX outbox_pending ON outbox (state, seq);"),
        // Facts about the database itself, such as the check value of its data key. Outbox
        // bodies become sealed blobs (see crypto.rs); the store seals older text bodies when
        // it opens.
        M::up("CREATE TABLE meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);"),
    ])
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_valid() {
        assert!(super::migrations().validate().is_ok());
    }
}
