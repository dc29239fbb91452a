//! Compiles the `.slint` files with the translations bundled in, so the kiosk needs no
//! gettext catalogues at run time. The feature `testing` adds the debug information the UI
//! tests need to find elements.

fn main() {
    let config = slint_build::CompilerConfiguration::new()
        .with_bundled_translations("translations")
        // Strings are translated by their text alone, not by the component they appear in.
        .with_default_translation_context(slint_build::DefaultTranslationContext::None)
        .with_debug_info(std::env::var_os("CARGO_FEATURE_TESTING").is_some());
    if let Err(e) = slint_build::compile_with_config("ui/main.slint", config) {
        panic!("the UI does not compile: {e}");
    }
}
