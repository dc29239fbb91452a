//! Every citizen-facing string is marked `@tr` and translated into Traditional Chinese and
//! Portuguese (English is the source language), with the same placeholders; the catalogues
//! hold nothing stale.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// A translatable message: its text and, for plurals, its plural form.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Message {
    id: String,
    plural: Option<String>,
}

fn slint_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("ui folder") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            slint_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "slint") {
            out.push(path);
        }
    }
}

/// Reads a Slint string literal starting at `s[0] == '"'`; returns it and the rest.
fn literal(s: &str) -> Option<(String, &str)> {
    let mut chars = s.strip_prefix('"')?.char_indices();
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &s[i + 2..])),
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

/// Every `@tr(...)` in a Slint source.
fn messages_in(source: &str, file: &Path) -> Vec<Message> {
    let mut found = Vec::new();
    let mut rest = source;
    while let Some(at) = rest.find("@tr(") {
        rest = rest[at + 4..].trim_start();
        let (id, after) = literal(rest).unwrap_or_else(|| panic!("{}: @tr must start with a string literal", file.display()));
        rest = after.trim_start();
        // Translations are looked up by text alone (no default context): a context would be
        // silently ignored, so it is refused here.
        assert!(!rest.starts_with("=>"), "{}: @tr({id:?} => …) uses a context, which this project does not", file.display());
        let plural = rest.strip_prefix('|').map(|after| {
            let (plural, after) = literal(after.trim_start()).expect("plural literal");
            rest = after;
            plural
        });
        found.push(Message { id, plural });
    }
    found
}

fn all_messages() -> BTreeSet<Message> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
    let mut files = Vec::new();
    slint_files(&root, &mut files);
    files.iter().flat_map(|f| messages_in(&std::fs::read_to_string(f).expect("read"), f)).collect()
}

fn placeholders(text: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else { break };
        found.push(rest[open..open + close + 1].to_string());
        rest = &rest[open + close + 1..];
    }
    found.sort();
    found
}

fn check_language(language: &str, messages: &BTreeSet<Message>) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("translations/{language}/LC_MESSAGES/balcao-ui.po"));
    let catalog = rspolib::pofile(path.as_path()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut problems = Vec::new();
    for message in messages {
        let Some(entry) = catalog.entries.iter().find(|e| e.msgid == message.id && e.msgctxt.is_none()) else {
            problems.push(format!("{language}: missing {:?}", message.id));
            continue;
        };
        if entry.fuzzy() {
            problems.push(format!("{language}: fuzzy {:?}", message.id));
        }
        let translations: Vec<&str> = match &message.plural {
            None => vec![entry.msgstr.as_deref().unwrap_or_default()],
            Some(plural) => {
                if entry.msgid_plural.as_deref() != Some(plural.as_str()) {
                    problems.push(format!("{language}: {:?} needs msgid_plural {plural:?}", message.id));
                }
                entry.msgstr_plural.iter().map(String::as_str).collect()
            }
        };
        if translations.is_empty() || translations.iter().any(|t| t.trim().is_empty()) {
            problems.push(format!("{language}: untranslated {:?}", message.id));
        }
        let expected = placeholders(&message.id);
        for translation in translations {
            if placeholders(translation) != expected {
                problems.push(format!(
                    "{language}: {:?} has placeholders {:?}, its source {expected:?}",
                    translation,
                    placeholders(translation)
                ));
            }
        }
    }
    for entry in &catalog.entries {
        if !entry.msgid.is_empty() && !messages.iter().any(|m| m.id == entry.msgid) {
            problems.push(format!("{language}: stale entry {:?}", entry.msgid));
        }
    }
    problems
}

#[test]
fn every_message_is_translated_into_chinese_and_portuguese() {
    let messages = all_messages();
    assert!(messages.len() > 50, "found only {} messages: is the extractor broken?", messages.len());
    let problems: Vec<String> = ["zh-Hant", "pt"].iter().flat_map(|l| check_language(l, &messages)).collect();
    assert!(problems.is_empty(), "{} translation problems:\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn the_extractor_reads_plurals_and_escapes() {
    let found = messages_in(r#"text: @tr("Hello \"{}\"", name); x: @tr("{n} day" | "{n} days" % n);"#, Path::new("t.slint"));
    assert_eq!(
        found,
        [Message { id: "Hello \"{}\"".into(), plural: None }, Message { id: "{n} day".into(), plural: Some("{n} days".into()) }]
    );
}

/// Prints the catalogue template (`.pot`) on request, for translators:
/// `BALCAO_PRINT_POT=1 cargo test -p balcao-ui --test translations -- --nocapture`.
#[test]
fn print_template_when_asked() {
    if std::env::var_os("BALCAO_PRINT_POT").is_none() {
        return;
    }
    let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n"));
    for m in all_messages() {
        match &m.plural {
            None => eprintln!("msgid {}\nmsgstr \"\"\n", quote(&m.id)),
            Some(p) => eprintln!("msgid {}\nmsgid_plural {}\nmsgstr[0] \"\"\nmsgstr[1] \"\"\n", quote(&m.id), quote(p)),
        }
    }
}
