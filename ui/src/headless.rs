//! Renders the UI without a display, with the same software renderer the kiosk uses: for
//! screenshots of every screen and for tests that look at pixels.

use std::rc::Rc;
use std::time::{Duration, Instant};

use slint::ComponentHandle;
use slint::Rgb8Pixel;
use slint::platform::software_renderer::{MinimalSoftwareWindow, RepaintBufferType};
use slint::platform::{Platform, WindowAdapter};

use crate::KioskUi;
use crate::view::View;

/// The kiosk's screen size in pixels (portrait).
pub const WIDTH: u32 = 1080;
pub const HEIGHT: u32 = 1920;

struct HeadlessPlatform {
    window: Rc<MinimalSoftwareWindow>,
    start: Instant,
}

impl Platform for HeadlessPlatform {
    fn create_window_adapter(&self) -> Result<Rc<dyn WindowAdapter>, slint::PlatformError> {
        Ok(self.window.clone())
    }

    fn duration_since_start(&self) -> Duration {
        self.start.elapsed()
    }
}

/// A rendered screen.
#[derive(Clone, PartialEq, Eq)]
pub struct Screenshot {
    pub width: u32,
    pub height: u32,
    /// RGB, row by row.
    pub pixels: Vec<[u8; 3]>,
}

impl std::fmt::Debug for Screenshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Screenshot({}x{})", self.width, self.height)
    }
}

impl Screenshot {
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        self.pixels[(y * self.width + x) as usize]
    }

    /// How many pixels of a rectangle satisfy `test`.
    pub fn count(&self, x0: u32, y0: u32, x1: u32, y1: u32, test: impl Fn([u8; 3]) -> bool) -> usize {
        (y0..y1.min(self.height))
            .flat_map(|y| (x0..x1.min(self.width)).map(move |x| (x, y)))
            .filter(|&(x, y)| test(self.pixel(x, y)))
            .count()
    }

    pub fn to_png(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, self.width, self.height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let bytes: Vec<u8> = self.pixels.iter().flatten().copied().collect();
        // Encoding into memory cannot fail for a consistent header and buffer.
        if let Ok(mut writer) = encoder.write_header() {
            let _ = writer.write_image_data(&bytes);
        }
        out
    }
}

/// The kiosk UI on an off-screen window. Slint allows one platform per process: create one
/// `HeadlessUi` and render everything with it.
pub struct HeadlessUi {
    ui: KioskUi,
    window: Rc<MinimalSoftwareWindow>,
}

impl std::fmt::Debug for HeadlessUi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeadlessUi").finish_non_exhaustive()
    }
}

#[derive(Debug)]
pub enum HeadlessError {
    /// Slint already has a platform in this process.
    PlatformTaken,
    Platform(slint::PlatformError),
}

impl std::fmt::Display for HeadlessError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::PlatformTaken => write!(f, "Slint already has a platform in this process"),
            Self::Platform(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for HeadlessError {}

impl HeadlessUi {
    pub fn new() -> Result<Self, HeadlessError> {
        let window = MinimalSoftwareWindow::new(RepaintBufferType::NewBuffer);
        slint::platform::set_platform(Box::new(HeadlessPlatform { window: window.clone(), start: Instant::now() }))
            .map_err(|_| HeadlessError::PlatformTaken)?;
        let ui = KioskUi::new().map_err(HeadlessError::Platform)?;
        window.set_size(slint::PhysicalSize::new(WIDTH, HEIGHT));
        ui.window().show().map_err(HeadlessError::Platform)?;
        Ok(Self { ui, window })
    }

    pub fn ui(&self) -> &KioskUi {
        &self.ui
    }

    /// Shows `view` and renders the whole screen into `buffer` (1080×1920 pixels, reused from
    /// frame to frame as a display's would be): what a frame costs, for the benchmarks.
    pub fn frame(&self, view: &View, buffer: &mut [Rgb8Pixel]) {
        self.ui.show(view);
        slint::platform::update_timers_and_animations();
        self.window.request_redraw();
        self.window.draw_if_needed(|renderer| {
            renderer.render(buffer, WIDTH as usize);
        });
    }

    /// A screen's worth of pixels for [`frame`](Self::frame).
    pub fn frame_buffer() -> Vec<Rgb8Pixel> {
        vec![Rgb8Pixel::new(0, 0, 0); (WIDTH * HEIGHT) as usize]
    }

    /// Shows `view` and renders the whole screen.
    pub fn render(&self, view: &View) -> Screenshot {
        self.ui.show(view);
        slint::platform::update_timers_and_animations();
        self.window.request_redraw();
        let mut buffer = vec![Rgb8Pixel::new(0, 0, 0); (WIDTH * HEIGHT) as usize];
        self.window.draw_if_needed(|renderer| {
            renderer.render(&mut buffer, WIDTH as usize);
        });
        Screenshot { width: WIDTH, height: HEIGHT, pixels: buffer.iter().map(|p| [p.r, p.g, p.b]).collect() }
    }
}
