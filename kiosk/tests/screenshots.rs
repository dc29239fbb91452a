//! Renders every screen in every language with the kiosk's software renderer, saves the PNGs
//! (under the build's temporary folder) and checks from the pixels that text is really drawn:
//! without a CJK font, Chinese text disappears silently.

use balcao_kiosk::tour::tour;
use balcao_ui::headless::{HeadlessUi, Screenshot};
use balcao_ui::view::{Language, Screen};

/// Pixels close to white (the header's text on navy).
fn whiteish(p: [u8; 3]) -> bool {
    p.iter().all(|&c| c > 200)
}

/// Pixels close to the navy of titles on the light background.
fn dark(p: [u8; 3]) -> bool {
    p.iter().all(|&c| c < 90)
}

#[test]
fn every_screen_renders_in_every_language_with_its_glyphs() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    let ui = HeadlessUi::new().expect("headless UI");
    let mut homes: Vec<(Language, Screenshot)> = Vec::new();
    let mut codes_on_screen = 0;
    let mut calls_shown = 0;
    for language in Language::ALL {
        for (name, view) in tour(language) {
            let shot = ui.render(&view);
            std::fs::write(dir.join(format!("{}-{name}.png", language.tag())), shot.to_png()).expect("write png");
            // The header's name of the centre is drawn on every screen (dimmed under the idle
            // warning and a call for an attendant).
            if view.idle_seconds_left.is_none() && !view.attendant.shown {
                let header_ink = shot.count(30, 10, 360, 130, whiteish);
                assert!(header_ink > 400, "{language:?} {name}: only {header_ink} light pixels in the header");
            }
            // A call's panel says where the call stands, in the middle of the screen.
            if view.attendant.shown {
                let panel_ink = shot.count(120, 700, 960, 1220, dark);
                assert!(panel_ink > 3000, "{language:?} {name}: only {panel_ink} dark pixels in the call's panel");
                calls_shown += 1;
            }
            // The screen that stands in for a receipt that did not print carries its QR code,
            // and a phone's reader (zbarimg here) reads the status page from the pixels.
            if !view.error.status_link.is_empty() {
                let path = dir.join(format!("{}-{name}.png", language.tag()));
                let read = balcao_drivers::receipt_printer::escpos::sim::read_codes(&path).expect("zbarimg reads the screen");
                assert_eq!(read, [format!("QR-Code:{}", view.error.status_link)], "{language:?} {name}");
                codes_on_screen += 1;
            }
            // (The home screen also shows offline, further on: one per language is compared.)
            if view.screen == Screen::Home && name == "03-home" {
                homes.push((language, shot));
            }
        }
    }
    assert_eq!(codes_on_screen, Language::ALL.len(), "the receipt-not-printed screen shows its QR code in every language");
    assert_eq!(calls_shown, 3 * Language::ALL.len(), "called, coming and unreachable, in every language");
    eprintln!("screenshots in {}", dir.display());

    // The home screen's title, "What would you like to do?" in each language, is drawn, and
    // differently in each: a missing font would leave the Chinese one blank.
    for (language, shot) in &homes {
        let ink = shot.count(30, 190, 1050, 290, dark);
        assert!(ink > 2000, "{language:?}: only {ink} dark pixels in the title");
    }
    let titles: Vec<Vec<[u8; 3]>> = homes
        .iter()
        .map(|(_, shot)| (190..290).flat_map(|y| (30..1050).map(move |x| (x, y))).map(|(x, y)| shot.pixel(x, y)).collect())
        .collect();
    assert_ne!(titles[0], titles[1]);
    assert_ne!(titles[1], titles[2]);
    assert_ne!(titles[0], titles[2]);
}

#[test]
fn every_kind_of_paper_prints_in_every_language_and_its_codes_read_back() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("paper");
    std::fs::create_dir_all(&dir).expect("paper folder");
    let saved = balcao_kiosk::tour::print_paper(&dir).expect("every paper prints through the driver");
    assert_eq!(saved.len(), 4 * Language::ALL.len());
    for path in &saved {
        let name = path.file_name().and_then(|n| n.to_str()).expect("name");
        let expected: &[&str] = if name.ends_with("application-receipt.png") {
            &["CODE-128:K01-261122-0012", "QR-Code:https://status.example/K01-261122-0012"]
        } else if name.ends_with("appointment-confirmation.png") {
            &["QR-Code:AP-7K2M-Q9XD"]
        } else {
            &[]
        };
        let read = balcao_drivers::receipt_printer::escpos::sim::read_codes(path).expect("zbarimg reads the printout");
        assert_eq!(read, expected, "{name}");
    }
    eprintln!("paper in {}", dir.display());
}
