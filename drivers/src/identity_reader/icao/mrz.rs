//! The machine-readable zone: what opens the chip (the document number, date of birth and date
//! of expiry with their check digits, ICAO 9303 Part 11 §9.7.1) and the holder's data as the
//! chip's DG1 carries it. Zones are parsed and check digits verified by the `mrz` crate; this
//! module turns them into the kiosk's types and refuses any zone a check digit contradicts.

pub use super::super::HolderData;
use super::super::{CalendarDate, DocumentType, Sex};

/// Why a machine-readable zone, or a key typed by the citizen, was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadMrz {
    /// Not a TD1 or TD3 zone, or characters outside `A-Z 0-9 <`.
    #[error("not a machine-readable zone the kiosk reads: {0}")]
    Format(String),
    /// A check digit contradicts its field: a misread, or a forged zone.
    #[error("the check digit of the {0} does not match")]
    CheckDigit(&'static str),
    /// A date that is no calendar day.
    #[error("the {0} is not a calendar date")]
    Date(&'static str),
    /// A document number that cannot be in a zone: empty, too long or with other characters.
    #[error("a document number has 1 to 22 letters and digits")]
    DocumentNumber,
}

/// What opens the chip with BAC: the document number, date of birth and date of expiry. It
/// prints nothing of them in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct MrzKey {
    document_number: String,
    date_of_birth: String,
    date_of_expiry: String,
}

impl std::fmt::Debug for MrzKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MrzKey(..)")
    }
}

fn yymmdd(date: CalendarDate, what: &'static str) -> Result<String, BadMrz> {
    let valid = (1..=12).contains(&date.month) && (1..=31).contains(&date.day) && date.year >= 1900;
    if !valid {
        return Err(BadMrz::Date(what));
    }
    Ok(format!("{:02}{:02}{:02}", date.year % 100, date.month, date.day))
}

fn check_digit(field: &str) -> char {
    let digit = mrz::check_digit(field).unwrap_or(0);
    char::from_digit(digit, 10).unwrap_or('0')
}

impl MrzKey {
    /// A key from the three fields, as typed by the citizen or read from the zone. The document
    /// number is taken as printed; spaces and the `<` fillers are ignored, letters upper-cased.
    pub fn new(document_number: &str, date_of_birth: CalendarDate, date_of_expiry: CalendarDate) -> Result<Self, BadMrz> {
        let number: String = document_number.chars().filter(|c| !c.is_whitespace() && *c != '<').map(|c| c.to_ascii_uppercase()).collect();
        if number.is_empty() || number.len() > 22 || !number.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(BadMrz::DocumentNumber);
        }
        Ok(Self {
            document_number: number,
            date_of_birth: yymmdd(date_of_birth, "date of birth")?,
            date_of_expiry: yymmdd(date_of_expiry, "date of expiry")?,
        })
    }

    /// The MRZ information the key seed is hashed from: the document number (filled to nine
    /// characters with `<`) and each date, each followed by its check digit.
    pub fn information(&self) -> String {
        let mut number = self.document_number.clone();
        while number.len() < 9 {
            number.push('<');
        }
        format!(
            "{number}{}{}{}{}{}",
            check_digit(&number),
            self.date_of_birth,
            check_digit(&self.date_of_birth),
            self.date_of_expiry,
            check_digit(&self.date_of_expiry)
        )
    }

    /// `K_seed`: the first 16 bytes of SHA-1 of the MRZ information.
    pub fn seed(&self) -> [u8; 16] {
        super::crypto::sha1_16(self.information().as_bytes())
    }
}

impl HolderData {
    /// The key that opens this document's chip.
    pub fn key(&self) -> Result<MrzKey, BadMrz> {
        MrzKey::new(&self.document_number, self.date_of_birth, self.date_of_expiry)
    }
}

fn date(field: &mrz::MrzDate, what: &'static str) -> Result<CalendarDate, BadMrz> {
    match field {
        mrz::MrzDate::Calendar(d) => Ok(CalendarDate {
            year: u16::try_from(d.year).map_err(|_| BadMrz::Date(what))?,
            month: u8::try_from(d.month).map_err(|_| BadMrz::Date(what))?,
            day: u8::try_from(d.day).map_err(|_| BadMrz::Date(what))?,
        }),
        _ => Err(BadMrz::Date(what)),
    }
}

/// Reads a TD1 (identity card: three lines of 30) or TD3 (passport: two lines of 44) zone,
/// given as its lines or as one string of 90 or 88 characters (as DG1 holds it). Every check
/// digit the zone carries must hold.
pub fn parse(zone: &str) -> Result<HolderData, BadMrz> {
    let joined: String = zone.chars().filter(|c| !c.is_whitespace()).collect();
    // The zone's alphabet is A-Z, 0-9 and `<`: anything else is refused before the lines are
    // cut at character positions.
    if !joined.is_ascii() {
        return Err(BadMrz::Format("characters outside A-Z, 0-9 and <".into()));
    }
    let parsed = match joined.len() {
        90 => mrz::parse_td1(&joined[..30], &joined[30..60], &joined[60..]),
        88 => mrz::parse_td3(&joined[..44], &joined[44..]),
        n => return Err(BadMrz::Format(format!("{n} characters; a TD1 zone has 90, a TD3 zone 88"))),
    }
    .map_err(|e| BadMrz::Format(e.to_string()))?;
    let checks = &parsed.checks;
    for (ok, what) in [
        (checks.document_number, "document number"),
        (checks.date_of_birth, "date of birth"),
        (checks.date_of_expiry, "date of expiry"),
        (checks.personal_number, "personal number"),
        (checks.composite, "whole zone"),
    ] {
        if ok == Some(false) {
            return Err(BadMrz::CheckDigit(what));
        }
    }
    // The states as the zone writes them, fillers included (`D<<`): the parser trims them, and
    // a three-letter code is what `HolderData` promises.
    let (issuing_state, nationality) = match parsed.format {
        mrz::Format::Td3 => (&joined[2..5], &joined[54..57]),
        _ => (&joined[2..5], &joined[45..48]),
    };
    let document_type = match (parsed.format, parsed.document_type.chars().next()) {
        (mrz::Format::Td3, _) | (_, Some('P')) => DocumentType::Passport,
        _ => DocumentType::IdentityCard,
    };
    Ok(HolderData {
        document_type,
        issuing_state: issuing_state.to_string(),
        document_number: parsed.full_document_number().to_string(),
        surname: parsed.surname.clone(),
        given_names: parsed.given_names.clone(),
        nationality: nationality.to_string(),
        date_of_birth: date(&parsed.date_of_birth, "date of birth")?,
        sex: match parsed.sex {
            mrz::Sex::Female => Sex::Female,
            mrz::Sex::Male => Sex::Male,
            _ => Sex::Unspecified,
        },
        date_of_expiry: date(&parsed.date_of_expiry, "date of expiry")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TD3: &str = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10";
    const TD1: &str = "I<UTOD231458907<<<<<<<<<<<<<<<\n7408122F1204159UTO<<<<<<<<<<<6\nERIKSSON<<ANNA<MARIA<<<<<<<<<<";

    #[test]
    fn the_worked_example_of_doc_9303_part_11_gives_its_mrz_information_and_key_seed() {
        // Appendix D.2: document L898902C<, born 1969-08-06, expires 1994-06-23.
        let key = MrzKey::new("L898902C", CalendarDate { year: 1969, month: 8, day: 6 }, CalendarDate { year: 1994, month: 6, day: 23 })
            .expect("valid");
        assert_eq!(key.information(), "L898902C<369080619406236");
        assert_eq!(hex::encode_upper(key.seed()), "239AB9CB282DAF66231DC5A4DF6BFBAE");
        assert_eq!(format!("{key:?}"), "MrzKey(..)");
    }

    #[test]
    fn a_passport_and_an_identity_card_zone_are_read_with_their_check_digits() {
        let passport = parse(TD3).expect("the specimen passport");
        assert_eq!(passport.document_type, DocumentType::Passport);
        assert_eq!((passport.surname.as_str(), passport.given_names.as_str()), ("ERIKSSON", "ANNA MARIA"));
        assert_eq!(passport.document_number, "L898902C3");
        assert_eq!(passport.date_of_birth, CalendarDate { year: 1974, month: 8, day: 12 });
        assert_eq!(passport.sex, Sex::Female);
        let card = parse(&TD1.replace('\n', "")).expect("the specimen card, as DG1 holds it");
        assert_eq!(card.document_type, DocumentType::IdentityCard);
        assert_eq!(card.document_number, "D23145890");
        assert_eq!(card.key().expect("key").information(), "D23145890774081221204159");
    }

    #[test]
    fn states_keep_their_fillers_as_the_zone_writes_them() {
        // Germany's code is `D<<`, in the zone and in what the reader returns.
        let german = "P<D<<MUSTERMANN<<ERIKA<<<<<<<<<<<<<<<<<<<<<<\nC01X00T478D<<6408125F2702283<<<<<<<<<<<<<<<4";
        let holder = parse(german).expect("the German specimen passport");
        assert_eq!((holder.issuing_state.as_str(), holder.nationality.as_str()), ("D<<", "D<<"));
        let card = parse(&TD1.replace('\n', "")).expect("the specimen card");
        assert_eq!((card.issuing_state.as_str(), card.nationality.as_str()), ("UTO", "UTO"));
    }

    #[test]
    fn malformed_and_misread_zones_are_refused_with_the_field_at_fault() {
        assert!(matches!(parse("P<UTO"), Err(BadMrz::Format(_))));
        // One digit of the date of birth misread: its check digit no longer holds.
        let misread = TD3.replace("7408122", "7408132");
        assert_eq!(parse(&misread), Err(BadMrz::CheckDigit("date of birth")));
        let forged = TD3.replace("L898902C3", "L898902C4");
        assert_eq!(parse(&forged), Err(BadMrz::CheckDigit("document number")));
        assert!(matches!(parse(&TD3.replace('E', "é")), Err(BadMrz::Format(_))));
        assert_eq!(
            MrzKey::new("", CalendarDate { year: 1990, month: 1, day: 1 }, CalendarDate { year: 2030, month: 1, day: 1 }),
            Err(BadMrz::DocumentNumber)
        );
        assert_eq!(
            MrzKey::new("AB12", CalendarDate { year: 1990, month: 13, day: 1 }, CalendarDate { year: 2030, month: 1, day: 1 }),
            Err(BadMrz::Date("date of birth"))
        );
    }
}
