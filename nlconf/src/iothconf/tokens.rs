//! The option-string lexer of the iothconf grammar: `tag` or `tag=value` items separated by
//! `,` `;` space, tab or newline; `#` starts a comment up to the end of the line; single or
//! double quotes group text (separators included) and are removed; `\` takes the next
//! character literally. Only the first `=` of an item separates tag and value.

use super::ConfigError;

/// One `tag` or `tag=value` item; `value` is Some("") for `tag=`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// The tag, quotes and escapes resolved.
    pub tag: String,
    /// The value after the first `=`, if any.
    pub value: Option<String>,
}

/// Splits `input` into items. Fails on an unterminated quote or a trailing `\`.
///
/// ```
/// use nlconf::iothconf::tokenize;
/// # fn main() -> Result<(), nlconf::iothconf::ConfigError> {
/// let items = tokenize("stack='smoltcp,tcp=smoltcp' # options quoted\neth;ip=10.0.0.1")?;
/// let pairs: Vec<(&str, Option<&str>)> =
///     items.iter().map(|i| (i.tag.as_str(), i.value.as_deref())).collect();
/// assert_eq!(pairs, [
///     ("stack", Some("smoltcp,tcp=smoltcp")),
///     ("eth", None),
///     ("ip", Some("10.0.0.1")),
/// ]);
/// assert!(tokenize("vnl='hub://@lan").is_err()); // unterminated quote
/// # Ok(())
/// # }
/// ```
pub fn tokenize(input: &str) -> Result<Vec<Item>, ConfigError> {
    let mut items = Vec::new();
    let mut chars = input.chars().peekable();
    let mut tag = String::new();
    let mut value: Option<String> = None;
    let mut started = false;
    let push = |items: &mut Vec<Item>,
                tag: &mut String,
                value: &mut Option<String>,
                started: &mut bool| {
        if *started {
            items.push(Item {
                tag: std::mem::take(tag),
                value: value.take(),
            });
        }
        *started = false;
    };
    while let Some(c) = chars.next() {
        match c {
            ',' | ';' | ' ' | '\t' | '\n' | '\r' => {
                push(&mut items, &mut tag, &mut value, &mut started)
            }
            '#' => {
                push(&mut items, &mut tag, &mut value, &mut started);
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '=' if value.is_none() => {
                started = true;
                value = Some(String::new());
            }
            '\'' | '"' => {
                started = true;
                let quote = c;
                let mut closed = false;
                for q in chars.by_ref() {
                    if q == quote {
                        closed = true;
                        break;
                    }
                    match value.as_mut() {
                        Some(v) => v.push(q),
                        None => tag.push(q),
                    }
                }
                if !closed {
                    return Err(ConfigError::new(format!(
                        "unterminated {quote} quote in `{input}`"
                    )));
                }
            }
            '\\' => {
                started = true;
                let next = chars
                    .next()
                    .ok_or_else(|| ConfigError::new(format!("trailing backslash in `{input}`")))?;
                match value.as_mut() {
                    Some(v) => v.push(next),
                    None => tag.push(next),
                }
            }
            c => {
                started = true;
                match value.as_mut() {
                    Some(v) => v.push(c),
                    None => tag.push(c),
                }
            }
        }
    }
    push(&mut items, &mut tag, &mut value, &mut started);
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Vec<(String, Option<String>)> {
        tokenize(s)
            .unwrap()
            .into_iter()
            .map(|i| (i.tag, i.value))
            .collect()
    }

    #[test]
    fn separators_values_quotes_comments() {
        assert_eq!(
            t("eth, ip=10.0.0.1/24;gw=10.0.0.254\nfqdn='a b.c' # comment, ignored\ndebug"),
            vec![
                ("eth".into(), None),
                ("ip".into(), Some("10.0.0.1/24".into())),
                ("gw".into(), Some("10.0.0.254".into())),
                ("fqdn".into(), Some("a b.c".into())),
                ("debug".into(), None),
            ]
        );
        assert_eq!(
            t("vnl=vde:///tmp/a=b"),
            vec![("vnl".into(), Some("vde:///tmp/a=b".into()))]
        );
        assert_eq!(t("domain="), vec![("domain".into(), Some(String::new()))]);
        assert_eq!(
            t(r#"x=a\,b "y z""#),
            vec![("x".into(), Some("a,b".into())), ("y z".into(), None)]
        );
        assert!(t(" ,, ;").is_empty());
    }

    #[test]
    fn bad_quoting_is_an_error() {
        assert!(
            tokenize("fqdn='abc")
                .unwrap_err()
                .to_string()
                .contains("unterminated")
        );
        assert!(
            tokenize("eth\\")
                .unwrap_err()
                .to_string()
                .contains("backslash")
        );
    }
}
