//! Secrets out of what the tool prints and stores: one redaction for every URL and
//! connection string (`--database-url`, `--host`, `--url`), in messages, run.json and
//! reports.
//!
//! It hides the password of a URL's user-info (`scheme://user:PASSWORD@host`, a
//! password that itself holds `@`, `?`, `/` or `=` included), and the value of every
//! `…password=` parameter, in a URL's query (`?sslmode=require&password=…`) as in a
//! libpq key=value string (`host=db password='it''s \' secret'`). Where the text is
//! ambiguous it hides more rather than less.

/// What a secret is replaced with.
pub const MASK: &str = "***";

/// `text` (a URL or a key=value connection string) with every password replaced by
/// [`MASK`].
pub fn redact(text: &str) -> String {
    redact_params(&redact_userinfo(text))
}

/// `scheme://user:PASSWORD@rest` → `scheme://user:***@rest`.
fn redact_userinfo(text: &str) -> String {
    let Some(at) = text.find("://") else {
        return text.to_string();
    };
    // The scheme is the run of scheme characters before `://` (a flag's `--url=` or a
    // message may come first).
    let scheme_start = run_start(text, at, |b| {
        b.is_ascii_alphanumeric() || b"+-.".contains(&b)
    });
    let scheme = &text[scheme_start..at];
    if !scheme.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return text.to_string();
    }
    let rest = &text[at + 3..];
    // The last `@` ends the user-info: a raw `@` in a password comes before it, and one
    // further on (a query's e-mail) only makes this hide too much.
    let Some(end) = rest.rfind('@') else {
        return text.to_string();
    };
    let userinfo = &rest[..end];
    let Some(colon) = userinfo.find(':') else {
        return text.to_string();
    };
    let (user, password) = (&userinfo[..colon], &userinfo[colon + 1..]);
    // `host:5432/db?email=a@b`: a port and a path, not a password (no user-info).
    let digits = password.chars().take_while(char::is_ascii_digit).count();
    if user.chars().all(|c| !"/?#".contains(c))
        && digits > 0
        && password[digits..].starts_with(['/', '?', '#'])
    {
        return text.to_string();
    }
    format!(
        "{}{scheme}://{user}:{MASK}@{}",
        &text[..scheme_start],
        &rest[end + 1..]
    )
}

/// Every `…password=VALUE` (a key that ends with `password`, any case, at the start, or
/// after `?`, `&`, `;` or whitespace) with its value replaced. In a URL the value ends at
/// `&` or `#`; in a key=value string at whitespace, or at the closing quote of a quoted
/// value.
fn redact_params(text: &str) -> String {
    let is_url = text.contains("://");
    let lower = text.to_ascii_lowercase();
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut search = 0;
    while let Some(found) = lower[search..].find("password") {
        let key_end = search + found + "password".len();
        search = key_end;
        let key_start = run_start(text, key_end, |b| b.is_ascii_alphanumeric() || b == b'_');
        let starts_key = key_start == 0
            || matches!(bytes[key_start - 1], b'?' | b'&' | b';')
            || bytes[key_start - 1].is_ascii_whitespace();
        if !starts_key {
            continue;
        }
        let mut i = key_end;
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= bytes.len() || bytes[i] != b'=' {
            continue;
        }
        i += 1;
        while !is_url && i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let value_start = i;
        if i < bytes.len() && bytes[i] == b'\'' {
            // libpq quoting: `\'` and `\\` are escapes; an unclosed quote runs to the end.
            i += 1;
            while i < bytes.len() {
                match bytes[i] {
                    b'\\' => i += 2,
                    b'\'' => {
                        i += 1;
                        break;
                    }
                    _ => i += 1,
                }
            }
            i = i.min(bytes.len());
        } else if is_url {
            while i < bytes.len() && !matches!(bytes[i], b'&' | b'#') {
                i += 1;
            }
        } else {
            while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                i += 1;
            }
        }
        out.push_str(&text[copied..value_start]);
        out.push_str(MASK);
        copied = i;
        search = i.max(search);
    }
    out.push_str(&text[copied..]);
    out
}

/// Where the run of ASCII bytes matching `part` that ends at `end` begins (bytes, so
/// never inside a multi-byte character).
fn run_start(text: &str, end: usize, part: impl Fn(u8) -> bool) -> usize {
    let bytes = text.as_bytes();
    let mut start = end;
    while start > 0 && part(bytes[start - 1]) {
        start -= 1;
    }
    start
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn url_passwords_are_hidden_and_the_rest_kept() {
        let cases = [
            (
                "postgres://app:s3cret@db:5432/koprogo",
                "postgres://app:***@db:5432/koprogo",
            ),
            ("postgres://app@db/k", "postgres://app@db/k"),
            ("postgres://a:b:c@h/d", "postgres://a:***@h/d"),
            ("postgres://u:p@ss@h/d", "postgres://u:***@h/d"),
            ("postgres://u:p?w=d@h/d", "postgres://u:***@h/d"),
            ("postgres://u:p/w#x@h/d", "postgres://u:***@h/d"),
            (
                "postgres://u@h/db?sslmode=disable&password=s3cret",
                "postgres://u@h/db?sslmode=disable&password=***",
            ),
            (
                "postgres://u@h/db?PassWord=a b=c&sslmode=x",
                "postgres://u@h/db?PassWord=***&sslmode=x",
            ),
            (
                "postgres://u@h/db?sslpassword=k&x=1",
                "postgres://u@h/db?sslpassword=***&x=1",
            ),
            (
                "http://user:pw@127.0.0.1:8080",
                "http://user:***@127.0.0.1:8080",
            ),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
            (
                "http://h:8080/x?email=a@b.be",
                "http://h:8080/x?email=a@b.be",
            ),
            ("mysql://root:pw@h/db", "mysql://root:***@h/db"),
            (
                "--database-url=postgres://p:pw@h/d",
                "--database-url=postgres://p:***@h/d",
            ),
            (
                "at postgres://p:pw@h/d: refused",
                "at postgres://p:***@h/d: refused",
            ),
            ("¡://", "¡://"),
            ("é://u:pw@h", "é://u:pw@h"),
            ("éa://u:pw@h", "éa://u:***@h"),
            ("épassword=x", "épassword=x"),
        ];
        for (input, want) in cases {
            assert_eq!(redact(input), want, "{input}");
        }
    }

    #[test]
    fn key_value_passwords_are_hidden_quoted_or_not() {
        let cases = [
            (
                "host=db password=s3cret dbname=k",
                "host=db password=*** dbname=k",
            ),
            (
                "host=db password = 'a b\\' c=d' dbname=k",
                "host=db password = *** dbname=k",
            ),
            ("password='unclosed secret", "password=***"),
            ("host=db PASSWORD=a?b=c", "host=db PASSWORD=***"),
            ("user=passwordless host=db", "user=passwordless host=db"),
            ("mypassword=x", "mypassword=***"),
        ];
        for (input, want) in cases {
            assert_eq!(redact(input), want, "{input}");
        }
    }
}
