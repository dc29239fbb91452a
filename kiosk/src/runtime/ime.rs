//! Reads the Chinese input methods' tables Debian ships with ibus-table (`ibus-table-stroke5`,
//! `ibus-table-quick-classic`): SQLite files, read once at start, read-only, into the session's
//! lookup tables (`session/ime.rs`). A missing package leaves its method out, said in the log.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use crate::session::ime::{Table, Tables};

/// Where Debian installs the tables.
pub const TABLES: &str = "/usr/share/ibus-table/tables";

/// One table's single characters with their codes and frequencies.
fn read(path: &Path) -> Result<Table, rusqlite::Error> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    let mut statement = conn.prepare("SELECT tabkeys, phrase, freq FROM phrases WHERE length(phrase) = 1")?;
    let rows = statement.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)))?;
    Ok(Table::new(rows.collect::<Result<_, _>>()?))
}

/// The tables in `dir`: stroke input from `stroke5.db`, Quick from `quick-classic.db`.
pub fn load(dir: &Path) -> Tables {
    let table = |file: &str, package: &str| match read(&dir.join(file)) {
        Ok(table) if !table.is_empty() => Some(table),
        Ok(_) => {
            tracing::warn!(file, "the table has no characters: this input method is not offered");
            None
        }
        Err(e) => {
            tracing::warn!(file, error = %e, "no table: this input method is not offered (install {package})");
            None
        }
    };
    Tables { stroke: table("stroke5.db", "ibus-table-stroke5"), quick: table("quick-classic.db", "ibus-table-quick-classic") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_s_tables_give_the_characters_of_a_name_by_strokes_and_by_quick() {
        let tables = load(Path::new(TABLES));
        let (stroke, quick) = (tables.stroke.expect("ibus-table-stroke5 (tools/setup installs it)"), tables.quick.expect("quick"));
        // 陳大文: by their strokes (the first ones suffice when the character comes first) and
        // by their Quick codes.
        assert!(stroke.candidates("nn/m/").contains(&"陳".to_string()));
        assert_eq!(stroke.candidates("m,.").first().map(String::as_str), Some("大"));
        assert!(stroke.candidates(".m,.").contains(&"文".to_string()));
        assert!(quick.candidates("nw").contains(&"陳".to_string()));
        assert_eq!(quick.candidates("k").first().map(String::as_str), Some("大"));
        assert!(quick.candidates("yk").contains(&"文".to_string()));
        let missing = load(Path::new("/nonexistent"));
        assert!(missing.stroke.is_none() && missing.quick.is_none() && missing.first().is_none());
    }
}
