//! Slow and greedy clients (issue 15 #1): connections that never send their headers are closed
//! by the header-read timeout, connections beyond the cap wait instead of starving the server,
//! one address cannot hold more than its share, and a real request still gets its answer.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::helpers::{Backend, TestApp, eventually};

/// A TCP connection to `addr` from the loopback address `from` (all of 127/8 is local).
async fn connect_from(from: &str, addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    socket.connect(addr).await.unwrap()
}

/// Read until the server closes the connection (EOF or reset); returns what it sent.
async fn until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idle_connections_beyond_the_cap_do_not_starve_a_real_request() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.http_header_read_timeout_seconds = 1;
        s.http_max_connections = 4;
    })
    .await;
    // Three times the cap, each sending nothing.
    let mut idle = Vec::new();
    for _ in 0..12 {
        idle.push(TcpStream::connect(app.addr).await.unwrap());
    }
    // A real request behind them is answered: the header timeout frees the slots they hold.
    let res = app.get("/api/v1/livez").await;
    assert_eq!(res.status(), 200);
    // Every idle connection was closed by the server, none answered as a request.
    for stream in &mut idle {
        let sent = until_closed(stream).await;
        assert!(
            !String::from_utf8_lossy(&sent).contains("200 OK"),
            "{}",
            String::from_utf8_lossy(&sent)
        );
    }
    // And the server goes on serving.
    assert_eq!(app.get("/api/v1/livez").await.status(), 200);
}

/// The server loop alone (`posada serve` exempts loopback peers from the per-address cap, as a
/// reverse proxy on the same host carries every client; here only 127.0.0.3 is exempt, so
/// 127.0.0.2 plays a client out on the internet).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_address_holds_at_most_its_share_of_connections() {
    use axum::Router;
    use axum::routing::get;
    use posada_server::http::connections::{Limits, serve};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(
        listener,
        Router::new().route("/livez", get(|| async { "ok" })),
        Limits {
            // Long: here only the per-address cap closes anything.
            header_read_timeout: Duration::from_secs(300),
            max_connections: 100,
            max_connections_per_ip: 2,
            exempt_from_per_ip: vec!["127.0.0.3/32".parse().unwrap()],
        },
        async move {
            let _ = stopped.await;
        },
    ));
    let get = b"GET /livez HTTP/1.1\r\nHost: posada\r\nConnection: close\r\n\r\n";
    let mut held = vec![
        connect_from("127.0.0.2", addr).await,
        connect_from("127.0.0.2", addr).await,
    ];
    // The third from the same address is closed on arrival (it would otherwise wait 300 s).
    let mut third = connect_from("127.0.0.2", addr).await;
    let sent = tokio::time::timeout(Duration::from_secs(60), until_closed(&mut third))
        .await
        .expect("the connection over the per-address cap is closed");
    assert!(sent.is_empty());
    // Other addresses are served meanwhile.
    let mut other = connect_from("127.0.0.4", addr).await;
    other.write_all(get).await.unwrap();
    let answer = until_closed(&mut other).await;
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
    // An exempt peer (a proxy carrying many clients) is not held to the per-address cap.
    let mut proxied = Vec::new();
    for _ in 0..3 {
        proxied.push(connect_from("127.0.0.3", addr).await);
    }
    let last = proxied.last_mut().unwrap();
    last.write_all(get).await.unwrap();
    let answer = until_closed(last).await;
    assert!(
        String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    // Closing one held connection lets the address in again (once the server has seen it go).
    held.pop();
    eventually(Duration::from_secs(30), || async {
        let mut again = connect_from("127.0.0.2", addr).await;
        again.write_all(get).await.ok()?;
        let answer = until_closed(&mut again).await;
        String::from_utf8_lossy(&answer)
            .starts_with("HTTP/1.1 200")
            .then_some(())
    })
    .await;
    // Shutting down closes the idle connections and ends the loop.
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    for stream in held.iter_mut().chain(proxied.iter_mut()) {
        until_closed(stream).await;
    }
}
