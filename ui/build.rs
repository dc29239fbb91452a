//! Compiles the `.slint` files with the translations bundled in, so the kiosk needs no
//! gettext catalogues at run time. The feature `testing` adds the debug information the UI
//! tests need to find elements.
//!
//! The Chinese catalogue is bundled with its paragraphs' last two characters joined (see
//! `src/cjk.rs`), so no wrapped text ends on a line of one character; the `.po` files stay
//! as translators write them.

use std::path::{Path, PathBuf};

#[path = "src/cjk.rs"]
#[allow(dead_code, reason = "the build uses only part of it")]
mod cjk;

/// A copy of `translations/` in `out` with the Chinese `msgstr`s' endings kept together.
fn prepare_translations(out: &Path) -> PathBuf {
    let target = out.join("translations");
    for language in ["pt", "zh-Hant"] {
        let source = Path::new("translations").join(language).join("LC_MESSAGES/balcao-ui.po");
        println!("cargo:rerun-if-changed={}", source.display());
        let text = std::fs::read_to_string(&source).unwrap_or_else(|e| panic!("cannot read {}: {e}", source.display()));
        let text = if language == "zh-Hant" {
            text.lines()
                .map(|line| match line.split_once(" \"") {
                    Some((key, rest)) if key.starts_with("msgstr") && rest.ends_with('"') => {
                        format!("{key} \"{}\"", cjk::keep_last_together(&rest[..rest.len() - 1]))
                    }
                    _ => line.to_owned(),
                })
                .collect::<Vec<_>>()
                .join("\n")
                + "\n"
        } else {
            text
        };
        let dir = target.join(language).join("LC_MESSAGES");
        std::fs::create_dir_all(&dir).expect("create the translations' copy");
        // Written only when it changed: Slint's build watches the copy, and a fresh write would
        // make every later build run this script (and rebuild the UI) again.
        let copy = dir.join("balcao-ui.po");
        if std::fs::read_to_string(&copy).ok().as_deref() != Some(text.as_str()) {
            std::fs::write(&copy, text).expect("write the translations' copy");
        }
    }
    target
}

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo:rerun-if-changed=src/cjk.rs");
    let config = slint_build::CompilerConfiguration::new()
        .with_bundled_translations(prepare_translations(&out))
        // Strings are translated by their text alone, not by the component they appear in.
        .with_default_translation_context(slint_build::DefaultTranslationContext::None)
        .with_debug_info(std::env::var_os("CARGO_FEATURE_TESTING").is_some());
    if let Err(e) = slint_build::compile_with_config("ui/main.slint", config) {
        panic!("the UI does not compile: {e}");
    }
}
