//! Host arguments: only literals, `localhost` names and text the crate rejects before any lookup, so no case reaches DNS.

use super::*;

/// Host arguments: literals, `localhost` variants, and invalid names.
pub(crate) const HOSTS: &[&str] = &[
    "127.0.0.1",
    "::1",
    "[::1]",
    "0.0.0.0",
    "::",
    "::ffff:127.0.0.1",
    "localhost",
    "LOCALHOST.",
    "app.localhost",
    "",
    "*",
    "a b",
    "a..b",
    "!!",
    "a/b",
    "\0",
    "bad host",
    "x:y:z",
    "ex@mple",
    "%",
    "127.0.0.1 ",
    "[127.0.0.1",
    "[bad]",
    "\u{e9}t\u{e9}",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
];

/// Panics unless `h` is an IP literal (bracketed or not), a `localhost`
/// name, or text the crate's host-name check rejects (a character outside
/// letters, digits, `-`, `_`, `.`; an empty label; a label over 63 bytes; a
/// name over 253 bytes). Such text never reaches `getaddrinfo`; `""` and
/// `"*"` are wildcards for `bind` and invalid elsewhere.
pub(crate) fn assert_never_resolved(h: &str) {
    let literal = h
        .strip_prefix('[')
        .and_then(|l| l.strip_suffix(']'))
        .unwrap_or(h);
    if literal.parse::<IpAddr>().is_ok() {
        return;
    }
    let lower = h.trim_end_matches('.').to_ascii_lowercase();
    if lower == "localhost" || lower.ends_with(".localhost") {
        return;
    }
    let bad_char = h
        .bytes()
        .any(|b| !(b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'));
    let labels: Vec<&str> = h.split('.').collect();
    let empty_inner = labels
        .iter()
        .enumerate()
        .any(|(i, l)| l.is_empty() && !(i > 0 && i == labels.len() - 1));
    let long = h.len() > 253 || labels.iter().any(|l| l.len() > 63);
    assert!(
        h.is_empty() || bad_char || long || (empty_inner && !h.ends_with('.')),
        "host {h:?} could be sent to DNS"
    );
}

/// The hosts given to `get_address_info`: [`HOSTS`] without brackets.
/// `get_address_info` passes a bracketed literal (`[::1]`, and the
/// unbalanced `[127.0.0.1`) to `getaddrinfo` as a name, which sends it to
/// DNS (see [`bracketed_literals_never_reach_dns`]); `connect`, `bind` and
/// `send_to` read them as literals.
pub(crate) fn gai_host() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(HOSTS).prop_filter("no brackets", |h| !h.contains('['))
}
