//! What errors show of a URL: [`redact_url`] hides the user info, the
//! fragment and every secret-looking query value, also of a URL given as a
//! query value.

use super::percent::percent_decode;

/// Whether an option's value should never be shown.
pub(super) fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "secret",
        "token",
        "sas",
        "password",
        "key",
        "sig",
        "credential",
        "auth",
    ]
    .iter()
    .any(|word| key.contains(word))
}

/// `url` with its user, password, fragment and secret-looking query values
/// (keys containing `secret`, `token`, `sas`, `password`, `key`, `sig`,
/// `credential` or `auth`) replaced by `***`, and so the user info of a URL
/// given as a query value (`endpoint=http://user:pw@host`): what every error of this
/// crate shows of a URL. Works on text that does not parse as a URL too.
///
/// ```
/// let shown = seerstore::redact_url("s3://b/p?region=eu-west-1&secret_access_key=hunter2");
/// assert_eq!(shown, "s3://b/p?region=eu-west-1&secret_access_key=***");
/// ```
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    // A URL parser skips any run of `/` and `\` before the authority of
    // special schemes (`ws:///user:pw@host`); so does the redaction.
    let slashes = &rest[..rest.len() - rest.trim_start_matches(['/', '\\']).len()];
    let rest = &rest[slashes.len()..];
    let (user_info, rest) = match user_info_end(rest) {
        Some(at) => (true, &rest[at + 1..]),
        None => (false, rest),
    };
    let (before_fragment, fragment) = match rest.split_once('#') {
        Some((head, _)) => (head, Some("***")),
        None => (rest, None),
    };
    let (base, query) = match before_fragment.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (before_fragment, None),
    };
    let mut out = String::with_capacity(url.len());
    if let Some(scheme) = scheme {
        out.push_str(scheme);
        out.push_str("://");
    }
    out.push_str(slashes);
    if user_info {
        out.push_str("***@");
    }
    out.push_str(base);
    if let Some(query) = query {
        out.push('?');
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if is_secret_key(&percent_decode(key).unwrap_or_default()) => {
                    format!("{key}=***")
                }
                // A value that is a URL itself (an endpoint) may carry a
                // user and password of its own.
                Some((key, value)) => {
                    let decoded = percent_decode(value).unwrap_or_else(|| value.to_owned());
                    let hidden = redact_url(&decoded);
                    if hidden == decoded {
                        pair.to_owned()
                    } else {
                        format!("{key}={hidden}")
                    }
                }
                None => pair.to_owned(),
            })
            .collect();
        out.push_str(&pairs.join("&"));
    }
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

/// Where the user info of `rest` (the text after `scheme://`) ends: the
/// index of its last `@`, or `None` if there is none.
///
/// Normally the user info lies before the first `/`, `?` or `#`. A password
/// typed with one of those unescaped ends the authority early for a URL
/// parser (`user:pa/ss@bucket` reads as host `user`, port `pa`), yet it is
/// still a secret: when that apparent authority has a `:` and an `@` comes
/// later, everything up to the last `@` before the next `/` counts as user
/// info. This may hide more than the credentials of a malformed URL, never
/// less.
fn user_info_end(rest: &str) -> Option<usize> {
    let authority_end = rest.find(['/', '\\', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    if let Some(at) = authority.rfind('@') {
        return Some(at);
    }
    if !authority.contains(':') {
        return None;
    }
    let first_at = rest.find('@')?;
    let next_slash = rest[first_at..]
        .find('/')
        .map_or(rest.len(), |i| first_at + i);
    rest[..next_slash].rfind('@')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_hides_credentials() {
        let url = "s3://AKIA:hunter2@bucket/p?secret_access_key=SECRET1&session_token=TOK2&region=eu-west-1&sas=SIG3";
        let redacted = redact_url(url);
        for secret in ["AKIA", "hunter2", "SECRET1", "TOK2", "SIG3"] {
            assert!(!redacted.contains(secret), "{redacted}");
        }
        assert!(redacted.contains("region=eu-west-1"), "{redacted}");
        assert!(redacted.starts_with("s3://***@bucket/p?"), "{redacted}");
        assert!(!redact_url("not a url ?token=abc").contains("abc"));
        assert_eq!(
            redact_url("s3://b/p?endpoint=http://user:hunter2@host:9000&region=x"),
            "s3://b/p?endpoint=http://***@host:9000&region=x"
        );
        assert!(!redact_url("s3://b?endpoint=http%3A%2F%2Fu%3Ahunter2%40h").contains("hunter2"));
    }

    #[test]
    fn redaction_hides_passwords_with_unescaped_delimiters() {
        for (url, shown) in [
            ("s3://user:pa55/hunter2@bucket/p", "s3://***@bucket/p"),
            ("s3://user:pa55?hunter2@bucket/p", "s3://***@bucket/p"),
            ("s3://user:pa55#hunter2@bucket/p", "s3://***@bucket/p"),
            ("s3://user:pa/55@hunter2@bucket/p", "s3://***@bucket/p"),
            ("s3://user:pa55@hunter2@bucket/p", "s3://***@bucket/p"),
            ("user:hunter2@bucket/p", "***@bucket/p"),
            // Special schemes: extra slashes and backslashes are skipped.
            ("ws:///:hunter2@b/p", "ws:///***@b/p"),
            ("http:\\\\user:hunter2@b/p", "***@b/p"),
            ("https://\\user:hunter2@b/p", "https://\\***@b/p"),
            // No user info: nothing hidden.
            ("s3://bucket/a@b?x=1", "s3://bucket/a@b?x=1"),
            ("s3://bucket:99/p", "s3://bucket:99/p"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
        }
    }
}
