//! Form schemas and the validation both kiosk and central apply to answers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Answer, LocalizedText};

/// What a field's answer may be.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FieldKind {
    /// Free text of at most `max_length` characters.
    Text {
        max_length: u32,
    },
    /// A whole number in `min..=max`.
    Number {
        min: i64,
        max: i64,
    },
    /// A date, `YYYY-MM-DD`.
    Date {
        range: DateRange,
    },
    /// One of the options.
    Choice {
        options: Vec<ChoiceOption>,
    },
    YesNo,
}

/// Which dates a date field accepts, relative to the day of the application.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DateRange {
    /// Today or before (dates of birth, of events).
    Past,
    /// Today or after (appointments, travel).
    Future,
    Any,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChoiceOption {
    pub value: String,
    pub label: LocalizedText,
}

/// An identity attribute that can fill a field when the citizen identified with a document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum IdentityAttribute {
    FullName,
    DocumentNumber,
    DateOfBirth,
    Nationality,
}

/// What a text answer must look like beyond its length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TextFormat {
    /// The number of an identity document a citizen of Macao applies with: a Macao resident
    /// identity card (`1234567(8)`), a Hong Kong identity card (`A123456(3)`, its check digit
    /// checked), or a passport or travel permit (5 to 12 letters and digits). Nothing else:
    /// a number central's registry cannot match makes the application fail later.
    IdentityDocumentNumber,
    /// Text in Chinese characters (a name, an address): the kiosk offers its Chinese input
    /// methods for it.
    Chinese,
}

/// One field of a service's form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FormField {
    /// Key of the answer, e.g. `purpose`.
    pub id: String,
    pub label: LocalizedText,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<LocalizedText>,
    pub required: bool,
    #[serde(flatten)]
    pub kind: FieldKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefill: Option<IdentityAttribute>,
    /// For a text: the form its answer must have. Older kiosks ignore it; central checks it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<TextFormat>,
}

/// Why an answer is not acceptable; the kiosk shows it translated, central returns it in a
/// problem's `errors`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum FieldError {
    Required,
    TooLong {
        max_length: u32,
    },
    OutOfRange {
        min: i64,
        max: i64,
    },
    /// Not a real date in `YYYY-MM-DD` form.
    InvalidDate,
    DateNotInPast,
    DateNotInFuture,
    NotAnOption,
    /// The answer has the wrong type for the field (text for a number, …).
    WrongType,
    /// The form has no such field.
    UnknownField,
    /// Not the number of an identity document the field accepts (see its `format`).
    InvalidDocumentNumber,
}

impl FormField {
    /// Checks one answer against this field. `today` is `YYYY-MM-DD` in the kiosk's time zone.
    pub fn validate(&self, answer: Option<&Answer>, today: &str) -> Result<(), FieldError> {
        let answer = match answer {
            None => return if self.required { Err(FieldError::Required) } else { Ok(()) },
            Some(Answer::Text(t)) if t.trim().is_empty() => {
                return if self.required { Err(FieldError::Required) } else { Ok(()) };
            }
            Some(a) => a,
        };
        match (&self.kind, answer) {
            (FieldKind::Text { max_length }, Answer::Text(t)) => {
                if t.chars().count() > *max_length as usize {
                    return Err(FieldError::TooLong { max_length: *max_length });
                }
                if t.chars().any(char::is_control) {
                    return Err(FieldError::WrongType);
                }
                match self.format {
                    Some(TextFormat::IdentityDocumentNumber) if !is_identity_document_number(t) => Err(FieldError::InvalidDocumentNumber),
                    _ => Ok(()),
                }
            }
            (FieldKind::Number { min, max }, Answer::Number(n)) => {
                if n < min || n > max {
                    Err(FieldError::OutOfRange { min: *min, max: *max })
                } else {
                    Ok(())
                }
            }
            (FieldKind::Date { range }, Answer::Text(t)) => {
                if !is_iso_date(t) {
                    return Err(FieldError::InvalidDate);
                }
                // ISO dates compare correctly as strings.
                match range {
                    DateRange::Past if t.as_str() > today => Err(FieldError::DateNotInPast),
                    DateRange::Future if t.as_str() < today => Err(FieldError::DateNotInFuture),
                    _ => Ok(()),
                }
            }
            (FieldKind::Choice { options }, Answer::Text(t)) => {
                if options.iter().any(|o| &o.value == t) {
                    Ok(())
                } else {
                    Err(FieldError::NotAnOption)
                }
            }
            (FieldKind::YesNo, Answer::Bool(_)) => Ok(()),
            _ => Err(FieldError::WrongType),
        }
    }
}

/// Checks every answer of a form; the errors are keyed by field id.
pub fn validate_answers(form: &[FormField], answers: &BTreeMap<String, Answer>, today: &str) -> BTreeMap<String, FieldError> {
    let mut errors: BTreeMap<String, FieldError> =
        form.iter().filter_map(|f| f.validate(answers.get(&f.id), today).err().map(|e| (f.id.clone(), e))).collect();
    for id in answers.keys() {
        if !form.iter().any(|f| &f.id == id) {
            errors.insert(id.clone(), FieldError::UnknownField);
        }
    }
    errors
}

/// Whether `number` is written as one of the identity documents [`TextFormat::IdentityDocumentNumber`]
/// names. Letters in either case; spaces are not part of any of them.
pub fn is_identity_document_number(number: &str) -> bool {
    let number = number.trim().to_ascii_uppercase();
    let b = number.as_bytes();
    if !b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'(' || *c == b')') {
        return false;
    }
    // A check digit may stand in parentheses, and only a check digit: `…(d)` at the end.
    let (body, check) = match b.iter().position(|&c| c == b'(') {
        None if !b.contains(&b')') => (b, None),
        Some(open) if open + 3 == b.len() && b[open + 2] == b')' && b[open + 1] != b')' => (&b[..open], Some(b[open + 1])),
        _ => return false,
    };
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    // Macao resident identity card: seven digits and a check digit. How the check digit is
    // computed is not published, so only its form is checked.
    let macao = |body: &[u8], check: Option<u8>| match check {
        Some(c) => body.len() == 7 && digits(body) && c.is_ascii_digit(),
        None => body.len() == 8 && digits(body),
    };
    if macao(body, check) {
        return true;
    }
    // Hong Kong identity card: one or two letters, six digits and a check digit (0-9 or A) in
    // parentheses, which must be right.
    let hong_kong = |body: &[u8], check: u8| {
        let letters = body.iter().take_while(|c| c.is_ascii_uppercase()).count();
        (1..=2).contains(&letters) && body.len() == letters + 6 && digits(&body[letters..]) && hong_kong_check(body) == Some(check)
    };
    match check {
        Some(check) => hong_kong(body, check),
        // A passport or travel permit: letters and digits, with at least one digit. (A Hong
        // Kong card written without its parentheses looks like one, and passes as one.)
        None => (5..=12).contains(&body.len()) && body.iter().any(u8::is_ascii_digit),
    }
}

/// The check digit of a Hong Kong identity card's letters and digits (`A123456` → `3`): the
/// characters weighted 9 down to 2 (a single letter counts as a space, 36, before it; letters
/// are 10 to 35), and 11 minus the sum modulo 11, where 10 is `A` and 11 is `0`.
fn hong_kong_check(body: &[u8]) -> Option<u8> {
    let value = |c: u8| match c {
        b'0'..=b'9' => Some(u32::from(c - b'0')),
        b'A'..=b'Z' => Some(u32::from(c - b'A') + 10),
        _ => None,
    };
    let mut values = Vec::with_capacity(8);
    if body.len() == 7 {
        values.push(36);
    }
    for &c in body {
        values.push(value(c)?);
    }
    if values.len() != 8 {
        return None;
    }
    let sum: u32 = values.iter().zip((2..=9).rev()).map(|(v, w)| v * w).sum();
    Some(match 11 - sum % 11 {
        11 => b'0',
        10 => b'A',
        d => b'0' + u8::try_from(d).ok()?,
    })
}

/// `YYYY-MM-DD` naming a day that exists (leap years included).
fn is_iso_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| s.get(r).filter(|p| p.bytes().all(|c| c.is_ascii_digit())).and_then(|p| p.parse::<u32>().ok());
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else { return false };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    y >= 1900 && (1..=days).contains(&d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(kind: FieldKind, required: bool) -> FormField {
        FormField {
            id: "f".into(),
            label: LocalizedText::new("欄", "campo", "field"),
            help: None,
            required,
            kind,
            prefill: None,
            format: None,
        }
    }

    #[test]
    fn identity_document_numbers_are_checked_by_the_kind_of_document() {
        for good in ["1234567(8)", "12345678", "5215299(8)", "A123456(3)", "a123456(3)", "A1234563", "AB9876543", "G123456(A)", "MA1234567"]
        {
            assert!(is_identity_document_number(good), "{good} is a document number");
        }
        for bad in [
            "1234567)8/",
            "1234567(8",
            "1234567)8(",
            "1234567(88)",
            "123(4)5678",
            "A123456(4)",
            "ABCDEFG",
            "12-345678",
            "1234 5678",
            "1234",
            "ABCDEFGHIJKLM1",
            "",
        ] {
            assert!(!is_identity_document_number(bad), "{bad:?} is not");
        }
        let mut f = field(FieldKind::Text { max_length: 20 }, true);
        f.format = Some(TextFormat::IdentityDocumentNumber);
        assert_eq!(f.validate(Some(&text("1234567)8/")), "2026-12-07"), Err(FieldError::InvalidDocumentNumber));
        assert_eq!(f.validate(Some(&text("1234567(8)")), "2026-12-07"), Ok(()));
        let json = serde_json::to_value(&f).expect("json");
        assert_eq!(json["format"], "identity_document_number");
        let old: FormField = serde_json::from_value(serde_json::json!({"id": "f", "label": {"zh-Hant": "欄", "pt": "c", "en": "f"}, "required": true, "type": "text", "max_length": 20})).expect("a field without a format");
        assert_eq!(old.format, None);
    }

    fn text(s: &str) -> Answer {
        Answer::Text(s.into())
    }

    #[test]
    fn validation_cases() {
        let today = "2026-11-22";
        let choice = FieldKind::Choice {
            options: vec![ChoiceOption { value: "work".into(), label: LocalizedText::new("就業", "Emprego", "Employment") }],
        };
        type Case = (FieldKind, bool, Option<Answer>, Result<(), FieldError>);
        let cases: Vec<Case> = vec![
            (FieldKind::Text { max_length: 5 }, true, None, Err(FieldError::Required)),
            (FieldKind::Text { max_length: 5 }, true, Some(text("  ")), Err(FieldError::Required)),
            (FieldKind::Text { max_length: 5 }, false, None, Ok(())),
            (FieldKind::Text { max_length: 5 }, true, Some(text("陳大文")), Ok(())),
            (FieldKind::Text { max_length: 5 }, true, Some(text("Conceição")), Err(FieldError::TooLong { max_length: 5 })),
            (FieldKind::Text { max_length: 50 }, true, Some(text("a\u{7}b")), Err(FieldError::WrongType)),
            (FieldKind::Number { min: 1, max: 5 }, true, Some(Answer::Number(5)), Ok(())),
            (FieldKind::Number { min: 1, max: 5 }, true, Some(Answer::Number(6)), Err(FieldError::OutOfRange { min: 1, max: 5 })),
            (FieldKind::Number { min: 1, max: 5 }, true, Some(text("3")), Err(FieldError::WrongType)),
            (FieldKind::Date { range: DateRange::Past }, true, Some(text("1985-03-14")), Ok(())),
            (FieldKind::Date { range: DateRange::Past }, true, Some(text("2024-02-29")), Ok(())),
            (FieldKind::Date { range: DateRange::Past }, true, Some(text("2023-02-29")), Err(FieldError::InvalidDate)),
            (FieldKind::Date { range: DateRange::Past }, true, Some(text("14/03/1985")), Err(FieldError::InvalidDate)),
            (FieldKind::Date { range: DateRange::Past }, true, Some(text("2027-01-01")), Err(FieldError::DateNotInPast)),
            (FieldKind::Date { range: DateRange::Future }, true, Some(text("2026-11-21")), Err(FieldError::DateNotInFuture)),
            (FieldKind::Date { range: DateRange::Future }, true, Some(text("2026-11-22")), Ok(())),
            (choice.clone(), true, Some(text("work")), Ok(())),
            (choice, true, Some(text("play")), Err(FieldError::NotAnOption)),
            (FieldKind::YesNo, true, Some(Answer::Bool(false)), Ok(())),
            (FieldKind::YesNo, true, Some(text("yes")), Err(FieldError::WrongType)),
        ];
        for (kind, required, answer, expected) in cases {
            let f = field(kind.clone(), required);
            assert_eq!(f.validate(answer.as_ref(), today), expected, "{kind:?} {answer:?}");
        }
    }

    #[test]
    fn unknown_answers_are_reported() {
        let form = vec![field(FieldKind::YesNo, false)];
        let answers = BTreeMap::from([("intruder".to_string(), Answer::Bool(true))]);
        assert_eq!(validate_answers(&form, &answers, "2026-11-22"), BTreeMap::from([("intruder".to_string(), FieldError::UnknownField)]));
    }

    #[test]
    fn schema_serializes_with_a_type_tag() {
        let f = field(FieldKind::Number { min: 1, max: 3 }, true);
        let json = serde_json::to_value(&f).expect("json");
        assert_eq!(json["type"], "number");
        assert_eq!(json["max"], 3);
        assert_eq!(serde_json::from_value::<FormField>(json).expect("round trip"), f);
    }
}
