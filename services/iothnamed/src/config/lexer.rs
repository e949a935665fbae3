//! Lexing a configuration line as the original does: words split on blanks, with `'…'`,
//! `"…"` and `\` quoting, and keywords compared case-insensitively on their first eight
//! characters.

/// Splits `line` into words. Blanks (space, tab) separate words; `'…'` quotes literally,
/// `"…"` quotes with `\` escapes inside, and `\` outside quotes takes the next character as
/// it is. An unterminated quote or a trailing `\` is an error.
pub fn words(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\r' => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("unterminated ' quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c) => word.push(c),
                            None => return Err("unterminated \" quote".into()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("unterminated \" quote".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => word.push(c),
                    None => return Err("a line ends with \\".into()),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        out.push(word);
    }
    Ok(out)
}

/// Whether `word` is `keyword` as the original compares them: case-insensitive, only the
/// first eight characters counting (`tcplistenbacklog` = `tcplistenXYZ`), and a word
/// shorter than eight characters must be the whole keyword (`stat` is not `static`).
pub fn is_keyword(word: &str, keyword: &str) -> bool {
    let w: Vec<char> = word
        .chars()
        .take(8)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let k: Vec<char> = keyword
        .chars()
        .take(8)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    w == k
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn splits_on_blanks_and_honours_quotes() {
        assert_eq!(words("a  b\tc").expect("ok"), ["a", "b", "c"]);
        assert_eq!(
            words(r#"static TXT n "sempre caro" 'mi fu' quest\'ermo"#).expect("ok"),
            ["static", "TXT", "n", "sempre caro", "mi fu", "quest'ermo"]
        );
        assert_eq!(words(r#""a\"b""#).expect("ok"), [r#"a"b"#]);
        assert_eq!(words(r#""""#).expect("ok"), [""]);
        assert!(words("'open").is_err());
        assert!(words("\"open").is_err());
        assert!(words("end\\").is_err());
    }

    #[test]
    fn keywords_count_eight_characters_case_insensitively() {
        assert!(is_keyword("STATIC", "static"));
        assert!(is_keyword("tcplistenXYZ", "tcplistenbacklog"));
        assert!(is_keyword("hrevmode", "hrevmode"));
        assert!(!is_keyword("stat", "static"));
        assert!(!is_keyword("statics", "static"));
        assert!(!is_keyword("dnsx", "dns"));
    }

    proptest! {
        #[test]
        fn unquoted_words_round_trip(ws in proptest::collection::vec("[a-zA-Z0-9.:/,_-]{1,12}", 0..8)) {
            let line = ws.join(" ");
            prop_assert_eq!(words(&line).expect("plain words"), ws);
        }

        #[test]
        fn any_line_lexes_or_errs(line in "\\PC{0,120}") {
            let _ = words(&line);
        }
    }
}
