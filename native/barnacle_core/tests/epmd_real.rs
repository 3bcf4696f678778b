//! The EPMD client against a real `epmd` started by the test, and against
//! in-test responders that misbehave (silent, endless, garbage).

use barnacle_core::epmd::{self, EpmdError};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn epmd_binary() -> Option<String> {
    let out = Command::new("sh").args(["-c", "command -v epmd"]).output().ok()?;
    let path = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (!path.is_empty()).then_some(path)
}

struct Epmd {
    child: Child,
    port: u16,
}

impl Drop for Epmd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_epmd() -> Option<Epmd> {
    let Some(bin) = epmd_binary() else {
        // The project's test command sets BARNACLE_REQUIRE_SERVERS=1, so a
        // missing epmd fails there instead of passing silently.
        assert!(
            std::env::var_os("BARNACLE_REQUIRE_SERVERS").is_none(),
            "no `epmd` binary on PATH (install erlang-base)"
        );
        eprintln!("SKIPPED: no `epmd` binary on PATH; install erlang-base to run the real-EPMD tests");
        return None;
    };
    let port = free_port();
    let child = Command::new(bin)
        .args(["-port", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start epmd");
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "epmd did not start listening");
        thread::sleep(Duration::from_millis(20));
    }
    Some(Epmd { child, port })
}

/// Registers `name` with the EPMD as a real node does (`ALIVE2_REQ`); the
/// registration lasts as long as the returned stream is open.
fn register(port: u16, name: &str, dist_port: u16) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut body = vec![120u8];
    body.extend_from_slice(&dist_port.to_be_bytes());
    body.push(77); // normal node
    body.push(0); // tcp/ipv4
    body.extend_from_slice(&6u16.to_be_bytes());
    body.extend_from_slice(&5u16.to_be_bytes());
    body.extend_from_slice(&(name.len() as u16).to_be_bytes());
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(&0u16.to_be_bytes());
    let mut req = (body.len() as u16).to_be_bytes().to_vec();
    req.extend_from_slice(&body);
    s.write_all(&req).unwrap();
    let mut head = [0u8; 2];
    s.read_exact(&mut head).unwrap();
    assert!(head[0] == 121 || head[0] == 118, "unexpected ALIVE2 reply {head:?}");
    assert_eq!(head[1], 0, "epmd refused the registration of {name}");
    s
}

#[test]
fn real_epmd_lists_registered_names() {
    let Some(e) = start_epmd() else { return };
    let t = Duration::from_secs(5);
    assert!(epmd::names("127.0.0.1", e.port, t, 100).unwrap().entries.is_empty());
    let _a = register(e.port, "alpha", 40101);
    let b = register(e.port, "beta_2", 40102);
    let mut names = epmd::names("127.0.0.1", e.port, t, 100).unwrap().entries;
    names.sort_by(|x, y| x.name.cmp(&y.name));
    let got: Vec<(&str, u16)> = names.iter().map(|n| (n.name.as_str(), n.port)).collect();
    assert_eq!(got, vec![("alpha", 40101), ("beta_2", 40102)]);
    // Closing the registration connection unregisters, as when a node dies.
    drop(b);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let n = epmd::names("localhost", e.port, t, 100).unwrap().entries;
        if n.len() == 1 {
            assert_eq!(n[0].name, "alpha");
            break;
        }
        assert!(Instant::now() < deadline, "beta_2 still registered: {n:?}");
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn refused_when_nothing_listens() {
    // Port 1 (tcpmux) has no listener on any machine this runs on; a port
    // freed by another test could be taken again by a parallel one.
    let r = epmd::names("127.0.0.1", 1, Duration::from_secs(2), 10);
    assert_eq!(r, Err(EpmdError::ConnRefused));
}

/// A responder that runs `f` on the first accepted connection.
fn responder(f: impl FnOnce(TcpStream) + Send + 'static) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    thread::spawn(move || {
        if let Ok((s, _)) = l.accept() {
            f(s)
        }
    });
    addr
}

#[test]
fn silent_epmd_times_out_on_deadline() {
    let addr = responder(|s| {
        thread::sleep(Duration::from_secs(3));
        drop(s)
    });
    let start = Instant::now();
    let r = epmd::names_at(addr, Duration::from_millis(300), 10);
    assert_eq!(r, Err(EpmdError::Timeout));
    assert!(start.elapsed() < Duration::from_secs(2), "deadline not kept: {:?}", start.elapsed());
}

#[test]
fn trickling_epmd_cannot_extend_the_deadline() {
    // One byte every 50 ms: each read succeeds, but the whole exchange must
    // still end at the deadline.
    let addr = responder(|mut s| {
        for _ in 0..100 {
            if s.write_all(b"x").is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(50));
        }
    });
    let start = Instant::now();
    let r = epmd::names_at(addr, Duration::from_millis(400), 10);
    assert_eq!(r, Err(EpmdError::Timeout));
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[test]
fn endless_epmd_is_cut_at_the_byte_bound() {
    let addr = responder(|mut s| {
        let chunk = b"name aaaaaaaa at port 1\n".repeat(100);
        let _ = s.write_all(&[0, 0, 0x11, 0x11]);
        while s.write_all(&chunk).is_ok() {}
    });
    let r = epmd::names_at(addr, Duration::from_secs(5), 1_000_000);
    assert_eq!(r, Err(EpmdError::TooLarge));
}

#[test]
fn garbage_epmd_is_a_bad_response() {
    let addr = responder(|mut s| {
        // Read the request first, so closing does not reset the connection.
        let mut req = [0u8; 3];
        let _ = s.read_exact(&mut req);
        let _ = s.write_all(b"\x00\x00\x11\x11HTTP/1.1 200 OK\r\n\r\n");
    });
    assert_eq!(epmd::names_at(addr, Duration::from_secs(2), 10), Err(EpmdError::BadResponse));
}
