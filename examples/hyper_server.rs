//! HTTP/1.1 with `hyper` 1.x over the async `Socket`: the crate's sockets
//! plug into the tokio ecosystem through `hyper_util::rt::TokioIo`, because
//! `Socket` implements tokio's `AsyncRead` and `AsyncWrite`.
//!
//! ```text
//! cargo run --example hyper_server                  # 127.0.0.1:8080
//! cargo run --example hyper_server -- 127.0.0.1:0   # an ephemeral port
//! curl -i http://127.0.0.1:8080/
//! curl --data-binary @Cargo.toml http://127.0.0.1:8080/echo
//! ```
//!
//! `GET /` (or `HEAD /`) answers `Hello from hyper on blade-socket`;
//! `POST /echo` streams the request body back as it arrives, so a body of
//! any size passes through without being buffered; anything else is `404`
//! or `405`. hyper does the HTTP (keep-alive, pipelining, chunked bodies);
//! this file only accepts connections and routes requests.
//!
//! The first line on stdout is `listening on HOST:PORT` with the real port;
//! each request is logged as one line on stderr. Ctrl-C (or `SIGTERM`) stops
//! accepting, lets connections finish their request in flight (up to 5 s,
//! or until a second Ctrl-C), and exits 0.

mod common;

use common::{show, shutdown_signal};

use std::{convert::Infallible, process::ExitCode, time::Duration};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::{
    Method, Request, Response, StatusCode, body::Incoming, header, server::conn::http1,
    service::service_fn,
};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
};

const DEFAULT_ADDRESS: &str = "127.0.0.1:8080";
const HELLO: &str = "Hello from hyper on blade-socket\n";

/// How long a request head may take to arrive (slowloris).
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// How long, after Ctrl-C, connections may take to finish.
const GRACE: Duration = Duration::from_secs(5);

/// Every response body: a fixed text or the request's own body, streamed.
type Body = BoxBody<Bytes, hyper::Error>;

#[tokio::main]
async fn main() -> ExitCode {
    common::serve_main("hyper_server", DEFAULT_ADDRESS, |host, port| async move {
        serve(&host, port).await
    })
    .await
}

async fn serve(host: &str, port: u16) -> Result<(), String> {
    let listener = common::listen(host, port).await?;
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT);
    // Tracks every connection, so that a stop can ask each to finish.
    let graceful = GracefulShutdown::new();

    let mut signal = std::pin::pin!(shutdown_signal());
    let why = loop {
        tokio::select! {
            // `accept` is cancel safe: losing the race to a signal drops no connection.
            accepted = listener.accept() => match accepted {
                Ok(mut conn) => {
                    let peer = show(&conn.host(), conn.port());
                    // A response's head and body go out in separate writes;
                    // don't let Nagle hold the second back.
                    let _ = conn.set_nodelay(true);
                    let service = service_fn(move |request| route(request, peer.clone()));
                    let connection = graceful.watch(http.serve_connection(TokioIo::new(conn), service));
                    tokio::spawn(async move {
                        // A client that vanishes or misbehaves ends only its own connection.
                        if let Err(e) = connection.await {
                            eprintln!("connection: {e}");
                        }
                    });
                }
                Err(e) => {
                    // Such as `Too many open files`: report, breathe, carry on.
                    eprintln!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            why = &mut signal => break why,
        }
    };

    drop(listener);
    eprintln!("{why}: stopping; {} connection(s) open", graceful.count());
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(GRACE) => eprintln!("cutting off the rest after {GRACE:?}"),
        why = shutdown_signal() => eprintln!("{why} again: cutting off the rest"),
    }
    Ok(()) // returning from main ends the connection tasks still running
}

/// Answers one request; never fails (errors are responses).
async fn route(request: Request<Incoming>, peer: String) -> Result<Response<Body>, Infallible> {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = match (path.as_str(), &method) {
        ("/", &Method::GET | &Method::HEAD) => text(StatusCode::OK, HELLO),
        ("/echo", &Method::POST) => {
            let mut response = Response::new(request.into_body().boxed());
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("application/octet-stream"),
            );
            response
        }
        ("/" | "/echo", _) => {
            let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
            let allow = if path == "/" { "GET, HEAD" } else { "POST" };
            response
                .headers_mut()
                .insert(header::ALLOW, header::HeaderValue::from_static(allow));
            response
        }
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    };
    eprintln!("{peer} {method} {path} {}", response.status().as_u16());
    Ok(response)
}

/// A `text/plain` response.
fn text(status: StatusCode, body: &'static str) -> Response<Body> {
    let body = Full::new(Bytes::from_static(body.as_bytes()))
        .map_err(|never| match never {})
        .boxed();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
