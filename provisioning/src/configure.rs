//! `kiosk-provision configure`: writes the kiosk's configuration from `--set KEY=VALUE` flags,
//! or by asking the technician (`--interactive`: the kiosk, its centre, its language and
//! timeouts, and each serial device chosen from the ports this kiosk sees). Every change is
//! checked exactly as the kiosk reads its configuration before the file is replaced; a value
//! the kiosk would refuse is refused with the kiosk's own message, which names the key, and the
//! file is left as it was. Comments and the keys not touched stay.

use std::io::BufRead;
use std::path::{Path, PathBuf};

/// Why nothing was written: 2, a wrong value or key (the file unchanged); 6, the file could not
/// be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ConfigureError {
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Local(String),
}

impl ConfigureError {
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Refused(_) => 2,
            Self::Local(_) => 6,
        }
    }
}

/// What was written.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Configured {
    pub config: PathBuf,
    /// `key: old → new` for each value that changed.
    pub changed: Vec<String>,
}

impl std::fmt::Display for Configured {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.changed.is_empty() {
            true => write!(f, "{}: nothing changed", self.config.display()),
            false => {
                write!(f, "{} written and checked:", self.config.display())?;
                self.changed.iter().try_for_each(|c| write!(f, "\n  {c}"))
            }
        }
    }
}

/// A value as typed: a TOML value when it reads as one (a number, `true`, a quoted string, an
/// array), else the text itself as a string.
fn value_of(text: &str) -> toml_edit::Value {
    text.parse::<toml_edit::Value>().unwrap_or_else(|_| toml_edit::Value::from(text))
}

/// Sets `key` (dotted, `devices.receipt_printer.serial`) to `value` in `document`; returns the
/// old value's text, if any.
fn set(document: &mut toml_edit::DocumentMut, key: &str, value: toml_edit::Value) -> Result<Option<String>, ConfigureError> {
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')) {
        return Err(ConfigureError::Refused(format!("{key:?} is not a configuration key such as devices.receipt_printer.serial")));
    }
    let (last, tables) = parts.split_last().ok_or_else(|| ConfigureError::Refused("an empty key".into()))?;
    let mut table = document.as_table_mut();
    for name in tables {
        // A section made here shows only where it has keys of its own (`[devices.x]`, no empty
        // `[devices]` above it).
        let entry = table.entry(name).or_insert_with(|| {
            let mut made = toml_edit::Table::new();
            made.set_implicit(true);
            toml_edit::Item::Table(made)
        });
        table = entry.as_table_mut().ok_or_else(|| ConfigureError::Refused(format!("{name} in {key} is not a section")))?;
    }
    let old = table.get(last).map(|item| item.to_string().trim().to_string());
    table[last] = toml_edit::Item::Value(value);
    Ok(old)
}

/// Applies `changes` (key, value as typed) to the configuration at `config` (made if missing),
/// checks the result as the kiosk reads it, and replaces the file only if it checks.
pub fn configure(config: &Path, changes: &[(String, String)]) -> Result<Configured, ConfigureError> {
    let old_text = match std::fs::read_to_string(config) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(ConfigureError::Local(format!("cannot read {}: {e}", config.display()))),
    };
    let mut document: toml_edit::DocumentMut =
        old_text.parse().map_err(|e| ConfigureError::Refused(format!("{} is not TOML: {e}", config.display())))?;
    let mut changed = Vec::new();
    for (key, text) in changes {
        let value = value_of(text);
        let new = value.to_string().trim().to_string();
        let old = set(&mut document, key, value)?;
        if old.as_deref() != Some(new.as_str()) {
            changed.push(format!("{key}: {} → {new}", old.as_deref().unwrap_or("(unset)")));
        }
    }
    let written = document.to_string();
    let folder = config.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(folder).map_err(|e| ConfigureError::Local(format!("cannot make {}: {e}", folder.display())))?;
    let checked = folder.join(".kiosk-provision-configure.toml");
    std::fs::write(&checked, &written).map_err(|e| ConfigureError::Local(format!("cannot write {}: {e}", checked.display())))?;
    if let Err(e) = balcao_kiosk::config::KioskConfig::load(&checked) {
        let _ = std::fs::remove_file(&checked);
        // The kiosk's message names the key; it is about the file being written.
        let said = e.to_string().replace(&checked.display().to_string(), &config.display().to_string());
        return Err(ConfigureError::Refused(format!("{said} — nothing was written")));
    }
    std::fs::rename(&checked, config).map_err(|e| ConfigureError::Local(format!("cannot replace {}: {e}", config.display())))?;
    Ok(Configured { config: config.to_path_buf(), changed })
}

/// The questions `--interactive` asks: the key, the question, and the value kept when the
/// answer is empty (the configuration's, or the kiosk's default).
const QUESTIONS: [(&str, &str); 8] = [
    ("kiosk.id", "the kiosk's id (letters, digits, '-')"),
    ("kiosk.centre_id", "the service centre it stands in"),
    ("kiosk.default_language", "the language it greets citizens in (zh-Hant, pt, en)"),
    ("session.idle_timeout_secs", "seconds without a touch before a citizen's session is wiped"),
    ("devices.receipt_printer.serial", "the receipt printer's serial port (a number from the list, a path, or empty)"),
    ("devices.code_scanner.serial", "the code scanner's serial port (a number from the list, a path, or empty)"),
    ("devices.document_printer.uri", "the A4 printer (a letter from the list, an ipp:// address, or empty)"),
    ("devices.identity_reader.reader", "the card reader (a number from the list of readers, part of its name, or empty)"),
];

/// The letter `--interactive` lists the `n`th printer under (a, b, … z).
fn letter(n: usize) -> char {
    char::from(b'a' + u8::try_from(n % 26).unwrap_or(0))
}

/// Asks the technician each of [`QUESTIONS`] on `input`, showing the serial ports, the A4
/// printers (CUPS's queues and those announced on the network) and the card readers found for
/// the device questions;
/// an empty answer keeps the current value. Returns the changes to make.
pub fn ask(
    input: &mut dyn BufRead,
    output: &mut dyn std::io::Write,
    ports: &[String],
    printers: &[String],
    readers: &[String],
) -> std::io::Result<Vec<(String, String)>> {
    if !ports.is_empty() {
        writeln!(output, "serial ports this kiosk sees:")?;
        for (i, port) in ports.iter().enumerate() {
            writeln!(output, "  {}. {port}", i + 1)?;
        }
    }
    let printers = &printers[..printers.len().min(26)];
    if !printers.is_empty() {
        writeln!(output, "A4 printers this kiosk sees:")?;
        for (i, printer) in printers.iter().enumerate() {
            writeln!(output, "  {}. {printer}", letter(i))?;
        }
    }
    let mut changes = Vec::new();
    for (key, question) in QUESTIONS {
        if key == "devices.identity_reader.reader" && !readers.is_empty() {
            writeln!(output, "card readers pcscd sees:")?;
            for (i, reader) in readers.iter().enumerate() {
                writeln!(output, "  {}. {reader}", i + 1)?;
            }
        }
        write!(output, "{question}\n  {key} = ")?;
        output.flush()?;
        let mut answer = String::new();
        input.read_line(&mut answer)?;
        let answer = answer.trim();
        if answer.is_empty() {
            continue;
        }
        if key == "devices.identity_reader.reader" {
            let name = match answer.parse::<usize>() {
                Ok(n) if (1..=readers.len()).contains(&n) => readers[n - 1].clone(),
                _ => answer.to_string(),
            };
            // A reader named makes the identity reader a real (PC/SC) one.
            changes.push(("devices.identity_reader.kind".to_string(), "\"pcsc\"".to_string()));
            changes.push((key.to_string(), format!("{name:?}")));
            continue;
        }
        if key == "devices.document_printer.uri" {
            let chosen = (0..printers.len()).find(|i| answer.eq_ignore_ascii_case(&letter(*i).to_string()));
            let uri = chosen.map_or_else(|| answer.to_string(), |i| printers[i].clone());
            // An address makes the A4 printer a real one.
            changes.push(("devices.document_printer.kind".to_string(), "\"ipp\"".to_string()));
            changes.push((key.to_string(), format!("{uri:?}")));
            continue;
        }
        let is_device = key.ends_with(".serial");
        let value = match answer.parse::<usize>() {
            Ok(n) if is_device && (1..=ports.len()).contains(&n) => ports[n - 1].clone(),
            _ => answer.to_string(),
        };
        // A device's port makes that device a real one.
        if is_device {
            let section = key.trim_end_matches(".serial");
            let kind = if section.ends_with("receipt_printer") { "escpos" } else { "serial" };
            changes.push((format!("{section}.kind"), format!("\"{kind}\"")));
        }
        let quoted = match key {
            "session.idle_timeout_secs" => value,
            _ => format!("{value:?}"),
        };
        changes.push((key.to_string(), quoted));
    }
    Ok(changes)
}
