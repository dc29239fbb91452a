use serde::{Deserialize, Serialize};

/// The kiosk's languages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Language {
    /// Traditional Chinese (BCP 47 `zh-Hant`).
    #[serde(rename = "zh-Hant")]
    #[default]
    ZhHant,
    #[serde(rename = "pt")]
    Pt,
    #[serde(rename = "en")]
    En,
}

impl Language {
    pub const ALL: [Language; 3] = [Language::ZhHant, Language::Pt, Language::En];

    /// BCP 47 tag.
    pub fn tag(self) -> &'static str {
        match self {
            Language::ZhHant => "zh-Hant",
            Language::Pt => "pt",
            Language::En => "en",
        }
    }

    pub fn from_tag(tag: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.tag().eq_ignore_ascii_case(tag))
    }

    /// An amount in avos as a reader of this language writes it: `MOP 1,234.50` in Chinese
    /// and English, `MOP 1 234,50` in Portuguese (comma for decimals, a space between
    /// thousands, as the Portuguese style guides and CLDR write it; a plain space, which every
    /// receipt printer's code page has).
    pub fn money(self, avos: u64) -> String {
        let (decimal, group) = match self {
            Language::Pt => (',', ' '),
            Language::ZhHant | Language::En => ('.', ','),
        };
        let units = (avos / 100).to_string();
        let mut grouped = String::with_capacity(units.len() + units.len() / 3);
        for (i, digit) in units.chars().enumerate() {
            if i > 0 && (units.len() - i).is_multiple_of(3) {
                grouped.push(group);
            }
            grouped.push(digit);
        }
        format!("MOP {grouped}{decimal}{:02}", avos % 100)
    }
}

/// A text in each of the kiosk's languages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LocalizedText {
    #[serde(rename = "zh-Hant")]
    pub zh_hant: String,
    pub pt: String,
    pub en: String,
}

impl LocalizedText {
    pub fn new(zh_hant: impl Into<String>, pt: impl Into<String>, en: impl Into<String>) -> Self {
        Self { zh_hant: zh_hant.into(), pt: pt.into(), en: en.into() }
    }

    pub fn get(&self, language: Language) -> &str {
        match language {
            Language::ZhHant => &self.zh_hant,
            Language::Pt => &self.pt,
            Language::En => &self.en,
        }
    }

    /// Whether every language has a text.
    pub fn is_complete(&self) -> bool {
        Language::ALL.iter().all(|&l| !self.get(l).trim().is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip_and_serialize_as_bcp47() {
        for l in Language::ALL {
            assert_eq!(Language::from_tag(l.tag()), Some(l));
        }
        assert_eq!(serde_json::to_string(&Language::ZhHant).expect("json"), "\"zh-Hant\"");
        let text: LocalizedText = serde_json::from_str(r#"{"zh-Hant":"中","pt":"p","en":"e"}"#).expect("json");
        assert_eq!(text.get(Language::ZhHant), "中");
        assert!(text.is_complete());
        assert!(!LocalizedText::new("中", " ", "e").is_complete());
    }

    #[test]
    fn amounts_are_written_the_way_each_language_writes_them() {
        assert_eq!(Language::Pt.money(3000), "MOP 30,00");
        assert_eq!(Language::En.money(3000), "MOP 30.00");
        assert_eq!(Language::ZhHant.money(5), "MOP 0.05");
        assert_eq!(Language::En.money(123_456_789), "MOP 1,234,567.89");
        assert_eq!(Language::Pt.money(123_456_789), "MOP 1 234 567,89");
        assert_eq!(Language::Pt.money(100_000), "MOP 1 000,00");
        assert_eq!(Language::En.money(99_999), "MOP 999.99");
    }
}
