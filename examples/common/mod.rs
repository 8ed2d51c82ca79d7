//! Helpers shared by the examples (not an example itself: cargo only builds
//! `examples/*.rs` and `examples/*/main.rs`).

/// Splits `HOST:PORT` or `[IPV6]:PORT` into its parts.
pub fn parse_address(text: &str) -> Result<(String, u16), String> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        rest.split_once("]:")
            .ok_or_else(|| format!("expected [HOST]:PORT, got {text:?}"))?
    } else {
        text.rsplit_once(':')
            .ok_or_else(|| format!("expected HOST:PORT, got {text:?}"))?
    };
    let port = port
        .parse::<u16>()
        .map_err(|e| format!("bad port {port:?}: {e}"))?;
    Ok((host.to_owned(), port))
}

/// `[::1]:80` for IPv6, `127.0.0.1:80` otherwise.
pub fn show(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}
