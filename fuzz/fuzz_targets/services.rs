//! Service text (`"http"`, `"8080"`, anything) given to `get_address_info`:
//! a port hint, never a failure cause. The host is a literal, so only the
//! local services database is consulted.
#![no_main]

use std::net::IpAddr;

use blade_socket::{AF_INET, AF_INET6, AF_UNSPEC, blocking};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, text)) = data.split_first() else {
        return;
    };
    let Ok(service) = std::str::from_utf8(text) else {
        return;
    };
    let (host, family) = match selector % 3 {
        0 => ("127.0.0.1", Some(AF_INET)),
        1 => ("::1", Some(AF_INET6)),
        _ => ("127.0.0.1", Some(AF_UNSPEC)),
    };
    let info = blocking::get_address_info(host, Some(service), family)
        .unwrap_or_else(|e| panic!("service {service:?} made the lookup fail: {e:?}"));
    assert_eq!(info.ip, host.parse::<IpAddr>().unwrap());
    if let Ok(port) = service.parse::<u16>() {
        assert_eq!(info.port, port, "numeric service {service:?}");
    }
});
