//! Line breaking for Chinese text. Chinese may break between any two characters, so a
//! paragraph's last line can hold one character and its full stop alone, which reads as a
//! mistake. A WORD JOINER (U+2060, invisible, "no break here" in Unicode's line-breaking
//! rules, which Slint follows) between the last two characters keeps them together.
//!
//! Used on the Chinese translations as the UI is built (`build.rs`) and on texts that come
//! from central's catalog. Written here because no crate does typographic widow control
//! for CJK.

/// A WORD JOINER: no line break on either side of it.
pub const WORD_JOINER: char = '\u{2060}';

/// Texts shorter than this never wrap on the kiosk's screen or paper (a label, a button), and
/// are left exactly as written.
const SHORTEST_PARAGRAPH: usize = 10;

fn is_han(c: char) -> bool {
    matches!(c, '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}' | '\u{20000}'..='\u{2FA1F}')
}

/// `text` with its last two Han characters (before any closing punctuation) joined, so the
/// last line of a wrapped paragraph never holds one character alone. Text without two Han
/// characters at its end (Portuguese, English, a number) comes back unchanged.
pub fn keep_last_together(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() < SHORTEST_PARAGRAPH {
        return text.to_owned();
    }
    // The last Han character, and the one before it, with nothing but Han between them.
    let Some(last) = chars.iter().rposition(|&c| is_han(c)) else { return text.to_owned() };
    if last == 0 || !is_han(chars[last - 1]) || chars[last - 1..=last].contains(&WORD_JOINER) {
        return text.to_owned();
    }
    // Only closing punctuation may follow (。」！？ …): a Han character in the middle of a
    // Latin text is not a paragraph's end.
    if chars[last + 1..].iter().any(|c| c.is_alphanumeric()) {
        return text.to_owned();
    }
    let mut joined: String = chars[..last].iter().collect();
    joined.push(WORD_JOINER);
    joined.extend(&chars[last..]);
    joined
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_two_chinese_characters_are_joined() {
        assert_eq!(keep_last_together("請核對收據上的編號。"), "請核對收據上的編\u{2060}號。");
        assert_eq!(keep_last_together("在此申請證明書及繳費，無需輪候。"), "在此申請證明書及繳費，無需輪\u{2060}候。");
        assert_eq!(
            keep_last_together("將於 {n} 個工作天內完成（{0}），請到櫃檯領取。"),
            "將於 {n} 個工作天內完成（{0}），請到櫃檯領\u{2060}取。"
        );
    }

    #[test]
    fn other_texts_are_left_alone() {
        let short = ["申請已遞交", "姓名", "中"];
        let latin = ["Online", "Sem ligação", "", "MOP 30,00", "Certidão de registo de nascimento"];
        for text in short.into_iter().chain(latin).chain(["中文 English and more words", "已經可以領取已\u{2060}取"]) {
            assert_eq!(keep_last_together(text), text);
        }
        assert_eq!(keep_last_together(&keep_last_together("請攜同收據到櫃檯領取。")), "請攜同收據到櫃檯領\u{2060}取。", "idempotent");
    }
}
