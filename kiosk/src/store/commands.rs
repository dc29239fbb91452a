//! Central's commands as this kiosk carried them out, each once, and the out-of-service message
//! staff left standing.

use balcao_backend_client::api::{CommandOutcome, LocalizedText};
use jiff::Timestamp;
use rusqlite::{OptionalExtension, params};
use uuid::Uuid;

use super::{Store, StoreError, millis};

/// What came of a command, as the kiosk reports it (again, if central asks again).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandDone {
    pub outcome: CommandOutcome,
    pub detail: String,
    pub at: Timestamp,
}

fn outcome_name(outcome: CommandOutcome) -> &'static str {
    match outcome {
        CommandOutcome::Done => "done",
        CommandOutcome::Failed => "failed",
        CommandOutcome::Expired => "expired",
    }
}

impl Store {
    /// What came of the command, if this kiosk carried it out before.
    pub fn command_done(&self, command_id: Uuid) -> Result<Option<CommandDone>, StoreError> {
        let row = self
            .conn
            .query_row("SELECT outcome, detail, done_at FROM commands WHERE command_id = ?1", [command_id.to_string()], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?))
            })
            .optional()?;
        let Some((outcome, detail, at)) = row else { return Ok(None) };
        let outcome = [CommandOutcome::Done, CommandOutcome::Failed, CommandOutcome::Expired]
            .into_iter()
            .find(|o| outcome_name(*o) == outcome)
            .ok_or_else(|| StoreError::Corrupt(format!("command outcome {outcome:?}")))?;
        let at = Timestamp::from_millisecond(at).map_err(|e| StoreError::Corrupt(format!("command time: {e}")))?;
        Ok(Some(CommandDone { outcome, detail, at }))
    }

    /// Records what came of a command; the first record stands.
    pub fn record_command(&mut self, command_id: Uuid, kind: &str, done: &CommandDone) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO commands (command_id, kind, outcome, detail, done_at) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (command_id) DO NOTHING",
            params![command_id.to_string(), kind, outcome_name(done.outcome), done.detail, millis(done.at)],
        )?;
        Ok(())
    }

    /// Staff's out-of-service message, while the kiosk is closed by central.
    pub fn closed_by_central(&self) -> Result<Option<LocalizedText>, StoreError> {
        let message: Option<String> =
            self.conn.query_row("SELECT message FROM closed_by_central WHERE id = 1", [], |r| r.get(0)).optional()?;
        message.map(|m| serde_json::from_str(&m).map_err(|e| StoreError::Corrupt(format!("out-of-service message: {e}")))).transpose()
    }

    /// Closes the kiosk with `message`, or opens it again (`None`), across restarts.
    pub fn set_closed_by_central(&mut self, message: Option<&LocalizedText>) -> Result<(), StoreError> {
        match message {
            Some(message) => {
                let json = serde_json::to_string(message).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                self.conn.execute(
                    "INSERT INTO closed_by_central (id, message) VALUES (1, ?1) ON CONFLICT (id) DO UPDATE SET message = excluded.message",
                    [json],
                )?;
            }
            None => {
                self.conn.execute("DELETE FROM closed_by_central", [])?;
            }
        }
        Ok(())
    }
}
