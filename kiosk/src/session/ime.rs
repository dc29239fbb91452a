//! Chinese text entry on the kiosk's own keyboard, as citizens of Macao and Hong Kong know it:
//!
//! - **stroke input** (五筆劃): the strokes of a character in writing order on five keys,
//!   一 丨 丿 丶 乙; the easiest for elderly citizens, who need no code to learn;
//! - **Quick** (速成): the first and last Cangjie radicals of a character, on the 26 letters.
//!
//! The tables are Debian's (`ibus-table-stroke5`, `ibus-table-quick-classic`: SQLite files),
//! read once by the kiosk's runtime (`runtime/ime.rs`) and handed to the session; looking a
//! prefix up is pure and fast (a binary search in a sorted list), so it runs on every key.

use std::sync::Arc;

/// An input method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    Stroke,
    Quick,
}

impl From<balcao_ui::view::ImeMethod> for Method {
    fn from(method: balcao_ui::view::ImeMethod) -> Self {
        match method {
            balcao_ui::view::ImeMethod::Stroke => Self::Stroke,
            balcao_ui::view::ImeMethod::Quick => Self::Quick,
        }
    }
}

impl From<Method> for balcao_ui::view::ImeMethod {
    fn from(method: Method) -> Self {
        match method {
            Method::Stroke => Self::Stroke,
            Method::Quick => Self::Quick,
        }
    }
}

/// The stroke keys: the table's key and the stroke it stands for.
pub const STROKES: [(char, &str); 5] = [('m', "一"), ('/', "丨"), (',', "丿"), ('.', "丶"), ('n', "乙")];

/// The Quick (Cangjie) radicals, by key.
pub const RADICALS: [(char, &str); 26] = [
    ('a', "日"),
    ('b', "月"),
    ('c', "金"),
    ('d', "木"),
    ('e', "水"),
    ('f', "火"),
    ('g', "土"),
    ('h', "竹"),
    ('i', "戈"),
    ('j', "十"),
    ('k', "大"),
    ('l', "中"),
    ('m', "一"),
    ('n', "弓"),
    ('o', "人"),
    ('p', "心"),
    ('q', "手"),
    ('r', "口"),
    ('s', "尸"),
    ('t', "廿"),
    ('u', "山"),
    ('v', "女"),
    ('w', "田"),
    ('x', "難"),
    ('y', "卜"),
    ('z', "重"),
];

/// Candidates shown at once on the keyboard's bar.
pub const PAGE: usize = 8;

impl Method {
    /// The keys it takes, with what each shows.
    pub fn keys(self) -> &'static [(char, &'static str)] {
        match self {
            Self::Stroke => &STROKES,
            Self::Quick => &RADICALS,
        }
    }

    /// The most keys a code has.
    pub fn max_keys(self) -> usize {
        match self {
            Self::Stroke => 5,
            Self::Quick => 2,
        }
    }

    /// What a typed code looks like on the bar (the strokes or radicals themselves).
    pub fn shown(self, keys: &str) -> String {
        keys.chars().filter_map(|k| self.keys().iter().find(|(key, _)| *key == k).map(|(_, label)| *label)).collect()
    }
}

/// One method's table: single characters with their codes, sorted by code.
#[derive(Clone, Debug, Default)]
pub struct Table {
    /// (code, character, frequency), sorted by code.
    entries: Vec<(String, String, i64)>,
}

impl Table {
    /// A table from its rows; phrases of more than one character are left out (a name is typed
    /// one character at a time).
    pub fn new(mut rows: Vec<(String, String, i64)>) -> Self {
        rows.retain(|(code, phrase, _)| !code.is_empty() && phrase.chars().count() == 1);
        rows.sort();
        Self { entries: rows }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The characters whose code starts with `code`: those whose code it is first, then longer
    /// codes, shorter before longer; the most used first within each; each character once.
    pub fn candidates(&self, code: &str) -> Vec<String> {
        if code.is_empty() {
            return Vec::new();
        }
        let start = self.entries.partition_point(|(c, _, _)| c.as_str() < code);
        let mut found: Vec<&(String, String, i64)> = self.entries[start..].iter().take_while(|(c, _, _)| c.starts_with(code)).collect();
        found.sort_by_key(|(code, _, freq)| (code.len(), std::cmp::Reverse(*freq)));
        let mut seen = std::collections::HashSet::new();
        found.into_iter().filter(|(_, phrase, _)| seen.insert(phrase.as_str())).map(|(_, phrase, _)| phrase.clone()).collect()
    }
}

/// The tables the kiosk has (a method whose package is missing is not offered).
#[derive(Clone, Debug, Default)]
pub struct Tables {
    pub stroke: Option<Table>,
    pub quick: Option<Table>,
}

impl Tables {
    pub fn table(&self, method: Method) -> Option<&Table> {
        match method {
            Method::Stroke => self.stroke.as_ref(),
            Method::Quick => self.quick.as_ref(),
        }
    }

    /// The method a Chinese field starts with: stroke input, the one anyone can use.
    pub fn first(&self) -> Option<Method> {
        [Method::Stroke, Method::Quick].into_iter().find(|m| self.table(*m).is_some())
    }
}

/// What the citizen is composing: the method, the code typed so far and the page of candidates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Composer {
    pub method: Option<Method>,
    pub code: String,
    pub page: usize,
    /// The candidates for `code` (kept so a page turn or a choice needs no look-up).
    candidates: Vec<String>,
}

impl Composer {
    /// Starts composing with `method` (`None`: no Chinese entry here).
    pub fn start(method: Option<Method>) -> Self {
        Self { method, ..Self::default() }
    }

    /// Switches method (what was typed is dropped: codes differ).
    pub fn switch(&mut self, method: Method, tables: &Tables) {
        if tables.table(method).is_some() {
            *self = Self::start(Some(method));
        }
    }

    /// A key of the method's keyboard; a key the method does not have, or one past the
    /// longest code, does nothing.
    pub fn key(&mut self, key: char, tables: &Arc<Tables>) {
        let Some(method) = self.method else { return };
        let Some(table) = tables.table(method) else { return };
        if self.code.chars().count() >= method.max_keys() || !method.keys().iter().any(|(k, _)| *k == key) {
            return;
        }
        self.code.push(key);
        self.candidates = table.candidates(&self.code);
        self.page = 0;
    }

    /// Erases the last key typed: `false` when there was none (the field's last character
    /// goes instead).
    pub fn backspace(&mut self, tables: &Arc<Tables>) -> bool {
        if self.code.pop().is_none() {
            return false;
        }
        self.candidates = match self.method.and_then(|m| tables.table(m)) {
            Some(table) => table.candidates(&self.code),
            None => Vec::new(),
        };
        self.page = 0;
        true
    }

    /// The candidates on the current page.
    pub fn page_of_candidates(&self) -> &[String] {
        let from = (self.page * PAGE).min(self.candidates.len());
        &self.candidates[from..(from + PAGE).min(self.candidates.len())]
    }

    /// Whether pages follow (or precede) this one.
    pub fn more(&self) -> (bool, bool) {
        (self.page > 0, (self.page + 1) * PAGE < self.candidates.len())
    }

    pub fn turn(&mut self, by: i32) {
        let (before, after) = self.more();
        if (by < 0 && before) || (by > 0 && after) {
            self.page = if by < 0 { self.page - 1 } else { self.page + 1 };
        }
    }

    /// The candidate at `index` on the page, which ends the code.
    pub fn choose(&mut self, index: usize) -> Option<String> {
        let chosen = self.page_of_candidates().get(index).cloned()?;
        self.code.clear();
        self.candidates.clear();
        self.page = 0;
        Some(chosen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables() -> Arc<Tables> {
        let row = |code: &str, phrase: &str, freq| (code.to_string(), phrase.to_string(), freq);
        Arc::new(Tables {
            stroke: Some(Table::new(vec![
                row("nn/m/", "陳", 500),
                row("m,.", "大", 400),
                row("m", "大", 100),
                row("m,", "而", 500),
                row(".m,.", "文", 500),
                row(".m", "文", 100),
                row("m,.", "犬", 300),
                row("mm", "二三", 10),
            ])),
            quick: Some(Table::new(vec![row("nw", "陳", 500), row("k", "大", 500), row("yk", "文", 500), row("nl", "弔", 500)])),
        })
    }

    #[test]
    fn strokes_narrow_the_candidates_and_the_most_used_come_first() {
        let tables = tables();
        let mut composer = Composer::start(tables.first());
        assert_eq!(composer.method, Some(Method::Stroke), "stroke input first");
        for key in ['m', ',', '.'] {
            composer.key(key, &tables);
        }
        assert_eq!(Method::Stroke.shown(&composer.code), "一丿丶");
        assert_eq!(composer.page_of_candidates(), ["大", "犬"], "the exact code, most used first");
        composer.backspace(&tables);
        assert_eq!(composer.page_of_candidates(), ["而", "大", "犬"], "a shorter code: its own first, then longer ones");
        assert_eq!(composer.choose(1).as_deref(), Some("大"));
        assert!(composer.code.is_empty() && composer.page_of_candidates().is_empty());
        assert!(!composer.backspace(&tables), "nothing typed: the field's character goes instead");
        // Keys the method does not have, and codes past the longest, do nothing.
        composer.key('q', &tables);
        assert!(composer.code.is_empty());
        for key in "nn/m/m".chars() {
            composer.key(key, &tables);
        }
        assert_eq!((composer.code.as_str(), composer.page_of_candidates()), ("nn/m/", &["陳".to_string()][..]));
    }

    #[test]
    fn quick_takes_two_radicals_and_a_switch_drops_the_code() {
        let tables = tables();
        let mut composer = Composer::start(Some(Method::Stroke));
        composer.key('m', &tables);
        composer.switch(Method::Quick, &tables);
        assert_eq!((composer.method, composer.code.as_str()), (Some(Method::Quick), ""));
        for key in "nwx".chars() {
            composer.key(key, &tables);
        }
        assert_eq!((Method::Quick.shown(&composer.code), composer.page_of_candidates()), ("弓田".to_string(), &["陳".to_string()][..]));
    }

    #[test]
    fn candidates_come_a_page_at_a_time() {
        let rows = (0..20).map(|i| ("m".to_string(), char::from_u32(0x4e00 + i).expect("char").to_string(), 100 - i64::from(i))).collect();
        let tables = Arc::new(Tables { stroke: Some(Table::new(rows)), quick: None });
        let mut composer = Composer::start(tables.first());
        composer.key('m', &tables);
        assert_eq!((composer.page_of_candidates().len(), composer.more()), (PAGE, (false, true)));
        composer.turn(1);
        composer.turn(1);
        assert_eq!((composer.page_of_candidates().len(), composer.more()), (4, (true, false)));
        composer.turn(1);
        assert_eq!(composer.page, 2, "no page past the last");
        assert_eq!(composer.choose(3).as_deref(), Some("\u{4e13}"), "the 20th character, the 4th of the last page");
        composer.switch(Method::Quick, &tables);
        assert_eq!(composer.method, Some(Method::Stroke), "no Quick table: no switch");
    }
}
