//! TLS over the crate: `tokio-rustls` (rustls with the ring provider) runs
//! on the crate's `Socket` as client and as server, since `Socket` is tokio's
//! `AsyncRead` + `AsyncWrite`. The certificate is made by `rcgen` at test
//! time; nothing is fetched, and all traffic is on loopback.

mod support;

use std::sync::Arc;

use blade_socket::Socket;
use support::{listener, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::{
    TlsAcceptor, TlsConnector,
    rustls::{
        self, AlertDescription, CertificateError, ClientConfig, ProtocolVersion, RootCertStore,
        ServerConfig,
        pki_types::{CertificateDer, PrivatePkcs8KeyDer, ServerName},
    },
};

/// The name the server's certificate is issued for.
const NAME: &str = "localhost";

/// A fresh self-signed certificate for `name`, whose subject (and so
/// issuer) is `common_name`, and its private key.
fn certificate(
    name: &str,
    common_name: &str,
) -> (CertificateDer<'static>, PrivatePkcs8KeyDer<'static>) {
    let mut params = rcgen::CertificateParams::new(vec![name.to_owned()]).expect("names");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    let key = rcgen::KeyPair::generate().expect("key pair");
    let cert = params.self_signed(&key).expect("certificate");
    (
        cert.der().clone(),
        PrivatePkcs8KeyDer::from(key.serialize_der()),
    )
}

/// rustls on *ring*, which builds in a fraction of aws-lc-rs's time. rustls
/// 0.23.48 deprecated it for lacking post-quantum key exchange, which a
/// loopback test has no use for.
#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A server presenting `cert`.
fn acceptor(cert: CertificateDer<'static>, key: PrivatePkcs8KeyDer<'static>) -> TlsAcceptor {
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert], key.into())
        .expect("server certificate");
    TlsAcceptor::from(Arc::new(config))
}

/// A client trusting only `root`.
fn connector(root: CertificateDer<'static>) -> TlsConnector {
    let mut roots = RootCertStore::empty();
    roots.add(root).expect("root certificate");
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

/// A TCP client on the crate's `Socket`, connected to 127.0.0.1:`port`.
async fn client_socket(port: u16) -> Socket {
    let mut socket = Socket::tcp().expect("socket");
    socket.connect(None, port, None).await.expect("connect");
    socket
}

/// `len` bytes of every value, distinct for each `seed`.
fn payload(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 9) as u8)
        .collect()
}

#[tokio::test]
async fn tls_round_trip_on_blade_sockets_both_ways() {
    within(async {
        let (cert, key) = certificate(NAME, "blade-socket test");
        let acceptor = acceptor(cert.clone(), key);
        let connector = connector(cert);
        let listener = listener().await;
        let port = listener.port();
        // Larger than both sockets' buffers, and sent in both directions at
        // once: neither side can finish writing before the other reads.
        let to_server = payload(2 * 1024 * 1024 + 5, 1);
        let to_client = payload(3 * 1024 * 1024 + 7, 2);

        let server = {
            let to_client = to_client.clone();
            tokio::spawn(async move {
                let conn = listener.accept().await.expect("accept");
                let tls = acceptor.accept(conn).await.expect("server handshake");
                let (_, session) = tls.get_ref();
                assert_eq!(session.server_name(), Some(NAME), "SNI");
                assert_eq!(session.protocol_version(), Some(ProtocolVersion::TLSv1_3));
                let (mut reader, mut writer) = tokio::io::split(tls);
                let send = async {
                    writer.write_all(&to_client).await.expect("server write");
                    // close_notify, then the socket's SHUT_WR.
                    writer.shutdown().await.expect("server shutdown");
                };
                let receive = async {
                    let mut got = Vec::new();
                    // Ends at the client's close_notify; a bare TCP end of
                    // file would be an error.
                    reader.read_to_end(&mut got).await.expect("server read");
                    got
                };
                tokio::join!(send, receive).1
            })
        };

        let socket = client_socket(port).await;
        let name = ServerName::try_from(NAME).expect("server name");
        let tls = connector
            .connect(name, socket)
            .await
            .expect("client handshake");
        assert_eq!(
            tls.get_ref().1.protocol_version(),
            Some(ProtocolVersion::TLSv1_3)
        );
        let (mut reader, mut writer) = tokio::io::split(tls);
        let send = async {
            writer.write_all(&to_server).await.expect("client write");
            writer.shutdown().await.expect("client shutdown");
        };
        let receive = async {
            let mut got = Vec::new();
            reader.read_to_end(&mut got).await.expect("client read");
            got
        };
        let ((), received) = tokio::join!(send, receive);
        assert!(received == to_client, "the client got other bytes");
        let received = server.await.expect("server task");
        assert!(received == to_server, "the server got other bytes");
    })
    .await;
}

/// Runs a handshake that must fail, against a server presenting `server`,
/// by a client that trusts `root` and asks for `name`. Returns the client's
/// TLS error and the server's `io::Error`.
async fn failed_handshake(
    root: CertificateDer<'static>,
    server: (CertificateDer<'static>, PrivatePkcs8KeyDer<'static>),
    name: &'static str,
) -> (rustls::Error, std::io::Error) {
    let acceptor = acceptor(server.0, server.1);
    let listener = listener().await;
    let port = listener.port();
    let server = tokio::spawn(async move {
        let conn = listener.accept().await.expect("accept");
        acceptor.accept(conn).await.map(|_| ())
    });
    let socket = client_socket(port).await;
    let name = ServerName::try_from(name).expect("server name");
    let client = connector(root).connect(name, socket).await.map(|_| ());
    let server = server.await.expect("server task");
    let client = client.expect_err("the client's handshake succeeded");
    let server = server.expect_err("the server's handshake succeeded");
    (tls_error(&client), server)
}

/// The rustls error inside a tokio-rustls `io::Error`.
fn tls_error(error: &std::io::Error) -> rustls::Error {
    match error
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
    {
        Some(e) => e.clone(),
        None => panic!("not a TLS error: {error:?}"),
    }
}

/// The server's side of a handshake that the client refused: the client's
/// alert naming `why`. tokio-rustls sends the alert with one last vectored
/// write before it drops the socket; the crate's writers are vectored, so
/// that write carries every queued record (ChangeCipherSpec and the alert),
/// as a `tokio::net::TcpStream`'s does.
fn assert_refused_by_client(server: &std::io::Error, why: AlertDescription) {
    assert_eq!(tls_error(server), rustls::Error::AlertReceived(why));
}

#[tokio::test]
async fn a_wrong_server_name_fails_the_handshake() {
    within(async {
        let (cert, key) = certificate(NAME, "blade-socket test");
        let (client, server) = failed_handshake(cert.clone(), (cert, key), "wrong.example").await;
        assert!(
            matches!(
                client,
                rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForName
                        | CertificateError::NotValidForNameContext { .. }
                )
            ),
            "client: {client:?}"
        );
        assert_refused_by_client(&server, AlertDescription::BadCertificate);
    })
    .await;
}

#[tokio::test]
async fn an_untrusted_certificate_fails_the_handshake() {
    within(async {
        // The client trusts another issuer's certificate for the same name.
        let (trusted, _) = certificate(NAME, "blade-socket trusted");
        let (cert, key) = certificate(NAME, "blade-socket unknown");
        let (client, server) = failed_handshake(trusted, (cert, key), NAME).await;
        assert_eq!(
            client,
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
        );
        assert_refused_by_client(&server, AlertDescription::UnknownCA);
    })
    .await;
}
