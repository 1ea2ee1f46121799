//! Errors that point into a file the user wrote (scenarios, the carbon model, tuning
//! profiles): the line of a byte offset, the message on one line, and what a TOML
//! parse error says and where. A leaf module, so that every parser words its errors
//! the same way: `file:line: message`.

/// The 1-based line of byte `offset` in `text`.
pub fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The message on one line, whatever of the file it quotes.
pub fn one_line(message: &str) -> String {
    message.replace('\n', "\\n")
}

/// Where a TOML parse error is (a byte offset, 0 when it has none) and its message,
/// on one line.
pub fn toml_error(e: &toml::de::Error) -> (usize, String) {
    let offset = e.span().map(|s| s.start).unwrap_or(0);
    (offset, e.message().trim_end().replace('\n', "; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_count_from_one_and_offsets_past_the_end_are_the_last_line() {
        let text = "a = 1\nb = 2\nc = 3";
        assert_eq!(line_of(text, 0), 1);
        assert_eq!(line_of(text, text.find('b').unwrap()), 2);
        assert_eq!(line_of(text, 10_000), 3);
        assert_eq!(one_line("x\ny"), "x\\ny");
        let e = toml::from_str::<toml::Value>("a = 1\nb = = 2").unwrap_err();
        let (offset, message) = toml_error(&e);
        assert_eq!(line_of("a = 1\nb = = 2", offset), 2);
        assert!(!message.contains('\n'), "{message}");
    }
}
