// redis_mq patch 2: `Limits::max_connections` bounds the connections served
// at once; the rest wait in the kernel's backlog until one closes.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

fn get(client: &mut TcpStream) -> std::io::Result<String> {
    client.write_all(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")?;
    let mut buf = [0u8; 256];
    let n = client.read(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
}

#[test]
fn connections_over_the_cap_wait_until_one_closes() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let limits = tiny_http::Limits {
        max_connections: 2,
        ..tiny_http::Limits::default()
    };
    let server = tiny_http::Server::from_listener_with_limits(listener, None, limits).unwrap();
    thread::spawn(move || {
        for rq in server.incoming_requests() {
            let _ = rq.respond(tiny_http::Response::from_string("ok"));
        }
    });

    let mut first = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut second = TcpStream::connect(("127.0.0.1", port)).unwrap();
    assert!(get(&mut first).unwrap().starts_with("HTTP/1.1 200"));
    assert!(get(&mut second).unwrap().starts_with("HTTP/1.1 200"));

    // A third, while two are open: accepted by the kernel, not served.
    let mut third = TcpStream::connect(("127.0.0.1", port)).unwrap();
    third
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    assert!(get(&mut third).is_err(), "served over the cap");

    // One closes: the third is served.
    drop(first);
    third.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 256];
    let n = third.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
}
