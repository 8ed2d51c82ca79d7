//! Host text to socket addresses: literals are parsed in place, names go to
//! `getaddrinfo(3)` off the runtime's worker threads (or on the calling thread
//! under the blocking facade), and Unix-domain paths pass through.

use std::net::{IpAddr, SocketAddr};

use socket2::SockAddr;

use crate::{
    consts::{AF_INET, AF_INET6, AF_UNIX, AF_UNSPEC, Family, SockType},
    driver::Wait,
    error::{Result, SocketError},
    sys,
};

/// The result of [`get_address_info`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AddressInfo {
    /// The canonical name of the host (`AI_CANONNAME`), when the resolver gives one.
    pub canonical_name: Option<String>,
    /// The first address found.
    pub ip: IpAddr,
    /// The family of [`ip`](AddressInfo::ip).
    pub family: Family,
    /// The port of the service hint, or 0 without one (or for an unknown service).
    pub port: u16,
    /// Every distinct address found, in the resolver's order; `ip` is the first.
    pub addresses: Vec<IpAddr>,
}

/// Resolves `address` (a host name or an IP literal) as Blade's
/// `socket.get_address_info` does, returning the first result.
///
/// `service` is a port hint (`"http"`, `"8080"`); an unknown service is ignored,
/// never an error. `family` `None` means [`AF_INET`]; [`AF_UNSPEC`] allows any
/// family. Names are resolved off the runtime's worker threads.
///
/// # Errors
/// [`ErrorKind::AddressResolution`](crate::ErrorKind::AddressResolution) when the
/// name does not resolve (for that family), or is not a syntactically valid
/// host name (such names are rejected without asking DNS); `IllegalState`
/// `no tokio runtime` when awaited outside a tokio runtime.
///
/// # Cancel safety
/// Cancel safe: it has no effect but its result.
///
/// # Examples
/// ```
/// # #[tokio::main] async fn main() -> blade_socket::Result<()> {
/// let info = blade_socket::get_address_info("localhost", Some("http"), None).await?;
/// assert!(info.ip.is_loopback());
/// assert_eq!(info.port, 80);
/// # Ok(()) }
/// ```
#[doc(alias = "getaddrinfo")]
pub async fn get_address_info(
    address: &str,
    service: Option<&str>,
    family: Option<Family>,
) -> Result<AddressInfo> {
    let wait = Wait::begin(None)?;
    let family = family.unwrap_or(AF_INET);
    check_host_syntax(address)?;
    // An IP literal in brackets (`[::1]`) is that literal, never a name.
    let address = unbracket(address);
    let port = match service {
        None => 0,
        Some(s) => match s.parse::<u16>() {
            Ok(p) => p,
            Err(_) => service_port(s, wait).await,
        },
    };
    let flags = if address.parse::<IpAddr>().is_ok() {
        libc::AI_NUMERICHOST | libc::AI_CANONNAME
    } else {
        libc::AI_CANONNAME
    };
    let found = lookup(
        Some(address.to_owned()),
        None,
        family.raw(),
        libc::SOCK_STREAM,
        flags,
        wait,
    )
    .await?;
    let mut addresses: Vec<IpAddr> = Vec::new();
    for info in &found {
        if !addresses.contains(&info.addr.ip()) {
            addresses.push(info.addr.ip());
        }
    }
    let first = found
        .first()
        .ok_or_else(|| SocketError::no_address(address))?;
    let canonical_name = found.iter().find_map(|i| i.canonical_name.clone());
    Ok(AddressInfo {
        canonical_name,
        ip: first.addr.ip(),
        family: family_of(&first.addr),
        port,
        addresses,
    })
}

/// The port of a named service (`/etc/services`), or 0 when unknown.
async fn service_port(service: &str, wait: Wait) -> u16 {
    lookup(
        None,
        Some(service.to_owned()),
        libc::AF_INET,
        libc::SOCK_STREAM,
        libc::AI_PASSIVE,
        wait,
    )
    .await
    .ok()
    .and_then(|v| v.first().map(|i| i.addr.port()))
    .unwrap_or(0)
}

/// Runs `getaddrinfo` where it may block, within the call's deadline
/// ([`Wait::off_thread`]).
async fn lookup(
    host: Option<String>,
    service: Option<String>,
    family: i32,
    socket_type: i32,
    flags: i32,
    wait: Wait,
) -> Result<Vec<sys::AddrInfo>> {
    lookup_or_none(host, service, family, socket_type, flags, wait)
        .await?
        .map_err(|(e, _)| e)
}

/// [`lookup`], with the resolver's answer that the name has no address of
/// the kind asked for (`Ok(Err((error, true)))`) told apart from a failure
/// to ask (`Ok(Err((error, false)))`) and from the deadline (`Err`).
async fn lookup_or_none(
    host: Option<String>,
    service: Option<String>,
    family: i32,
    socket_type: i32,
    flags: i32,
    wait: Wait,
) -> Result<std::result::Result<Vec<sys::AddrInfo>, (SocketError, bool)>> {
    if let Some(h) = host.as_deref().filter(|h| is_localhost(h)) {
        return Ok(localhost(h, family).map_err(|e| (e, false)));
    }
    // The error names what was asked for, as the syntax check's does.
    let asked = host.clone().or_else(|| service.clone()).unwrap_or_default();
    let call = move || {
        sys::getaddrinfo(
            host.as_deref(),
            service.as_deref(),
            family,
            socket_type,
            flags,
        )
    };
    Ok(wait
        .off_thread("resolve", call)
        .await?
        .map_err(|(e, none)| (SocketError::resolution(format!("{asked}: {e}")), none)))
}

/// `localhost` and `*.localhost` (RFC 6761): always loopback, answered here so
/// that no lookup of them can leave the machine, whatever `/etc/hosts` holds.
fn is_localhost(host: &str) -> bool {
    let h = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    h == "localhost" || h.ends_with(".localhost")
}

fn localhost(host: &str, family: i32) -> Result<Vec<sys::AddrInfo>> {
    let v4 = IpAddr::from([127, 0, 0, 1]);
    let v6 = IpAddr::from(std::net::Ipv6Addr::LOCALHOST);
    let ips = match family {
        f if f == AF_INET.raw() => vec![v4],
        f if f == AF_INET6.raw() => vec![v6],
        f if f == AF_UNSPEC.raw() => vec![v4, v6],
        _ => {
            return Err(SocketError::resolution(format!(
                "{host}: address family not supported"
            )));
        }
    };
    Ok(ips
        .into_iter()
        .map(|ip| sys::AddrInfo {
            addr: SocketAddr::new(ip, 0),
            canonical_name: Some("localhost".to_owned()),
        })
        .collect())
}

/// Rejects text that cannot be a host name or IP literal, so that it never
/// reaches DNS (glibc sends even invalid names there under `AI_CANONNAME`).
fn check_host_syntax(host: &str) -> Result<()> {
    let literal = unbracket(host);
    if literal.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    let ok = !host.is_empty()
        && host.len() <= 253
        && host.split('.').enumerate().all(|(i, label)| {
            (!label.is_empty() || (i > 0 && host.ends_with('.') && label.is_empty()))
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if ok {
        Ok(())
    } else {
        Err(SocketError::resolution(format!(
            "{host:?}: not a valid host name"
        )))
    }
}

/// `host` without one pair of enclosing brackets (`[::1]` -> `::1`); an
/// unbalanced bracket stays, so that the syntax check rejects it.
fn unbracket(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// A dotted-quad IPv4 literal (`"127.0.0.1"`), parsed by hand: std's
/// parser is general and several times slower. `None` for anything else,
/// which [`ip_literal`] then parses the general way; what this accepts, std
/// accepts too, as the same address (four decimal octets of at most 255,
/// no leading zeros, nothing else).
#[inline]
pub(crate) fn ipv4_literal(host: &str) -> Option<std::net::Ipv4Addr> {
    let b = host.as_bytes();
    if b.len() > 15 {
        return None;
    }
    let mut octets = [0u8; 4];
    let mut k = 0; // octets done
    let mut v: u32 = 0; // the octet being read
    let mut digits = 0;
    for &c in b {
        if c == b'.' {
            if digits == 0 || k == 3 {
                return None;
            }
            octets[k] = v as u8;
            (k, v, digits) = (k + 1, 0, 0);
        } else {
            let d = c.wrapping_sub(b'0');
            // Not a digit, a leading zero, or past 255.
            if d > 9 || (digits > 0 && v == 0) {
                return None;
            }
            v = v * 10 + u32::from(d);
            digits += 1;
            if v > 255 {
                return None;
            }
        }
    }
    if digits == 0 || k != 3 {
        return None;
    }
    octets[3] = v as u8;
    Some(std::net::Ipv4Addr::from(octets))
}

/// The IP address `host` spells as a literal (`[::1]` included), which
/// always means the same address, so a parsed form may be reused.
pub(crate) fn ip_literal(host: &str) -> Option<IpAddr> {
    unbracket(host).parse().ok()
}

/// A Unix-domain address: a path, or `@name` for an abstract one, as
/// `host_port` shows it (Linux).
pub(crate) fn unix(host: &str) -> Result<SockAddr> {
    let path = match host.strip_prefix('@') {
        Some(name) if sys::ABSTRACT_NAMES => format!("\0{name}"),
        Some(_) => {
            return Err(SocketError::invalid(format!(
                "{host:?}: abstract Unix names are not supported on this platform"
            )));
        }
        None => host.to_owned(),
    };
    SockAddr::unix(path).map_err(|e| SocketError::invalid(format!("{host:?}: {e}")))
}

/// The family's loopback host text (`""` for Unix-domain sockets).
pub(crate) fn loopback(family: Family) -> &'static str {
    match family {
        f if f == AF_INET6 => "::1",
        f if f == AF_UNIX => "",
        _ => "127.0.0.1",
    }
}

/// The family's wildcard ("any") host text.
pub(crate) fn wildcard(family: Family) -> &'static str {
    if family == AF_INET6 { "::" } else { "0.0.0.0" }
}

/// Resolves `host`/`port` to addresses of the socket's `family`.
pub(crate) async fn resolve(
    host: &str,
    port: u16,
    family: Family,
    ty: SockType,
    wait: Wait,
) -> Result<Vec<SockAddr>> {
    if family == AF_UNIX {
        return Ok(vec![unix(host)?]);
    }
    let literal = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = literal.parse::<IpAddr>() {
        return Ok(vec![exact(SocketAddr::new(ip, port), family, host)?]);
    }
    check_host_syntax(host)?;
    let ty = if ty.raw() > 0 { ty.raw() } else { 0 };
    let found = lookup_or_none(
        Some(host.to_owned()),
        None,
        family.raw(),
        ty,
        libc::AI_ADDRCONFIG,
        wait,
    )
    .await?;
    // AI_ADDRCONFIG hides loopback-only families on a host with no other
    // interface: when the answer is "no such address", ask once more
    // without it, within the same deadline. A failure to ask (a timeout,
    // EAI_AGAIN) is not retried.
    let found = match found {
        Ok(v) if !v.is_empty() => v,
        Ok(_) | Err((_, true)) => {
            wait.check("resolve")?;
            lookup(Some(host.to_owned()), None, family.raw(), ty, 0, wait).await?
        }
        Err((e, false)) => return Err(e),
    };
    let mut addrs: Vec<SockAddr> = Vec::new();
    for info in found {
        let addr: SockAddr = SocketAddr::new(info.addr.ip(), port).into();
        if !addrs.contains(&addr) {
            addrs.push(addr);
        }
    }
    if addrs.is_empty() {
        return Err(SocketError::no_address(host));
    }
    Ok(addrs)
}

/// An IP socket address for a socket of `family` (`host` names it in the
/// error): the one check a literal gets, whether it came as text or as a
/// `SocketAddr`.
pub(crate) fn exact(addr: SocketAddr, family: Family, host: &str) -> Result<SockAddr> {
    if family != AF_UNSPEC && family_of(&addr) != family {
        return Err(SocketError::resolution(format!(
            "{host}: address family for hostname not supported by {}",
            socket_of(family)
        )));
    }
    Ok(addr.into())
}

/// "an AF_INET socket", "a family 99 socket".
fn socket_of(family: Family) -> String {
    let name = format!("{family:?}");
    if name.starts_with("AF_") {
        format!("an {name} socket")
    } else {
        format!("a family {} socket", family.raw())
    }
}

/// Resolves a `connect` target. On an IPv6 socket a *name* may also reach
/// IPv4 hosts (as IPv4-mapped addresses, through the dual-stack socket), so
/// it is resolved for both families and ordered as RFC 8305 asks: the
/// families interleaved, IPv6 first. Literals keep the socket's family.
pub(crate) async fn resolve_for_connect(
    host: &str,
    port: u16,
    family: Family,
    ty: SockType,
    wait: Wait,
) -> Result<Vec<SockAddr>> {
    let literal = unbracket(host);
    if family != AF_INET6 || literal.parse::<IpAddr>().is_ok() {
        return resolve(host, port, family, ty, wait).await;
    }
    let found = resolve(host, port, AF_UNSPEC, ty, wait).await?;
    let (mut v6, mut v4): (Vec<SocketAddr>, Vec<SocketAddr>) = found
        .iter()
        .filter_map(SockAddr::as_socket)
        .partition(SocketAddr::is_ipv6);
    let mut v4 = v4.drain(..).map(|a| match a {
        SocketAddr::V4(a) => SocketAddr::new(IpAddr::V6(a.ip().to_ipv6_mapped()), a.port()),
        v6 => v6,
    });
    let mut v6 = v6.drain(..);
    let mut ordered = Vec::with_capacity(found.len());
    loop {
        match (v6.next(), v4.next()) {
            (None, None) => break,
            (a, b) => ordered.extend(a.into_iter().chain(b).map(SockAddr::from)),
        }
    }
    Ok(ordered)
}

/// The family of an IP socket address.
pub(crate) fn family_of(addr: &SocketAddr) -> Family {
    if addr.is_ipv4() { AF_INET } else { AF_INET6 }
}

/// An IP address as text, exactly as its `Display` writes it. IPv4 skips
/// the formatting machinery (a connect, an accept and a datagram from a new
/// sender each format one): about a tenth of the instructions.
pub(crate) fn ip_text(ip: std::net::IpAddr) -> String {
    let v4 = match ip {
        std::net::IpAddr::V4(v4) => v4,
        std::net::IpAddr::V6(v6) => return v6.to_string(),
    };
    let mut text = String::with_capacity(15);
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            text.push('.');
        }
        if octet >= 100 {
            text.push(char::from(b'0' + octet / 100));
        }
        if octet >= 10 {
            text.push(char::from(b'0' + octet / 10 % 10));
        }
        text.push(char::from(b'0' + octet % 10));
    }
    text
}

/// A socket address as host text and port: the IP (IPv6 without brackets),
/// or for a Unix-domain socket its path (`@name` for an abstract one).
pub(crate) fn host_port(addr: &SockAddr) -> (String, u16) {
    if let Some(sa) = addr.as_socket() {
        return (ip_text(sa.ip()), sa.port());
    }
    if let Some(path) = addr.as_pathname() {
        return (path.to_string_lossy().into_owned(), 0);
    }
    if let Some(name) = addr.as_abstract_namespace() {
        return (format!("@{}", String::from_utf8_lossy(name)), 0);
    }
    (String::new(), 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_text_writes_what_display_writes() {
        use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
        for a in [0u8, 1, 9, 10, 99, 100, 199, 200, 255] {
            for b in [0u8, 7, 42, 250] {
                let ip = IpAddr::V4(Ipv4Addr::new(a, b, 255 - a, 9));
                assert_eq!(ip_text(ip), ip.to_string());
            }
        }
        for ip in [
            Ipv6Addr::LOCALHOST,
            Ipv6Addr::UNSPECIFIED,
            "::ffff:1.2.3.4".parse().unwrap(),
        ] {
            assert_eq!(ip_text(IpAddr::V6(ip)), ip.to_string());
        }
    }

    #[test]
    fn localhost_is_answered_locally_for_each_family() {
        let one = |f: Family| localhost("localhost", f.raw()).unwrap();
        assert_eq!(one(AF_INET)[0].addr.ip().to_string(), "127.0.0.1");
        assert_eq!(one(AF_INET6)[0].addr.ip().to_string(), "::1");
        assert_eq!(one(AF_UNSPEC).len(), 2);
        assert!(is_localhost("LOCALHOST.") && is_localhost("app.localhost"));
        assert!(!is_localhost("localhost.example") && !is_localhost("notlocalhost"));
    }

    #[test]
    fn a_literal_of_the_wrong_family_names_the_host_and_the_socket() {
        let v6 = SocketAddr::from(([0u16, 0, 0, 0, 0, 0, 0, 1], 80));
        let e = exact(v6, AF_INET, "::1").unwrap_err();
        assert_eq!(
            e.message(),
            "::1: address family for hostname not supported by an AF_INET socket"
        );
        let e = exact(v6, Family::from_raw(9999), "x").unwrap_err();
        assert!(e.message().ends_with("by a family 9999 socket"), "{e}");
        assert!(exact(v6, AF_INET6, "::1").is_ok() && exact(v6, AF_UNSPEC, "::1").is_ok());
    }

    /// The hand-written IPv4 parser accepts only what std accepts, as the
    /// same address.
    #[test]
    fn the_fast_ipv4_parser_agrees_with_std() {
        let cases = [
            "127.0.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "1.2.3.4",
            "10.20.30.40",
            "192.168.100.200",
            "256.1.1.1",
            "1.2.3.256",
            "01.2.3.4",
            "1.2.3.04",
            "1.2.3.0",
            "1.2.3",
            "1.2.3.4.5",
            "1..2.3",
            ".1.2.3.4",
            "1.2.3.4.",
            "1.2.3.4 ",
            " 1.2.3.4",
            "1.2.3.-4",
            "1.2.3.+4",
            "1.2.3.1000",
            "1234.1.1.1",
            "a.b.c.d",
            "1.2.3.4a",
            "::1",
            "[::1]",
            "localhost",
            "999.999.999.999",
            "",
            "1.2.3.٤",
        ];
        for case in cases {
            let std = case.parse::<std::net::Ipv4Addr>().ok();
            match ipv4_literal(case) {
                Some(ip) => assert_eq!(Some(ip), std, "{case:?}"),
                None => assert!(
                    std.is_none(),
                    "{case:?}: std parses it, the fast parser does not"
                ),
            }
        }
        // Every octet value, in each position.
        for v in 0..=300u16 {
            for pos in 0..4 {
                let mut parts = ["9"; 4].map(String::from);
                parts[pos] = v.to_string();
                let text = parts.join(".");
                let std = text.parse::<std::net::Ipv4Addr>().ok();
                assert_eq!(ipv4_literal(&text), std, "{text:?}");
            }
        }
    }

    #[test]
    fn host_syntax() {
        for ok in [
            "localhost",
            "a.b-c.example",
            "x_y",
            "127.0.0.1",
            "::1",
            "[::1]",
            "host.",
        ] {
            assert!(check_host_syntax(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a b", "a..b", "!!", "a/b", "\0"] {
            assert!(check_host_syntax(bad).is_err(), "{bad:?}");
        }
    }
}
