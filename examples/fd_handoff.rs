//! Hands accepted TCP connections to a second process over a Unix socket
//! (`SCM_RIGHTS`), after checking with `peer_credentials` that the process
//! at the other end is the worker this one started, run by the same user.
//!
//! ```text
//! cargo run --example fd_handoff                  # 127.0.0.1:8082
//! cargo run --example fd_handoff -- 127.0.0.1:0   # an ephemeral port
//! nc 127.0.0.1 8082                               # "handled by worker PID", then echo
//! ```
//!
//! The front process binds a Unix socket in the temporary directory, starts
//! itself again as the worker (`fd_handoff --worker PATH`), accepts the
//! worker's connection and checks its credentials (the pid it started, the
//! uid that owns the socket file), then listens on TCP. The first line on
//! stdout is `listening on HOST:PORT`. Each accepted connection goes to the
//! worker with one byte of message and is closed here; the worker greets it
//! with `handled by worker PID` and echoes what it sends until end of file.
//! The front exits when the worker does, or on Ctrl-C (which stops the
//! worker too: its Unix socket reads end of file).

mod common;

use std::{
    os::{fd::AsFd, unix::fs::MetadataExt},
    path::PathBuf,
    process::ExitCode,
};

use blade_socket::Socket;

const DEFAULT_ADDRESS: &str = "127.0.0.1:8082";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let r = match args.as_slice() {
        [flag, path] if flag == "--worker" => worker(path).await,
        [flag] if flag == "-h" || flag == "--help" => {
            println!("usage: fd_handoff [HOST:PORT]   (default {DEFAULT_ADDRESS})");
            return ExitCode::SUCCESS;
        }
        [] => front(DEFAULT_ADDRESS).await,
        [address] => front(address).await,
        _ => Err("too many arguments".into()),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fd_handoff: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Removes the Unix socket's file when the front exits.
struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

async fn front(address: &str) -> Result<(), String> {
    let (host, port) = common::parse_address(address)?;
    let path = std::env::temp_dir().join(format!("fd_handoff-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let path_text = path.to_str().ok_or("temporary directory is not UTF-8")?;
    let mut unix = Socket::unix().map_err(|e| format!("socket: {e}"))?;
    unix.bind(0, Some(path_text))
        .await
        .map_err(|e| format!("bind {path_text}: {e}"))?;
    let _cleanup = Cleanup(path.clone());
    unix.listen(Some(1)).map_err(|e| format!("listen: {e}"))?;

    let exe = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
    let mut child = tokio::process::Command::new(exe)
        .arg("--worker")
        .arg(&path)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("starting the worker: {e}"))?;
    let worker = unix
        .accept()
        .await
        .map_err(|e| format!("accept worker: {e}"))?;

    // Only the process we started, run by the user that owns the socket
    // file, gets our connections.
    let peer = worker
        .peer_credentials()
        .map_err(|e| format!("peer credentials: {e}"))?;
    let owner = std::fs::metadata(&path)
        .map_err(|e| format!("{path_text}: {e}"))?
        .uid();
    let started = child.id().and_then(|p| i32::try_from(p).ok());
    if peer.pid != started || peer.uid != owner {
        return Err(format!(
            "refusing peer {peer:?}: expected pid {started:?}, uid {owner}"
        ));
    }

    let listener = common::listen(&host, port).await?;
    let mut signal = std::pin::pin!(common::shutdown_signal());
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let conn = match accepted {
                    Ok(c) => c,
                    Err(e) => {
                        eprintln!("accept: {e}");
                        continue;
                    }
                };
                let fd = conn.fd().map_err(|e| format!("fd: {e}"))?;
                worker
                    .send_with_fds(b"c", &[fd.as_fd()])
                    .await
                    .map_err(|e| format!("handing off: {e}"))?;
                // Ours closes here; the worker's copy keeps the connection.
            }
            status = child.wait() => {
                return Err(format!("worker exited: {status:?}"));
            }
            why = &mut signal => {
                eprintln!("fd_handoff: {why}: stopping");
                return Ok(());
            }
        }
    }
}

async fn worker(path: &str) -> Result<(), String> {
    let mut front = Socket::unix().map_err(|e| format!("socket: {e}"))?;
    front
        .connect(Some(path), 0, None)
        .await
        .map_err(|e| format!("connect {path}: {e}"))?;
    loop {
        let got = front
            .receive_with_fds(Some(1), 1)
            .await
            .map_err(|e| format!("receive: {e}"))?;
        if got.data.is_none() {
            return Ok(()); // the front is gone
        }
        for fd in got.fds {
            match Socket::from_fd(fd) {
                Ok(conn) => {
                    tokio::spawn(serve(conn));
                }
                Err(e) => eprintln!("worker: {e}"),
            }
        }
    }
}

/// Greets the connection, then echoes it until end of file.
async fn serve(conn: Socket) {
    let greeting = format!("handled by worker {}\n", std::process::id());
    if conn.send(greeting).await.is_err() {
        return;
    }
    while let Ok(Some(bytes)) = conn.receive(None).await {
        if conn.send(&bytes).await.is_err() {
            return;
        }
    }
}
