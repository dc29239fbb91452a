/// Horizontal placement of a block on the paper.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Align {
    #[default]
    Left,
    Center,
    Right,
}

/// Text sizes a thermal printer offers (normal, double height and width, a title size, and
/// the display size of a queue ticket's number, read from arm's length).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TextSize {
    #[default]
    Normal,
    Large,
    Title,
    Display,
}

/// One piece of a receipt, top to bottom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Block {
    /// A paragraph, wrapped to the paper width.
    Text { text: String, align: Align, size: TextSize, bold: bool },
    /// A label on the left and a value on the right of the same line (amounts, numbers).
    Row { label: String, value: String, bold: bool },
    /// A horizontal line across the paper.
    Rule,
    /// A QR code, centred.
    Qr { payload: String },
    /// A Code 128 barcode, centred, its text printed below it (printable ASCII only): what
    /// counter staff's hand scanners read.
    Barcode { payload: String },
    /// Blank lines.
    Feed(u8),
}

/// A receipt as layout blocks; the paper is cut after the last one.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Receipt {
    pub blocks: Vec<Block>,
}

impl Receipt {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn title(self, text: impl Into<String>) -> Self {
        self.push(Block::Text { text: text.into(), align: Align::Center, size: TextSize::Title, bold: true })
    }

    /// A short text as large as the printer prints it (a queue ticket's number).
    pub fn display(self, text: impl Into<String>) -> Self {
        self.push(Block::Text { text: text.into(), align: Align::Center, size: TextSize::Display, bold: true })
    }

    pub fn heading(self, text: impl Into<String>) -> Self {
        self.push(Block::Text { text: text.into(), align: Align::Center, size: TextSize::Large, bold: true })
    }

    pub fn centered(self, text: impl Into<String>) -> Self {
        self.push(Block::Text { text: text.into(), align: Align::Center, size: TextSize::Normal, bold: false })
    }

    pub fn text(self, text: impl Into<String>) -> Self {
        self.push(Block::Text { text: text.into(), align: Align::Left, size: TextSize::Normal, bold: false })
    }

    pub fn row(self, label: impl Into<String>, value: impl Into<String>) -> Self {
        self.push(Block::Row { label: label.into(), value: value.into(), bold: false })
    }

    pub fn bold_row(self, label: impl Into<String>, value: impl Into<String>) -> Self {
        self.push(Block::Row { label: label.into(), value: value.into(), bold: true })
    }

    pub fn rule(self) -> Self {
        self.push(Block::Rule)
    }

    pub fn qr(self, payload: impl Into<String>) -> Self {
        self.push(Block::Qr { payload: payload.into() })
    }

    /// A Code 128 barcode; check [`Receipt::barcode_fits`] first, or printing fails as an
    /// invalid receipt.
    pub fn barcode(self, payload: impl Into<String>) -> Self {
        self.push(Block::Barcode { payload: payload.into() })
    }

    /// Whether `payload` can be a barcode on this paper: printable ASCII, at most 21
    /// characters (with bars 0.25 mm wide and their quiet zones, on 72 mm).
    pub fn barcode_fits(payload: &str) -> bool {
        super::raster::code128_modules(payload).is_ok()
    }

    pub fn feed(self, lines: u8) -> Self {
        self.push(Block::Feed(lines))
    }

    pub fn push(mut self, block: Block) -> Self {
        self.blocks.push(block);
        self
    }

    /// All the text on the receipt, one block per line: what a test or a log of the layout
    /// (never of personal data) compares against.
    pub fn plain_text(&self) -> String {
        let mut out = String::new();
        for block in &self.blocks {
            match block {
                Block::Text { text, .. } => out.push_str(text),
                Block::Row { label, value, .. } => {
                    out.push_str(label);
                    out.push_str(": ");
                    out.push_str(value);
                }
                Block::Rule => out.push_str("----"),
                Block::Qr { payload } => {
                    out.push_str("[QR ");
                    out.push_str(payload);
                    out.push(']');
                }
                Block::Barcode { payload } => {
                    out.push_str("[BARCODE ");
                    out.push_str(payload);
                    out.push(']');
                }
                Block::Feed(_) => {}
            }
            out.push('\n');
        }
        out
    }
}
