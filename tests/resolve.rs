//! Name resolution. Only `localhost` and IP literals are ever resolved here
//! (answered locally); invalid names must be rejected before any DNS query.
mod support;
use support::*;

use std::{
    future::Future,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
};

use blade_socket::{
    AF_INET, AF_INET6, AF_UNSPEC, AddressInfo, ErrorKind, blocking, get_address_info,
};

#[tokio::test]
async fn localhost_resolves_to_ipv4_loopback_with_canonical_name() {
    within(async {
        let info = get_address_info("localhost", None, None).await.unwrap();
        assert!(info.ip.is_ipv4(), "{info:?}");
        assert!(info.ip.is_loopback(), "{info:?}");
        let name = info
            .canonical_name
            .clone()
            .expect("canonical name for localhost");
        assert!(!name.is_empty());
        // Clone + Debug
        let copy: AddressInfo = info.clone();
        assert_eq!(copy.ip, info.ip);
        assert!(format!("{info:?}").contains("127."));
    })
    .await;
}

#[tokio::test]
async fn localhost_with_explicit_af_inet() {
    within(async {
        let info = get_address_info("localhost", None, Some(AF_INET))
            .await
            .unwrap();
        assert!(info.ip.is_ipv4() && info.ip.is_loopback());
    })
    .await;
}

#[tokio::test]
async fn ipv4_literal() {
    within(async {
        let info = get_address_info("127.0.0.1", None, None).await.unwrap();
        assert_eq!(info.ip, IpAddr::V4(Ipv4Addr::LOCALHOST));
        let info = get_address_info("127.0.0.1", None, Some(AF_UNSPEC))
            .await
            .unwrap();
        assert_eq!(info.ip, IpAddr::V4(Ipv4Addr::LOCALHOST));
        let info = get_address_info("127.0.0.5", None, Some(AF_INET))
            .await
            .unwrap();
        assert_eq!(info.ip, "127.0.0.5".parse::<IpAddr>().unwrap());
    })
    .await;
}

#[tokio::test]
async fn ipv6_literal_with_af_inet6_or_unspec() {
    within(async {
        let info = get_address_info("::1", None, Some(AF_INET6)).await.unwrap();
        assert_eq!(info.ip, IpAddr::V6(Ipv6Addr::LOCALHOST));
        let info = get_address_info("::1", None, Some(AF_UNSPEC))
            .await
            .unwrap();
        assert_eq!(info.ip, IpAddr::V6(Ipv6Addr::LOCALHOST));
    })
    .await;
}

#[tokio::test]
async fn family_none_means_af_inet() {
    within(async {
        // An IPv6 literal asked for as AF_INET fails (locally).
        let err = get_address_info("::1", None, None).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddressResolution, "{err:?}");
        assert_eq!(err.message(), err.to_string());
        let err = get_address_info("::1", None, Some(AF_INET))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddressResolution);
        // and an IPv4 literal as AF_INET6 fails too
        let err = get_address_info("127.0.0.1", None, Some(AF_INET6))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddressResolution);
        // A lookup that fails names what was looked up.
        assert!(err.message().starts_with("127.0.0.1: "), "{err}");
    })
    .await;
}

#[tokio::test]
async fn service_hints() {
    within(async {
        let info = get_address_info("localhost", Some("http"), None)
            .await
            .unwrap();
        assert!(info.ip.is_loopback());
        assert_eq!(info.port, 80);
        let info = get_address_info("127.0.0.1", Some("8080"), None)
            .await
            .unwrap();
        assert_eq!(info.ip, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(info.port, 8080);
        let info = get_address_info("::1", Some("https"), Some(AF_INET6))
            .await
            .unwrap();
        assert_eq!(info.port, 443);
        let info = get_address_info("127.0.0.1", None, None).await.unwrap();
        assert_eq!(info.port, 0);
    })
    .await;
}

#[tokio::test]
async fn unknown_or_odd_service_never_fails() {
    within(async {
        for service in ["no-such-service-blade", "", "99999", "-1", "http!!", "80x"] {
            let info = get_address_info("127.0.0.1", Some(service), None)
                .await
                .unwrap_or_else(|e| panic!("service {service:?} failed: {e:?}"));
            assert_eq!(info.ip, IpAddr::V4(Ipv4Addr::LOCALHOST), "{service:?}");
        }
        let info = get_address_info("localhost", Some("no-such-service-blade"), None)
            .await
            .unwrap();
        assert!(info.ip.is_loopback());
    })
    .await;
}

#[tokio::test]
async fn invalid_names_are_address_resolution_errors() {
    within(async {
        for name in [
            "not a host!!",
            "",
            "a..b",
            "bad/name",
            "white space",
            "\0",
            "-!-",
        ] {
            for (service, family) in [(None, None), (Some("http"), Some(AF_UNSPEC))] {
                let err = get_address_info(name, service, family)
                    .await
                    .expect_err(&format!("{name:?} must not resolve"));
                assert_eq!(
                    err.kind(),
                    ErrorKind::AddressResolution,
                    "{name:?}: {err:?}"
                );
                assert!(!err.message().is_empty());
            }
        }
    })
    .await;
}

#[test]
fn blocking_get_address_info() {
    within_blocking(|| {
        let info = blocking::get_address_info("localhost", Some("http"), None).unwrap();
        assert!(info.ip.is_ipv4() && info.ip.is_loopback());
        assert!(info.canonical_name.is_some());
        assert_eq!(info.port, 80);
        let info = blocking::get_address_info("::1", None, Some(AF_INET6)).unwrap();
        assert_eq!(info.ip, IpAddr::V6(Ipv6Addr::LOCALHOST));
        let err = blocking::get_address_info("::1", None, None).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddressResolution);
        let err = blocking::get_address_info("not a host!!", None, None).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddressResolution);
    });
}

#[tokio::test(flavor = "current_thread")]
async fn blocking_get_address_info_inside_a_current_thread_runtime() {
    within(async {
        let info = blocking::get_address_info("localhost", None, None).unwrap();
        assert!(info.ip.is_loopback());
    })
    .await;
}

#[test]
fn async_get_address_info_outside_a_runtime_is_an_error_not_a_panic() {
    within_blocking(|| {
        // Polled once with a no-op waker: with no runtime it must be ready at once.
        let mut fut = std::pin::pin!(get_address_info("localhost", None, None));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let std::task::Poll::Ready(result) = fut.as_mut().poll(&mut cx) else {
            panic!("outside a runtime the call must fail at once, not wait");
        };
        let err = result.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::IllegalState);
        assert!(
            err.message().contains("no tokio runtime"),
            "{}",
            err.message()
        );
    });
}
