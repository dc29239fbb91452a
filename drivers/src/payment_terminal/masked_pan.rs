use std::fmt;

/// The last four digits of a card number, which is all the kiosk may keep or print.
///
/// Built only from what a terminal returns already masked; anything that shows more than the
/// first six and last four digits is refused, so a full card number cannot get in by mistake.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct MaskedPan {
    last4: String,
}

impl MaskedPan {
    /// From a terminal's masked PAN such as `541333******4567` or `************4567`.
    pub fn from_masked(masked: &str) -> Option<Self> {
        let digits: Vec<char> = masked.chars().filter(char::is_ascii_digit).collect();
        let masks = masked.chars().filter(|c| matches!(c, '*' | 'X' | 'x' | '#' | '•')).count();
        if digits.len() < 4 || digits.len() > 10 || masks == 0 {
            return None;
        }
        Some(Self { last4: digits[digits.len() - 4..].iter().collect() })
    }

    pub fn last4(&self) -> &str {
        &self.last4
    }
}

impl fmt::Display for MaskedPan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "**** {}", self.last4)
    }
}

impl fmt::Debug for MaskedPan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MaskedPan(**** {})", self.last4)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_the_last_four_digits() {
        assert_eq!(MaskedPan::from_masked("541333******4567").map(|p| p.to_string()), Some("**** 4567".into()));
        assert_eq!(MaskedPan::from_masked("XXXXXXXXXXXX1234").map(|p| p.last4().to_string()), Some("1234".into()));
    }

    #[test]
    fn refuses_anything_that_could_be_a_full_card_number() {
        assert_eq!(MaskedPan::from_masked("4111111111111111"), None);
        assert_eq!(MaskedPan::from_masked("41111111111*1111"), None);
        assert_eq!(MaskedPan::from_masked("****"), None);
    }
}
