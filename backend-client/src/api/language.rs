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
}
