//! A form being filled in: the citizen's input per field, kept as typed (dates as digits),
//! turned into answers and checked with the same rules central applies.

use std::collections::BTreeMap;

use balcao_backend_client::api::{Answer, FieldError, FieldKind, Service, TextFormat, validate_answers};

use super::identify::Identity;
use super::ime::{Composer, Tables};

/// What the citizen entered in one field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    Text(String),
    /// Up to eight digits, day first: `DDMMYYYY`.
    Date(String),
    Number(i64),
    Choice(Option<String>),
    YesNo(Option<bool>),
}

/// Whether a tapped field needs the keyboard, and which.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keyboard {
    Letters,
    Digits,
    /// Chinese, with the composer's method.
    Chinese,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Draft {
    pub service: Service,
    pub inputs: Vec<Input>,
    pub focus: Option<usize>,
    /// Problems are shown once the citizen tried to continue.
    pub show_problems: bool,
    pub consent: bool,
    /// Who the applicant is, when the service asked; the fields it filled are locked.
    pub identity: Option<Identity>,
    pub locked: Vec<bool>,
    /// The citizen pressed Back with answers in the form: asked whether to erase them.
    pub leaving: bool,
    /// What is being composed in Chinese, in a field that asks for Chinese.
    pub composer: Composer,
}

/// What was typed is wiped when the form goes (the session ended, or the citizen left it).
impl Drop for Draft {
    fn drop(&mut self) {
        for input in &mut self.inputs {
            if let Input::Text(text) | Input::Date(text) = input {
                zeroize::Zeroize::zeroize(text);
            }
        }
    }
}

impl Draft {
    pub fn new(service: Service) -> Self {
        let inputs = service
            .form
            .iter()
            .map(|f| match &f.kind {
                FieldKind::Text { .. } => Input::Text(String::new()),
                FieldKind::Date { .. } => Input::Date(String::new()),
                FieldKind::Number { min, .. } => Input::Number(*min),
                FieldKind::Choice { .. } => Input::Choice(None),
                FieldKind::YesNo => Input::YesNo(None),
            })
            .collect();
        let locked = vec![false; service.form.len()];
        Self {
            service,
            inputs,
            focus: None,
            show_problems: false,
            consent: false,
            identity: None,
            locked,
            leaving: false,
            composer: Composer::default(),
        }
    }

    /// A form for an identified applicant: the fields asking for what the identification
    /// says (name, document number, birth date …) are filled from it and cannot be changed.
    pub fn identified(service: Service, identity: Identity) -> Self {
        let mut draft = Self::new(service);
        for (i, field) in draft.service.form.iter().enumerate() {
            let Some(value) = field.prefill.and_then(|a| identity.attribute(a)) else { continue };
            let input = match &field.kind {
                FieldKind::Text { max_length } => Input::Text(value.chars().take(*max_length as usize).collect()),
                FieldKind::Date { .. } => match value.split('-').collect::<Vec<_>>()[..] {
                    [y, m, d] => Input::Date(format!("{d}{m}{y}")),
                    _ => continue,
                },
                _ => continue,
            };
            draft.inputs[i] = input;
            draft.locked[i] = true;
        }
        draft.identity = Some(identity);
        draft
    }

    pub fn keyboard(&self) -> Option<Keyboard> {
        match self.inputs.get(self.focus?)? {
            Input::Text(_) if self.composer.method.is_some() => Some(Keyboard::Chinese),
            Input::Text(_) => Some(Keyboard::Letters),
            Input::Date(_) => Some(Keyboard::Digits),
            _ => None,
        }
    }

    /// Opens the keyboard on `field` (`None`: closes it). A field that asks for Chinese gets
    /// the Chinese keyboard when this kiosk has the tables (`tables`).
    pub fn focus(&mut self, field: Option<usize>, tables: Option<&Tables>) {
        self.focus = field.filter(|&i| {
            matches!(self.inputs.get(i), Some(Input::Text(_) | Input::Date(_))) && !self.locked.get(i).copied().unwrap_or(false)
        });
        let chinese = self.focus.is_some_and(|i| self.service.form[i].format == Some(TextFormat::Chinese));
        self.composer = Composer::start(if chinese { tables.and_then(Tables::first) } else { None });
    }

    /// A key of the on-screen keyboard, into the focused field.
    pub fn key(&mut self, key: &str) {
        let Some(i) = self.focus else { return };
        let max = match &self.service.form[i].kind {
            FieldKind::Text { max_length } => *max_length as usize,
            _ => 8,
        };
        match &mut self.inputs[i] {
            Input::Text(text) => {
                for c in key.chars().filter(|c| !c.is_control()) {
                    if text.chars().count() < max {
                        text.push(c);
                    }
                }
            }
            Input::Date(digits) => {
                for c in key.chars().filter(char::is_ascii_digit) {
                    if digits.len() < 8 {
                        digits.push(c);
                    }
                }
            }
            _ => {}
        }
    }

    pub fn backspace(&mut self) {
        if let Some(Input::Text(s) | Input::Date(s)) = self.focus.and_then(|i| self.inputs.get_mut(i)) {
            s.pop();
        }
    }

    pub fn choose(&mut self, field: usize, value: &str) {
        if self.locked.get(field).copied().unwrap_or(false) {
            return;
        }
        let known = matches!(&self.service.form.get(field).map(|f| &f.kind), Some(FieldKind::Choice { options }) if options.iter().any(|o| o.value == value));
        if let (true, Some(Input::Choice(choice))) = (known, self.inputs.get_mut(field)) {
            *choice = Some(value.to_string());
            self.focus = None;
        }
    }

    pub fn set_yes_no(&mut self, field: usize, yes: bool) {
        if let Some(Input::YesNo(answer)) = self.inputs.get_mut(field) {
            *answer = Some(yes);
            self.focus = None;
        }
    }

    pub fn step(&mut self, field: usize, delta: i32) {
        if let (Some(FieldKind::Number { min, max }), Some(Input::Number(n))) =
            (self.service.form.get(field).map(|f| &f.kind), self.inputs.get_mut(field))
        {
            *n = n.saturating_add(i64::from(delta)).clamp(*min, *max);
            self.focus = None;
        }
    }

    /// Whether the citizen has answered anything (a number left at its least counts as not).
    pub fn has_answers(&self) -> bool {
        self.service.form.iter().zip(&self.inputs).any(|(field, input)| match (input, &field.kind) {
            (Input::Text(s) | Input::Date(s), _) => !s.is_empty(),
            (Input::Number(n), FieldKind::Number { min, .. }) => n != min,
            (Input::Number(_), _) => false,
            (Input::Choice(c), _) => c.is_some(),
            (Input::YesNo(a), _) => a.is_some(),
        })
    }

    /// What the citizen pays for these answers (the fee per copy times the copies ordered).
    pub fn fee_avos(&self) -> u64 {
        self.service.fee_for(&self.answers())
    }

    /// The answers given so far, as sent to central.
    pub fn answers(&self) -> BTreeMap<String, Answer> {
        self.service
            .form
            .iter()
            .zip(&self.inputs)
            .filter_map(|(field, input)| {
                let answer = match input {
                    Input::Text(t) if t.trim().is_empty() => return None,
                    Input::Text(t) => Answer::Text(t.trim().to_string()),
                    Input::Date(d) if d.is_empty() => return None,
                    Input::Date(d) => Answer::Text(iso_date(d).unwrap_or_else(|| date_display(d))),
                    Input::Number(n) => Answer::Number(*n),
                    Input::Choice(c) => Answer::Text(c.clone()?),
                    Input::YesNo(b) => Answer::Bool((*b)?),
                };
                Some((field.id.clone(), answer))
            })
            .collect()
    }

    /// Problems with the answers, by field id; `today` is `YYYY-MM-DD`.
    pub fn problems(&self, today: &str) -> BTreeMap<String, FieldError> {
        validate_answers(&self.service.form, &self.answers(), today)
    }
}

/// `DDMMYYYY` → `YYYY-MM-DD`, if all eight digits are there.
pub fn iso_date(digits: &str) -> Option<String> {
    (digits.len() == 8 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| format!("{}-{}-{}", &digits[4..8], &digits[2..4], &digits[0..2]))
}

/// Digits as the citizen sees them while typing: `14/03/19`.
pub fn date_display(digits: &str) -> String {
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i == 2 || i == 4 {
            out.push('/');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_typed_day_first_and_sent_as_iso() {
        assert_eq!(date_display("1403"), "14/03");
        assert_eq!(date_display("14031985"), "14/03/1985");
        assert_eq!(iso_date("14031985").as_deref(), Some("1985-03-14"));
        assert_eq!(iso_date("140319"), None);
    }
}
