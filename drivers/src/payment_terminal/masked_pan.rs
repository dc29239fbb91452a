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

/// True for a digit string that passes the Luhn check, as every card number does.
pub fn luhn_valid(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let Some(mut n) = (*d as char).to_digit(10) else { return false };
        if i % 2 == 1 {
            n *= 2;
            if n > 9 {
                n -= 9;
            }
        }
        sum += n;
    }
    !digits.is_empty() && sum.is_multiple_of(10)
}

/// Text from a terminal (a receipt line) with any card number in it masked down to its last
/// four digits: a run of 13 to 19 digits (spaces and dashes between groups allowed) that
/// passes the Luhn check. Terminals should never send one; a misconfigured one does.
pub fn scrub_card_numbers(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        // The run of digits and the separators inside it.
        let mut end = i;
        while end < chars.len()
            && (chars[end].is_ascii_digit() || (matches!(chars[end], ' ' | '-') && chars.get(end + 1).is_some_and(char::is_ascii_digit)))
        {
            end += 1;
        }
        let run = &chars[i..end];
        let digits: Vec<u8> = run.iter().filter(|c| c.is_ascii_digit()).map(|c| *c as u8).collect();
        if (13..=19).contains(&digits.len()) && luhn_valid(&digits) {
            let mut seen = 0;
            for c in run {
                if c.is_ascii_digit() {
                    seen += 1;
                    out.push(if seen > digits.len() - 4 { *c } else { '*' });
                } else {
                    out.push(*c);
                }
            }
        } else {
            out.extend(run);
        }
        i = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_numbers_in_text_are_masked_and_other_numbers_left_alone() {
        assert_eq!(scrub_card_numbers("VISA 4111111111111111 OK"), "VISA ************1111 OK");
        assert_eq!(scrub_card_numbers("PAN 4111 1111 1111 1111"), "PAN **** **** **** 1111");
        // Not Luhn-valid, or too short: a trace number, a date, an amount.
        assert_eq!(scrub_card_numbers("TRACE 4111111111111112"), "TRACE 4111111111111112");
        assert_eq!(scrub_card_numbers("2026-12-02 MOP 30.00 RECEIPT 0001"), "2026-12-02 MOP 30.00 RECEIPT 0001");
        assert!(luhn_valid(b"79927398713"));
        assert!(!luhn_valid(b"79927398710"));
    }

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
