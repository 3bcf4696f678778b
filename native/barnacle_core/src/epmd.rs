//! A client for EPMD's `NAMES_REQ`: which node names are registered on a host.
//!
//! Wire format (ERTS "Distribution Protocol", EPMD section): the request is a
//! two-byte big-endian length followed by the byte `110`; the reply is the
//! four-byte port EPMD listens on, then text lines `name <Name> at port
//! <Port>\n`, and EPMD closes the connection. Every step runs under one
//! deadline, and the reply is read up to a byte bound: a slow, silent or
//! hostile EPMD costs at most the timeout and a bounded buffer.

use crate::name::{validate_basename, NameError};
use std::fmt;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// EPMD's well-known port.
pub const DEFAULT_PORT: u16 = 4369;
/// Largest reply read, in bytes (about 2,000 typical lines).
pub const MAX_REPLY_BYTES: usize = 128 * 1024;
const NAMES_REQ: u8 = 110;

/// One name registered with EPMD and the distribution port it listens on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The node's basename (the part before `@`).
    pub name: String,
    /// The node's distribution port.
    pub port: u16,
}

/// A decoded `NAMES_REQ` reply.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Names {
    /// The valid entries, in EPMD's order.
    pub entries: Vec<Entry>,
    /// Lines that were well formed but named an invalid basename; skipped.
    pub rejected: usize,
}

/// Why asking an EPMD failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EpmdError {
    /// The deadline passed before the reply was complete.
    Timeout,
    /// Nothing listens on that host and port.
    ConnRefused,
    /// No route to the host.
    HostUnreachable,
    /// The host name did not resolve.
    NxDomain,
    /// The reply is not what EPMD sends.
    BadResponse,
    /// The reply is larger than [`MAX_REPLY_BYTES`] or lists more than the allowed names.
    TooLarge,
    /// Another I/O error, by its kind.
    Io(ErrorKind),
}

impl EpmdError {
    /// A short lowercase identifier, used as the Erlang error atom.
    pub fn as_str(&self) -> &'static str {
        match self {
            EpmdError::Timeout => "timeout",
            EpmdError::ConnRefused => "econnrefused",
            EpmdError::HostUnreachable => "ehostunreach",
            EpmdError::NxDomain => "nxdomain",
            EpmdError::BadResponse => "bad_response",
            EpmdError::TooLarge => "too_large",
            EpmdError::Io(ErrorKind::ConnectionReset) => "econnreset",
            EpmdError::Io(ErrorKind::NetworkUnreachable) => "enetunreach",
            EpmdError::Io(ErrorKind::AddrNotAvailable) => "eaddrnotavail",
            EpmdError::Io(_) => "io_error",
        }
    }
}

impl fmt::Display for EpmdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for EpmdError {}

impl From<std::io::Error> for EpmdError {
    fn from(e: std::io::Error) -> Self {
        match e.kind() {
            ErrorKind::TimedOut | ErrorKind::WouldBlock => EpmdError::Timeout,
            ErrorKind::ConnectionRefused => EpmdError::ConnRefused,
            ErrorKind::HostUnreachable => EpmdError::HostUnreachable,
            k => EpmdError::Io(k),
        }
    }
}

/// Encodes a `NAMES_REQ`.
pub fn names_request() -> [u8; 3] {
    [0, 1, NAMES_REQ]
}

/// Decodes a complete `NAMES_REQ` reply. At most `max_names` entries are
/// accepted; more is [`EpmdError::TooLarge`].
pub fn decode_names(reply: &[u8], max_names: usize) -> Result<Names, EpmdError> {
    if reply.len() < 4 {
        return Err(EpmdError::BadResponse);
    }
    if reply.len() > MAX_REPLY_BYTES {
        return Err(EpmdError::TooLarge);
    }
    let body = std::str::from_utf8(&reply[4..]).map_err(|_| EpmdError::BadResponse)?;
    if !body.is_empty() && !body.ends_with('\n') {
        // EPMD ends every line; a cut line means a cut reply.
        return Err(EpmdError::BadResponse);
    }
    let mut names = Names::default();
    for line in body.lines() {
        let rest = line.strip_prefix("name ").ok_or(EpmdError::BadResponse)?;
        let (name, port) = rest
            .rsplit_once(" at port ")
            .ok_or(EpmdError::BadResponse)?;
        let port: u16 = port.parse().map_err(|_| EpmdError::BadResponse)?;
        match validate_basename(name) {
            Ok(()) => {
                if names.entries.len() == max_names {
                    return Err(EpmdError::TooLarge);
                }
                names.entries.push(Entry { name: name.to_owned(), port });
            }
            Err(NameError::EmptyBasename) => return Err(EpmdError::BadResponse),
            Err(_) => names.rejected += 1,
        }
    }
    Ok(names)
}

fn remaining(deadline: Instant) -> Result<Duration, EpmdError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(EpmdError::Timeout)
    } else {
        Ok(left)
    }
}

/// Resolves `host` to socket addresses within `timeout`. IP literals need no
/// lookup; names go through the system resolver on a helper thread so that
/// the caller's deadline holds even when the resolver hangs.
pub fn resolve(host: &str, port: u16, timeout: Duration) -> Result<Vec<SocketAddr>, EpmdError> {
    let literal = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = literal.parse::<std::net::IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    if crate::name::validate_host_name(host.strip_suffix('.').unwrap_or(host)).is_err() {
        return Err(EpmdError::NxDomain);
    }
    let (tx, rx) = mpsc::channel();
    let target = (host.to_owned(), port);
    std::thread::Builder::new()
        .name("barnacle-resolve".into())
        .spawn(move || {
            let r = target.to_socket_addrs().map(|it| it.collect::<Vec<_>>());
            let _ = tx.send(r);
        })
        .map_err(EpmdError::from)?;
    match rx.recv_timeout(timeout) {
        Ok(Ok(addrs)) if !addrs.is_empty() => Ok(addrs),
        Ok(_) => Err(EpmdError::NxDomain),
        Err(_) => Err(EpmdError::Timeout),
    }
}

/// Asks the EPMD at `addr` for its names, all within `timeout`.
pub fn names_at(addr: SocketAddr, timeout: Duration, max_names: usize) -> Result<Names, EpmdError> {
    let deadline = Instant::now() + timeout;
    let mut stream = TcpStream::connect_timeout(&addr, remaining(deadline)?)?;
    stream.set_nodelay(true)?;
    stream.set_write_timeout(Some(remaining(deadline)?))?;
    stream.write_all(&names_request())?;
    let mut reply = Vec::with_capacity(256);
    let mut buf = [0u8; 4096];
    loop {
        stream.set_read_timeout(Some(remaining(deadline)?))?;
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if reply.len() + n > MAX_REPLY_BYTES {
                    return Err(EpmdError::TooLarge);
                }
                reply.extend_from_slice(&buf[..n]);
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        }
    }
    decode_names(&reply, max_names)
}

/// Asks the EPMD on `host` (an IP literal or a host name) and `port`: the
/// lookup, the connection and the reply share one `timeout`. Every address
/// the host resolves to is tried in turn until one answers.
pub fn names(host: &str, port: u16, timeout: Duration, max_names: usize) -> Result<Names, EpmdError> {
    let deadline = Instant::now() + timeout;
    let addrs = resolve(host, port, timeout)?;
    let mut last = EpmdError::NxDomain;
    for addr in addrs {
        let left = remaining(deadline)?;
        match names_at(addr, left, max_names) {
            Ok(n) => return Ok(n),
            Err(e @ (EpmdError::BadResponse | EpmdError::TooLarge)) => return Err(e),
            Err(e) => last = e,
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(lines: &str) -> Vec<u8> {
        let mut v = vec![0, 0, 0x11, 0x11];
        v.extend_from_slice(lines.as_bytes());
        v
    }

    #[test]
    fn decodes_names() {
        let r = reply("name a1 at port 40001\nname b_2 at port 1\n");
        let n = decode_names(&r, 10).unwrap();
        assert_eq!(
            n.entries,
            vec![
                Entry { name: "a1".into(), port: 40001 },
                Entry { name: "b_2".into(), port: 1 }
            ]
        );
        assert_eq!(n.rejected, 0);
        assert_eq!(decode_names(&reply(""), 10).unwrap(), Names::default());
    }

    #[test]
    fn rejects_truncated_and_malformed_replies() {
        assert_eq!(decode_names(&[], 10), Err(EpmdError::BadResponse));
        assert_eq!(decode_names(&[0, 0, 1], 10), Err(EpmdError::BadResponse));
        let cut = reply("name a1 at port 40001\nname b at po");
        assert_eq!(decode_names(&cut, 10), Err(EpmdError::BadResponse));
        let junk = reply("hello world\n");
        assert_eq!(decode_names(&junk, 10), Err(EpmdError::BadResponse));
        let bad_port = reply("name a at port 99999\n");
        assert_eq!(decode_names(&bad_port, 10), Err(EpmdError::BadResponse));
        let no_name = reply("name  at port 5\n");
        assert_eq!(decode_names(&no_name, 10), Err(EpmdError::BadResponse));
        let mut not_utf8 = reply("name ");
        not_utf8.extend_from_slice(&[0xff, 0xfe]);
        not_utf8.extend_from_slice(b" at port 5\n");
        assert_eq!(decode_names(&not_utf8, 10), Err(EpmdError::BadResponse));
    }

    #[test]
    fn skips_invalid_names_and_bounds_count() {
        let r = reply("name ok at port 1\nname b@d at port 2\nname ../x y at port 3\n");
        let n = decode_names(&r, 10).unwrap();
        assert_eq!(n.entries.len(), 1);
        assert_eq!(n.rejected, 2);
        let many: String = (0..20).map(|i| format!("name n{i} at port {i}\n")).collect();
        assert_eq!(decode_names(&reply(&many), 19), Err(EpmdError::TooLarge));
        assert_eq!(decode_names(&reply(&many), 20).unwrap().entries.len(), 20);
        let huge = vec![b'a'; MAX_REPLY_BYTES + 1];
        assert_eq!(decode_names(&huge, 10), Err(EpmdError::TooLarge));
    }

    #[test]
    fn rejects_unresolvable_and_invalid_hosts() {
        let t = Duration::from_millis(500);
        assert_eq!(names("bad host!", 1, t, 10), Err(EpmdError::NxDomain));
        assert_eq!(names("", 1, t, 10), Err(EpmdError::NxDomain));
    }
}
