//! Rendering benchmark: for every screen of the tour (every screen, in each of the three
//! languages, the Chinese keyboard with its candidate bar included), with the software renderer
//! at 1080×1920 as the kiosk ships:
//!
//! - **touch → frame**: from the screen before it in the tour (what the citizen's touch
//!   changed) to this one: the view handed to the UI and the whole frame drawn;
//! - **whole screen**: the same screen drawn again from scratch.
//!
//! p50 and p99 of each, per screen; the goal is one 60 Hz frame, 16 ms, at p99. Run with
//! `cargo bench -p balcao-kiosk --bench render` (a release build).

#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]

use std::time::{Duration, Instant};

use balcao_kiosk::tour::tour;
use balcao_ui::headless::HeadlessUi;
use balcao_ui::view::Language;

const RUNS: usize = 40;
const GOAL: Duration = Duration::from_millis(16);

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let at = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[at.min(samples.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:6.2}", d.as_secs_f64() * 1000.0)
}

fn main() {
    let ui = HeadlessUi::new().expect("a headless UI");
    let mut buffer = HeadlessUi::frame_buffer();
    println!("{:<12} {:<40} {:>9} {:>9} {:>9} {:>9}", "language", "screen", "touch p50", "touch p99", "whole p50", "whole p99");
    let (mut worst_touch, mut worst_whole) = (Duration::ZERO, Duration::ZERO);
    let mut screens = 0;
    for language in Language::ALL {
        let stops = tour(language);
        for (i, (name, view)) in stops.iter().enumerate() {
            let before = &stops[i.saturating_sub(1)].1;
            let (mut touch, mut whole) = (Vec::with_capacity(RUNS), Vec::with_capacity(RUNS));
            for run in 0..RUNS + 3 {
                ui.frame(before, &mut buffer);
                let started = Instant::now();
                ui.frame(view, &mut buffer);
                let touched = started.elapsed();
                let started = Instant::now();
                ui.frame(view, &mut buffer);
                let drawn = started.elapsed();
                // The first runs warm the caches (glyphs, layouts).
                if run >= 3 {
                    touch.push(touched);
                    whole.push(drawn);
                }
            }
            let (t50, t99) = (percentile(&mut touch, 0.5), percentile(&mut touch, 0.99));
            let (w50, w99) = (percentile(&mut whole, 0.5), percentile(&mut whole, 0.99));
            worst_touch = worst_touch.max(t99);
            worst_whole = worst_whole.max(w99);
            screens += 1;
            println!("{:<12} {:<40} {} ms {} ms {} ms {} ms", language.tag(), name, ms(t50), ms(t99), ms(w50), ms(w99));
        }
    }
    println!();
    println!(
        "{screens} screens, {RUNS} runs each: worst p99 touch → frame {} ms, whole screen {} ms (goal {} ms)",
        ms(worst_touch),
        ms(worst_whole),
        ms(GOAL)
    );
    println!("goal {}", if worst_touch <= GOAL && worst_whole <= GOAL { "met" } else { "NOT met" });
}
