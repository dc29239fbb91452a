//! `kiosk-screenshots DIR`: renders every screen of the kiosk in every language to PNG files,
//! with the software renderer the kiosk uses (no display needed), and prints every kind of
//! paper in every language through the real ESC/POS driver to the virtual printer, saving what
//! came out.

use std::path::PathBuf;

use anyhow::Context;
use balcao_kiosk::tour::{print_paper, tour};
use balcao_ui::headless::HeadlessUi;
use balcao_ui::view::Language;

fn main() -> anyhow::Result<()> {
    let dir: PathBuf = std::env::args_os().nth(1).map(PathBuf::from).context("usage: kiosk-screenshots OUTPUT_DIR")?;
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let ui = HeadlessUi::new()?;
    for language in Language::ALL {
        for (name, view) in tour(language) {
            let path = dir.join(format!("{}-{name}.png", language.tag()));
            std::fs::write(&path, ui.render(&view).to_png()).with_context(|| format!("writing {}", path.display()))?;
            eprintln!("{}", path.display());
        }
    }
    for path in print_paper(&dir).context("printing the paper")? {
        eprintln!("{}", path.display());
    }
    Ok(())
}
