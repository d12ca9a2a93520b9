//! PostgreSQL URLs as they may be shown: [`redact_url`] replaces the password (in the user
//! information or a `password=` query parameter) with `***`, so no message, `Debug` output or
//! log line carries it. Compiled with or without the `postgres` feature, since even the refusal
//! of a build without PostgreSQL names the URL.

// Without the feature only `redact_url` and `is_postgres_url` are used; the scrubbing helpers
// stay compiled (and tested) rather than sprouting a `cfg` each.
#![cfg_attr(not(feature = "postgres"), allow(dead_code))]

/// Whether `location` is a PostgreSQL URL rather than a SQLite path.
pub(crate) fn is_postgres_url(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// The URL with its password replaced by `***`.
///
/// Deliberately lenient and conservative: it does not need a well-formed URL (users paste
/// passwords with raw `@`, `/` or `:`), takes everything before the *last* `@` of the part before
/// any `?` or `#` as user information, and blanks whatever follows the first `:` there. Hiding
/// too much of a malformed URL is harmless; showing a password is not.
pub(crate) fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return redact_query(url);
    };
    let (head, rest) = url.split_at(scheme_end);
    let query_start = rest.find(['?', '#']).unwrap_or(rest.len());
    let (before_query, query) = rest.split_at(query_start);
    let before_query = match before_query.rfind('@') {
        Some(at) => {
            let (userinfo, host_and_path) = before_query.split_at(at);
            match userinfo.split_once(':') {
                Some((user, _password)) => format!("{user}:***{host_and_path}"),
                None => before_query.to_owned(),
            }
        }
        None => before_query.to_owned(),
    };
    format!("{head}{before_query}{}", redact_query(query))
}

/// Blanks the value of every `password` parameter (any case) of a query string.
fn redact_query(query: &str) -> String {
    let Some(start) = query.find('?') else {
        return query.to_owned();
    };
    let (head, params) = query.split_at(start + 1);
    let (params, fragment) = params.split_at(params.find('#').unwrap_or(params.len()));
    let params: Vec<String> = params
        .split('&')
        .map(|param| match param.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
            _ => param.to_owned(),
        })
        .collect();
    format!("{head}{}{fragment}", params.join("&"))
}

/// The password of the URL as written and percent-decoded (the two forms a driver message could
/// echo), for scrubbing text that did not come from [`redact_url`].
pub(crate) fn passwords(url: &str) -> Vec<String> {
    let mut found = Vec::new();
    if let Some(scheme_end) = url.find("://").map(|i| i + 3) {
        let rest = &url[scheme_end..];
        let before_query = &rest[..rest.find(['?', '#']).unwrap_or(rest.len())];
        if let Some(at) = before_query.rfind('@')
            && let Some((_, password)) = before_query[..at].split_once(':')
        {
            found.push(password.to_owned());
        }
    }
    if let Some(start) = url.find('?') {
        for param in url[start + 1..].split(['&', '#']) {
            if let Some((key, value)) = param.split_once('=')
                && key.eq_ignore_ascii_case("password")
            {
                found.push(value.to_owned());
            }
        }
    }
    let decoded: Vec<String> = found.iter().map(|p| percent_decode(p)).collect();
    found.extend(decoded);
    found.retain(|p| !p.is_empty());
    found.sort();
    found.dedup();
    found
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'?'));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Replaces every occurrence of the URL's password in `text` with `***`. Passwords shorter than
/// four characters are left alone: blanking every `e` of a message would make it unreadable, and
/// the driver does not echo passwords anyway (this is a second line of defence).
pub(crate) fn scrub(text: &str, passwords: &[String]) -> String {
    let mut text = text.to_owned();
    for password in passwords.iter().filter(|p| p.chars().count() >= 4) {
        text = text.replace(password.as_str(), "***");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_replaced_and_the_rest_kept() {
        let cases = [
            (
                "postgres://u:secret@db.example:5432/lemmings",
                "postgres://u:***@db.example:5432/lemmings",
            ),
            (
                "postgresql://u:secret@db/x?sslmode=require",
                "postgresql://u:***@db/x?sslmode=require",
            ),
            ("postgres://u@db/x", "postgres://u@db/x"),
            ("postgres://db/x", "postgres://db/x"),
            ("postgres://u:@db/x", "postgres://u:***@db/x"),
            // Raw `@`, `:` and `/` in a password: everything up to the last `@` is user information.
            ("postgres://u:p@ss:w/rd@db/x", "postgres://u:***@db/x"),
            ("postgres://u:s%40cret@[::1]:5433/x", "postgres://u:***@[::1]:5433/x"),
            (
                "postgres://u@db/x?sslmode=disable&Password=secret#frag",
                "postgres://u@db/x?sslmode=disable&Password=***#frag",
            ),
            ("postgres://u:a@db/x?password=b", "postgres://u:***@db/x?password=***"),
            ("not a url?password=secret", "not a url?password=***"),
        ];
        for (url, shown) in cases {
            assert_eq!(redact_url(url), shown, "{url}");
        }
    }

    #[test]
    fn passwords_are_found_raw_and_decoded() {
        assert_eq!(passwords("postgres://u:s%40cret@db/x"), ["s%40cret", "s@cret"]);
        assert_eq!(passwords("postgres://u@db/x?password=hunter22"), ["hunter22"]);
        assert!(passwords("postgres://u@db/x").is_empty());
    }

    #[test]
    fn scrubbing_hides_long_passwords_only() {
        let secrets = passwords("postgres://u:hunter22@db/x");
        assert_eq!(
            scrub("auth failed with hunter22 here", &secrets),
            "auth failed with *** here"
        );
        assert_eq!(scrub("every e stays", &["e".to_owned()]), "every e stays");
    }

    #[test]
    fn postgres_urls_are_recognised() {
        assert!(is_postgres_url("postgres://h/d"));
        assert!(is_postgres_url("postgresql://h/d"));
        assert!(!is_postgres_url("/var/lib/lemmings.db"));
        assert!(!is_postgres_url("postgres.db"));
    }
}
