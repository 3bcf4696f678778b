//! Node names as Distributed Erlang writes them: `basename@host`.
//!
//! Names reach barnacle from outside (DNS answers, EPMD replies, HTTP bodies,
//! UDP packets) and end up as atoms on the BEAM side, so every one of them is
//! parsed and validated here first. Hosts that are IP addresses are written
//! exactly as `inet:ntoa/1` writes them, so a name built from a DNS answer is
//! byte-for-byte the name the remote node registered under.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Longest node name accepted, in bytes: an atom holds at most 255 characters.
pub const MAX_NODE_NAME_LEN: usize = 255;
/// Longest basename (the part before `@`); EPMD's own limit on a name.
pub const MAX_BASENAME_LEN: usize = 200;
/// Longest host name (RFC 1035 limit without the trailing dot).
pub const MAX_HOST_LEN: usize = 253;
/// Longest single DNS label.
pub const MAX_LABEL_LEN: usize = 63;

/// Why a node name, basename or host was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameError {
    /// The name has no `@`, or more than one.
    NoAt,
    /// The basename is empty.
    EmptyBasename,
    /// The host part is empty.
    EmptyHost,
    /// The name, basename or host is longer than allowed.
    TooLong,
    /// The basename has a character Distributed Erlang does not accept.
    BadBasename,
    /// The host is neither an IP address nor a valid host name.
    BadHost,
}

impl NameError {
    /// A short lowercase identifier, used as the Erlang error atom.
    pub fn as_str(self) -> &'static str {
        match self {
            NameError::NoAt => "no_at",
            NameError::EmptyBasename => "empty_basename",
            NameError::EmptyHost => "empty_host",
            NameError::TooLong => "too_long",
            NameError::BadBasename => "bad_basename",
            NameError::BadHost => "bad_host",
        }
    }
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for NameError {}

/// The host part of a node name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// An IPv4 or IPv6 address.
    Ip(IpAddr),
    /// A host name (one or more DNS labels), kept as written minus a trailing dot.
    Name(String),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ip(ip) => f.write_str(&format_ip(*ip)),
            Host::Name(n) => f.write_str(n),
        }
    }
}

/// A validated node name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NodeName {
    basename: String,
    host: Host,
}

impl NodeName {
    /// Builds a node name from a basename and a host, validating both and the
    /// total length.
    pub fn new(basename: &str, host: Host) -> Result<NodeName, NameError> {
        validate_basename(basename)?;
        let name = NodeName { basename: basename.to_owned(), host };
        if name.to_string().len() > MAX_NODE_NAME_LEN {
            return Err(NameError::TooLong);
        }
        Ok(name)
    }

    /// Parses `basename@host`. IP hosts are accepted in any form the standard
    /// parsers take and written back canonically by `Display`.
    pub fn parse(text: &str) -> Result<NodeName, NameError> {
        if text.len() > MAX_NODE_NAME_LEN {
            return Err(NameError::TooLong);
        }
        let mut parts = text.split('@');
        let (base, host) = match (parts.next(), parts.next(), parts.next()) {
            (Some(b), Some(h), None) => (b, h),
            _ => return Err(NameError::NoAt),
        };
        NodeName::new(base, parse_host(host)?)
    }

    /// The part before `@`.
    pub fn basename(&self) -> &str {
        &self.basename
    }

    /// The part after `@`.
    pub fn host(&self) -> &Host {
        &self.host
    }
}

impl fmt::Display for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.basename, self.host)
    }
}

/// Checks a basename: 1 to 200 bytes of ASCII letters, digits, `_`, `-` and `.`.
pub fn validate_basename(base: &str) -> Result<(), NameError> {
    if base.is_empty() {
        return Err(NameError::EmptyBasename);
    }
    if base.len() > MAX_BASENAME_LEN {
        return Err(NameError::TooLong);
    }
    if base
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
    {
        Ok(())
    } else {
        Err(NameError::BadBasename)
    }
}

/// Parses a host: an IPv4 address, an IPv6 address (optionally in brackets),
/// or a host name of valid DNS labels. A trailing dot is dropped.
pub fn parse_host(host: &str) -> Result<Host, NameError> {
    if host.is_empty() {
        return Err(NameError::EmptyHost);
    }
    if host.len() > MAX_HOST_LEN + 1 {
        return Err(NameError::TooLong);
    }
    let unbracketed = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(v6) = unbracketed.parse::<Ipv6Addr>() {
        return Ok(Host::Ip(IpAddr::V6(v6)));
    }
    if let Ok(v4) = host.parse::<Ipv4Addr>() {
        return Ok(Host::Ip(IpAddr::V4(v4)));
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    validate_host_name(name)?;
    Ok(Host::Name(name.to_owned()))
}

/// Checks a host name: dot-separated labels of 1 to 63 letters, digits and
/// `-` (not at either end of a label), at most 253 bytes, not all digits and
/// dots (that would be a malformed IPv4 address).
pub fn validate_host_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::EmptyHost);
    }
    if name.len() > MAX_HOST_LEN {
        return Err(NameError::TooLong);
    }
    for label in name.split('.') {
        let bytes = label.as_bytes();
        let ok = !bytes.is_empty()
            && bytes.len() <= MAX_LABEL_LEN
            && bytes.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
            && bytes[0] != b'-'
            && bytes[bytes.len() - 1] != b'-';
        if !ok {
            return Err(NameError::BadHost);
        }
    }
    if name.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(NameError::BadHost);
    }
    Ok(())
}

/// Writes an address exactly as Erlang's `inet:ntoa/1` does.
///
/// IPv4 is the usual dotted quad. IPv6 is lowercase hex without leading
/// zeros, the first longest run of two or more zero groups written as `::`,
/// with Erlang's two special forms: `::ffff:a.b.c.d` for IPv4-mapped
/// addresses and `::a.b.c.d` for IPv4-compatible ones (except `::` and
/// `::1`). Rust's own `Display` differs on the latter, hence this function.
pub fn format_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format_ipv6(&v6),
    }
}

fn format_ipv6(addr: &Ipv6Addr) -> String {
    let s = addr.segments();
    let tail_v4 = || {
        let o = addr.octets();
        format!("{}.{}.{}.{}", o[12], o[13], o[14], o[15])
    };
    if s[..5] == [0; 5] && s[5] == 0xffff {
        return format!("::ffff:{}", tail_v4());
    }
    if s[..6] == [0; 6] && !(s[6] == 0 && (s[7] == 0 || s[7] == 1)) {
        return format!("::{}", tail_v4());
    }
    // Find the first longest run of zero groups, of length two or more.
    let (mut best_start, mut best_len) = (0usize, 0usize);
    let mut i = 0;
    while i < 8 {
        if s[i] == 0 {
            let start = i;
            while i < 8 && s[i] == 0 {
                i += 1;
            }
            if i - start > best_len {
                best_start = start;
                best_len = i - start;
            }
        } else {
            i += 1;
        }
    }
    let hex = |groups: &[u16]| {
        groups
            .iter()
            .map(|g| format!("{g:x}"))
            .collect::<Vec<_>>()
            .join(":")
    };
    if best_len < 2 {
        return hex(&s);
    }
    format!(
        "{}::{}",
        hex(&s[..best_start]),
        hex(&s[best_start + best_len..])
    )
}

/// Parses, validates and writes a node name canonically.
pub fn canonical(text: &str) -> Result<String, NameError> {
    NodeName::parse(text).map(|n| n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v6(s: &str) -> String {
        format_ip(IpAddr::V6(s.parse().unwrap()))
    }

    #[test]
    fn ipv6_matches_inet_ntoa() {
        // Expected strings were produced by inet:ntoa/1 on OTP 25.
        assert_eq!(v6("1:0:2:3:4:5:6:7"), "1:0:2:3:4:5:6:7");
        assert_eq!(v6("fd00:0:0:0:0:0:0:1"), "fd00::1");
        assert_eq!(v6("::1"), "::1");
        assert_eq!(v6("::"), "::");
        assert_eq!(v6("::ffff:1.2.3.4"), "::ffff:1.2.3.4");
        assert_eq!(v6("::1.2.3.4"), "::1.2.3.4");
        assert_eq!(v6("1:0:0:2:0:0:0:3"), "1:0:0:2::3");
        assert_eq!(v6("1:0:0:2:0:0:3:4"), "1::2:0:0:3:4");
        assert_eq!(v6("abcd::"), "abcd::");
        assert_eq!(v6("::5"), "::0.0.0.5");
        assert_eq!(v6("::1:0"), "::0.1.0.0");
        assert_eq!(v6("::1:0:0"), "::1:0:0");
        assert_eq!(v6("::ffff:0:0"), "::ffff:0.0.0.0");
        assert_eq!(v6("FD00:0000::00AB"), "fd00::ab");
    }

    #[test]
    fn parses_and_canonicalises_names() {
        assert_eq!(canonical("app@10.0.0.1").unwrap(), "app@10.0.0.1");
        assert_eq!(canonical("app@FD00:0::1").unwrap(), "app@fd00::1");
        assert_eq!(canonical("app@[fd00::1]").unwrap(), "app@fd00::1");
        assert_eq!(
            canonical("app@app-0.app.ns.svc.cluster.local.").unwrap(),
            "app@app-0.app.ns.svc.cluster.local"
        );
        assert_eq!(canonical("my_app-1.x@host").unwrap(), "my_app-1.x@host");
        let n = NodeName::parse("a@b").unwrap();
        assert_eq!(n.basename(), "a");
        assert_eq!(n.host(), &Host::Name("b".into()));
    }

    #[test]
    fn rejects_bad_names() {
        assert_eq!(canonical("nohost"), Err(NameError::NoAt));
        assert_eq!(canonical("a@b@c"), Err(NameError::NoAt));
        assert_eq!(canonical("@host"), Err(NameError::EmptyBasename));
        assert_eq!(canonical("app@"), Err(NameError::EmptyHost));
        assert_eq!(canonical("ap p@host"), Err(NameError::BadBasename));
        assert_eq!(canonical("app'@host"), Err(NameError::BadBasename));
        assert_eq!(canonical("äpp@host"), Err(NameError::BadBasename));
        assert_eq!(canonical("app@-host"), Err(NameError::BadHost));
        assert_eq!(canonical("app@host-"), Err(NameError::BadHost));
        assert_eq!(canonical("app@ho_st"), Err(NameError::BadHost));
        assert_eq!(canonical("app@a..b"), Err(NameError::BadHost));
        assert_eq!(canonical("app@999.1.1.1"), Err(NameError::BadHost));
        assert_eq!(canonical("app@1.2.3"), Err(NameError::BadHost));
        assert_eq!(canonical("app@fd00:::1"), Err(NameError::BadHost));
        assert_eq!(canonical("app@host\0"), Err(NameError::BadHost));
        assert_eq!(canonical("app@host\n"), Err(NameError::BadHost));
    }

    #[test]
    fn enforces_lengths() {
        let label = "a".repeat(63);
        assert!(canonical(&format!("app@{label}")).is_ok());
        assert_eq!(
            canonical(&format!("app@{}", "a".repeat(64))),
            Err(NameError::BadHost)
        );
        let base = "b".repeat(MAX_BASENAME_LEN);
        assert!(canonical(&format!("{base}@h")).is_ok());
        assert_eq!(
            canonical(&format!("{}@h", "b".repeat(MAX_BASENAME_LEN + 1))),
            Err(NameError::TooLong)
        );
        // A host of four 63-byte labels is 255 bytes: over the host limit.
        let long_host = [label.as_str(); 4].join(".");
        assert_eq!(canonical(&format!("a@{long_host}")), Err(NameError::TooLong));
        // Total over 255 even though each part is fine on its own.
        let host = [label.as_str(); 3].join(".");
        let name = format!("{}@{host}", "b".repeat(70));
        assert_eq!(canonical(&name), Err(NameError::TooLong));
        assert_eq!(canonical(&"x".repeat(10_000)), Err(NameError::TooLong));
    }

    #[test]
    fn new_validates_basename() {
        let host = Host::Ip("10.0.0.1".parse().unwrap());
        assert_eq!(NodeName::new("", host.clone()), Err(NameError::EmptyBasename));
        assert_eq!(
            NodeName::new("a b", host.clone()),
            Err(NameError::BadBasename)
        );
        assert_eq!(NodeName::new("a", host).unwrap().to_string(), "a@10.0.0.1");
    }
}
