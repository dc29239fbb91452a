//! Typing a number printed on a paper the citizen holds (an application receipt, an
//! appointment confirmation) and a date of birth: the two fields of the status check and of
//! cancelling an appointment, on the kiosk's own keyboard.

use super::DateOfBirth;
use super::draft::{date_display, iso_date};

/// The two fields. Field 0 takes capitals, digits and dashes; field 1 the date's eight digits,
/// day first. Its `Debug` shows nothing typed, and the date is wiped when dropped.
#[derive(Clone, Default)]
pub struct NumberAndBirth {
    pub number: String,
    /// Digits typed, day first: `DDMMYYYY`.
    pub birth_digits: String,
    /// 0: the number, 1: the date of birth.
    pub focus: Option<usize>,
    max_number: usize,
}

impl std::fmt::Debug for NumberAndBirth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NumberAndBirth").field("focus", &self.focus).finish_non_exhaustive()
    }
}

impl Drop for NumberAndBirth {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.number);
        zeroize::Zeroize::zeroize(&mut self.birth_digits);
    }
}

impl NumberAndBirth {
    /// Empty, with `focus` open, numbers up to `max_number` characters.
    pub fn new(max_number: usize, focus: Option<usize>) -> Self {
        Self { number: String::new(), birth_digits: String::new(), focus, max_number }
    }

    pub fn focus(&mut self, field: Option<usize>) {
        self.focus = field.filter(|f| *f < 2);
    }

    /// Capitals, digits and dashes for the number; digits only for the date, eight at most.
    /// Whether the key went to a field.
    pub fn key(&mut self, key: &str) -> bool {
        match self.focus {
            Some(0) => {
                for c in key.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-') {
                    if self.number.chars().count() < self.max_number {
                        self.number.push(c.to_ascii_uppercase());
                    }
                }
            }
            Some(_) => {
                // The keypad stays open after the last digit (closing by itself, it would put the
                // buttons under the citizen's finger) until they press Done.
                for c in key.chars().filter(char::is_ascii_digit) {
                    if self.birth_digits.len() < 8 {
                        self.birth_digits.push(c);
                    }
                }
            }
            None => return false,
        }
        true
    }

    /// Whether a character was erased (or there was a field to erase from).
    pub fn backspace(&mut self) -> bool {
        match self.focus {
            Some(0) => drop(self.number.pop()),
            Some(_) => drop(self.birth_digits.pop()),
            None => return false,
        }
        true
    }

    /// The date of birth as `YYYY-MM-DD`, if what was typed is a date.
    pub fn date_of_birth(&self) -> Option<DateOfBirth> {
        let iso = iso_date(&self.birth_digits)?;
        iso.parse::<jiff::civil::Date>().ok().map(|_| DateOfBirth(iso))
    }

    /// The date as the citizen sees it while typing: `14/03/19…`.
    pub fn birth_shown(&self) -> String {
        date_display(&self.birth_digits)
    }

    /// The date is to be typed again: emptied, with the keypad open on it.
    pub fn retype_birth(&mut self) {
        self.birth_digits.clear();
        self.focus = Some(1);
    }

    pub fn complete(&self) -> bool {
        !self.number.trim().is_empty() && !self.birth_digits.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_field_takes_its_own_characters_within_its_length() {
        let mut entry = NumberAndBirth::new(12, Some(0));
        assert!(entry.key("ap-7k2m q9xd!xyz"));
        assert_eq!(entry.number, "AP-7K2MQ9XDX", "capitals, no space, twelve at most");
        entry.focus(Some(1));
        entry.key("14a03/1985 99");
        assert_eq!((entry.birth_shown().as_str(), entry.date_of_birth().map(|d| d.0.clone())), ("14/03/1985", Some("1985-03-14".into())));
        entry.backspace();
        assert_eq!(entry.date_of_birth(), None, "seven digits are no date");
        entry.key("5");
        entry.focus(Some(7));
        assert_eq!(entry.focus, None, "no third field");
        assert!(!entry.key("1") && !entry.backspace(), "with no field open, keys go nowhere");
        entry.focus(Some(1));
        entry.birth_digits = "31021985".into();
        assert_eq!(entry.date_of_birth(), None, "the 31st of February is not a date");
        entry.retype_birth();
        assert_eq!((entry.birth_digits.as_str(), entry.focus), ("", Some(1)));
        assert!(!format!("{entry:?}").contains("AP-"), "Debug shows nothing typed");
    }
}
