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
        // Fewer pages per "application accepted" commit (each page is another WAL frame to
        // write before the fsync): applications and counters are keyed by their own key
        // (WITHOUT ROWID, no separate key index); the reference needs no index of its own,
        // since it comes from the counter in the same transaction; the outbox's order is its
        // rowid (no AUTOINCREMENT bookkeeping) and only pending and dead entries are indexed,
        // which a new entry never touches but the first.
        M::up(
            "CREATE TABLE applications_v4 (
            id TEXT PRIMARY KEY,
            reference TEXT NOT NULL,
            service_id TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            state TEXT NOT NULL,
            acknowledged_at INTEGER,
            central_state TEXT
        ) WITHOUT ROWID;
        INSERT INTO applications_v4 SELECT id, reference, service_id, created_at, state, acknowledged_at, central_state FROM applications;
        DROP TABLE applications;
        ALTER TABLE applications_v4 RENAME TO applications;
        CREATE TABLE outbox_v4 (
            seq INTEGER PRIMARY KEY,
            record_id TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            body BLOB NOT NULL,
            created_at INTEGER NOT NULL,
            attempts INTEGER NOT NULL,
            next_attempt_at INTEGER NOT NULL,
            last_error TEXT,
            state TEXT NOT NULL,
            done_at INTEGER
        );
        INSERT INTO outbox_v4 SELECT seq, record_id, kind, body, created_at, attempts, next_attempt_at, last_error, state, done_at FROM outbox;
        DROP TABLE outbox;
        ALTER TABLE outbox_v4 RENAME TO outbox;
        CREATE INDEX outbox_pending ON outbox (seq) WHERE state = 'pending';
        CREATE INDEX outbox_dead ON outbox (seq) WHERE state = 'dead';
        CREATE TABLE counters_v4 (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
        INSERT INTO counters_v4 SELECT name, value FROM counters;
        DROP TABLE counters;
        ALTER TABLE counters_v4 RENAME TO counters;",
        ),
        // Reference data kept by ETag (the identity provider's keys); certificates ready for
        // pickup at this centre, each sealed (holder check and document), found by the number
        // on the citizen's receipt; the feed's sync token; and this kiosk's pickups, written
        // before the certificate is printed so a crash mid-print is never forgotten.
        M::up(
            "CREATE TABLE reference_data (
            name TEXT PRIMARY KEY,
            etag TEXT,
            body TEXT NOT NULL,
            fetched_at INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE ready_certificates (
            application_id TEXT PRIMARY KEY,
            reference TEXT NOT NULL UNIQUE,
            service_id TEXT NOT NULL,
            ready_at INTEGER NOT NULL,
            sealed BLOB NOT NULL
        );
        CREATE TABLE certificate_sync (id INTEGER PRIMARY KEY CHECK (id = 1), token TEXT NOT NULL);
        CREATE TABLE pickups (
            id TEXT PRIMARY KEY,
            application_id TEXT NOT NULL,
            started_at INTEGER NOT NULL,
            state TEXT NOT NULL,
            offline INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX pickups_application ON pickups (application_id);",
        ),
        // Queue tickets issued here, written before printing like pickups. No personal data:
        // a ticket is a number for a counter.
        M::up(
            "CREATE TABLE queue_tickets (
            id TEXT PRIMARY KEY,
            queue_id TEXT NOT NULL,
            number TEXT NOT NULL,
            service_day TEXT NOT NULL,
            issued_at INTEGER NOT NULL,
            state TEXT NOT NULL,
            offline INTEGER NOT NULL
        ) WITHOUT ROWID;",
        ),
        // The nonces of sign-in codes accepted here, kept until the code would have expired
        // anyway: a code shown twice is refused the second time. No personal data.
        M::up(
            "CREATE TABLE sign_in_nonces (
            nonce TEXT PRIMARY KEY,
            expires_at INTEGER NOT NULL
        ) WITHOUT ROWID;",
        ),
        // The payment journal (payments.rs): one row per card payment, its state written
        // before each side effect, and every step it took. Card data: the brand and the last
        // four digits, nothing more.
        M::up(
            "CREATE TABLE payments (
            id TEXT PRIMARY KEY,
            service_id TEXT NOT NULL,
            amount_avos INTEGER NOT NULL CHECK (amount_avos > 0),
            state TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            local_date TEXT NOT NULL,
            receipt_number INTEGER,
            trace_number INTEGER,
            card_brand TEXT,
            card_last4 TEXT CHECK (card_last4 IS NULL OR (length(card_last4) = 4 AND card_last4 NOT GLOB '*[^0-9]*')),
            application_id TEXT
        ) WITHOUT ROWID;
        CREATE INDEX payments_day ON payments (local_date);
        CREATE TABLE payment_steps (
            payment_id TEXT NOT NULL,
            at INTEGER NOT NULL,
            state TEXT NOT NULL
        );
        CREATE INDEX payment_steps_payment ON payment_steps (payment_id);",
        ),
        // The terminal's end-of-day closes, each with the journal's own count of what was
        // captured since the one before: the day's reconciliation.
        M::up(
            "CREATE TABLE day_closes (
            seq INTEGER PRIMARY KEY,
            closed_at INTEGER NOT NULL,
            terminal_total INTEGER NOT NULL,
            journal_total INTEGER NOT NULL,
            payments INTEGER NOT NULL
        );
        CREATE INDEX payment_steps_captured ON payment_steps (at) WHERE state = 'captured';",
        ),
        // Central's commands this kiosk carried out, each once: a repeated delivery gets the
        // same report again. `closed_by_central` holds staff's out-of-service message (JSON)
        // while it stands, so a restart keeps the kiosk closed.
        M::up(
            "CREATE TABLE commands (
            command_id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            outcome TEXT NOT NULL,
            detail TEXT NOT NULL,
            done_at INTEGER NOT NULL
        );
        CREATE TABLE closed_by_central (id INTEGER PRIMARY KEY CHECK (id = 1), message TEXT NOT NULL);",
        ),
    ])
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_valid() {
        assert!(super::migrations().validate().is_ok());
    }
}
