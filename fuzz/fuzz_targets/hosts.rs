//! Host text through every public door that parses it: `get_address_info`
//! (each family) and `bind`. Text that is not an IP literal or a
//! `localhost` name may go to `getaddrinfo`, and from there to DNS: this
//! target refuses to run outside a private network namespace (run it under
//! `unshare -n`), where such a lookup fails at once without leaving the
//! machine.
#![no_main]

use std::{net::IpAddr, sync::Once};

use blade_socket::{AF_INET, AF_INET6, AF_UNIX, AF_UNSPEC, ErrorKind, blocking};
use libfuzzer_sys::fuzz_target;

/// Exits unless this process's network namespace has no interface but
/// `lo` (as under `unshare -n`): then no lookup can leave the machine.
fn require_private_namespace() {
    static CHECK: Once = Once::new();
    CHECK.call_once(|| {
        let dev = std::fs::read_to_string("/proc/net/dev").unwrap_or_default();
        let others: Vec<&str> = dev
            .lines()
            .skip(2)
            .filter_map(|l| l.split(':').next().map(str::trim))
            .filter(|name| *name != "lo")
            .collect();
        if dev.is_empty() || !others.is_empty() {
            eprintln!(
                "hosts: run inside a network namespace with only `lo` (unshare -n), \
                 since a lookup may reach DNS; found {others:?}"
            );
            std::process::exit(2);
        }
    });
}

fuzz_target!(|data: &[u8]| {
    require_private_namespace();
    let Some((&selector, text)) = data.split_first() else {
        return;
    };
    let Ok(host) = std::str::from_utf8(text) else {
        return;
    };
    let families = [
        None,
        Some(AF_INET),
        Some(AF_INET6),
        Some(AF_UNSPEC),
        Some(AF_UNIX),
    ];
    let family = families[usize::from(selector) % families.len()];
    let literal = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
        .parse::<IpAddr>()
        .ok();
    match blocking::get_address_info(host, None, family) {
        Ok(info) => {
            // A literal answers itself, in the family asked for.
            if let Some(ip) = literal {
                assert_eq!(info.ip, ip, "{host:?} resolved to another address");
            }
            assert!(
                info.addresses.contains(&info.ip),
                "{host:?}: first address not listed"
            );
        }
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::AddressResolution, "{host:?}: {e:?}");
            // An IPv4 literal asked for as IPv4 (or any family) never fails.
            if let Some(IpAddr::V4(_)) = literal {
                assert!(
                    !matches!(family, None | Some(AF_INET) | Some(AF_UNSPEC)),
                    "{host:?} ({family:?}): {e:?}"
                );
            }
        }
    }
    // `bind` parses the same text for its own family; any failure is an Err.
    let sock = if selector & 0x80 == 0 {
        blocking::Socket::tcp()
    } else {
        blocking::Socket::udp()
    };
    if let Ok(mut s) = sock {
        let _ = s.bind(0, Some(host));
        if !s.is_bound() {
            assert!(!s.is_closed(), "a failed bind closed the socket");
        }
    }
});
