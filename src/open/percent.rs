//! Percent-decoding of the parts of a storage URL (its path, its query's
//! keys and values). The `seerstore` command line compiles this file in
//! too (`#[path]`), to decode an object URL's key the same way: it uses
//! nothing of the crate.

/// Decodes `%XX` escapes; `None` if an escape is malformed or the result is
/// not UTF-8.
pub(super) fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}
