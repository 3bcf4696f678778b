//! The gossip announcement codec: what a node multicasts to say "I am here".
//!
//! Wire format, version 1 (all integers big-endian):
//!
//! ```text
//! magic "BNCL" (4) | version (1) | flags (1) | cluster tag (8)
//! | timestamp ms (8) | nonce (16) | name length (1) | name (1..=255)
//! | HMAC-SHA256 over everything before it (32, only when flags & 1)
//! ```
//!
//! With a secret, the key is HMAC-SHA256(secret, "barnacle gossip key v1")
//! and the cluster tag the first 8 bytes of HMAC-SHA256(key, "barnacle
//! cluster tag v1"): groups with different secrets on one address and port
//! tell each other's packets apart by the tag before any MAC is computed.
//! A packet is accepted only with a valid MAC, a timestamp inside the
//! window, a nonce not seen within the window, and a valid node name. The
//! Erlang cookie is never part of a packet.
//!
//! Without a secret, packets carry flags 0 and a zero tag; names are still
//! validated. Every rejection is typed, so it can be counted.

use crate::name::canonical;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::{HashSet, VecDeque};

type HmacSha256 = Hmac<Sha256>;

/// Protocol version written and accepted.
pub const VERSION: u8 = 1;
const MAGIC: &[u8; 4] = b"BNCL";
const HEADER: usize = 4 + 1 + 1 + 8 + 8 + 16 + 1;
const MAC_LEN: usize = 32;
/// Largest packet accepted.
pub const MAX_PACKET: usize = HEADER + 255 + MAC_LEN;
const FLAG_AUTH: u8 = 1;

/// A key derived from the user's secret.
#[derive(Clone)]
pub struct Key {
    key: [u8; 32],
    tag: [u8; 8],
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.write_str("Key(..)")
    }
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    m.update(data);
    m.finalize().into_bytes().into()
}

impl Key {
    /// Derives the packet key and cluster tag from a secret.
    pub fn derive(secret: &[u8]) -> Key {
        let key = hmac(secret, b"barnacle gossip key v1");
        let full_tag = hmac(&key, b"barnacle cluster tag v1");
        let mut tag = [0u8; 8];
        tag.copy_from_slice(&full_tag[..8]);
        Key { key, tag }
    }
}

/// A verified announcement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    /// The sender's node name, canonical.
    pub name: String,
    /// The sender's timestamp (ms since the Unix epoch).
    pub timestamp: u64,
}

/// Why a packet was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reject {
    /// Shorter than a header.
    TooShort,
    /// Longer than the largest valid packet.
    TooLong,
    /// Not a barnacle packet.
    BadMagic,
    /// Another protocol version.
    BadVersion,
    /// Another group's tag (another secret, or none where one is needed).
    WrongCluster,
    /// The declared name length does not match the packet.
    BadLength,
    /// Unauthenticated while a secret is configured.
    Unauthenticated,
    /// The MAC does not verify.
    BadMac,
    /// Timestamp ahead of the clock by more than the window.
    Future,
    /// Timestamp older than the window.
    Expired,
    /// Nonce already seen within the window.
    Replayed,
    /// The name is not a valid node name.
    BadName,
}

impl Reject {
    /// A short lowercase identifier, used as the Erlang atom and counter key.
    pub fn as_str(self) -> &'static str {
        match self {
            Reject::TooShort => "too_short",
            Reject::TooLong => "too_long",
            Reject::BadMagic => "bad_magic",
            Reject::BadVersion => "bad_version",
            Reject::WrongCluster => "wrong_cluster",
            Reject::BadLength => "bad_length",
            Reject::Unauthenticated => "unauthenticated",
            Reject::BadMac => "bad_mac",
            Reject::Future => "future",
            Reject::Expired => "expired",
            Reject::Replayed => "replayed",
            Reject::BadName => "bad_name",
        }
    }
}

/// Encodes an announcement of `name` (which must be a valid node name).
pub fn encode(name: &str, key: Option<&Key>, timestamp: u64, nonce: [u8; 16]) -> Option<Vec<u8>> {
    let name = canonical(name).ok()?;
    let mut p = Vec::with_capacity(HEADER + name.len() + MAC_LEN);
    p.extend_from_slice(MAGIC);
    p.push(VERSION);
    p.push(if key.is_some() { FLAG_AUTH } else { 0 });
    p.extend_from_slice(&key.map(|k| k.tag).unwrap_or([0; 8]));
    p.extend_from_slice(&timestamp.to_be_bytes());
    p.extend_from_slice(&nonce);
    p.push(name.len() as u8);
    p.extend_from_slice(name.as_bytes());
    if let Some(k) = key {
        let mac = hmac(&k.key, &p);
        p.extend_from_slice(&mac);
    }
    Some(p)
}

/// Nonces seen within the window, bounded in count.
#[derive(Debug)]
pub struct ReplayCache {
    seen: HashSet<[u8; 16]>,
    order: VecDeque<(u64, [u8; 16])>,
    capacity: usize,
}

impl ReplayCache {
    /// A cache that remembers at most `capacity` nonces.
    pub fn new(capacity: usize) -> ReplayCache {
        ReplayCache { seen: HashSet::new(), order: VecDeque::new(), capacity: capacity.max(1) }
    }

    fn expire(&mut self, before: u64) {
        while let Some((ts, n)) = self.order.front().copied() {
            if ts >= before && self.order.len() < self.capacity {
                break;
            }
            self.order.pop_front();
            self.seen.remove(&n);
        }
    }

    /// Records a nonce; false if it was already there.
    fn insert(&mut self, nonce: [u8; 16], ts: u64, before: u64) -> bool {
        self.expire(before);
        if !self.seen.insert(nonce) {
            return false;
        }
        self.order.push_back((ts, nonce));
        true
    }

    /// How many nonces are remembered.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether no nonce is remembered.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

/// Decodes and verifies a packet. `now` and `window` are in ms; `replay`
/// is used only with a key.
pub fn decode(
    packet: &[u8],
    key: Option<&Key>,
    now: u64,
    window: u64,
    replay: &mut ReplayCache,
) -> Result<Announcement, Reject> {
    if packet.len() < HEADER {
        return Err(Reject::TooShort);
    }
    if packet.len() > MAX_PACKET {
        return Err(Reject::TooLong);
    }
    if &packet[..4] != MAGIC {
        return Err(Reject::BadMagic);
    }
    if packet[4] != VERSION {
        return Err(Reject::BadVersion);
    }
    let flags = packet[5];
    let tag = &packet[6..14];
    let want_tag = key.map(|k| k.tag).unwrap_or([0; 8]);
    if tag != want_tag {
        return Err(Reject::WrongCluster);
    }
    let authed = flags & FLAG_AUTH != 0;
    if key.is_some() && !authed {
        return Err(Reject::Unauthenticated);
    }
    let name_len = packet[HEADER - 1] as usize;
    let mac_len = if authed { MAC_LEN } else { 0 };
    if name_len == 0 || packet.len() != HEADER + name_len + mac_len {
        return Err(Reject::BadLength);
    }
    let body = &packet[..HEADER + name_len];
    if let (Some(k), true) = (key, authed) {
        let mut m = HmacSha256::new_from_slice(&k.key).expect("HMAC takes keys of any length");
        m.update(body);
        // Constant-time comparison.
        m.verify_slice(&packet[HEADER + name_len..]).map_err(|_| Reject::BadMac)?;
    }
    let mut ts_bytes = [0u8; 8];
    ts_bytes.copy_from_slice(&packet[14..22]);
    let timestamp = u64::from_be_bytes(ts_bytes);
    if key.is_some() {
        if timestamp > now.saturating_add(window) {
            return Err(Reject::Future);
        }
        if timestamp < now.saturating_sub(window) {
            return Err(Reject::Expired);
        }
        let mut nonce = [0u8; 16];
        nonce.copy_from_slice(&packet[22..38]);
        if !replay.insert(nonce, timestamp, now.saturating_sub(window)) {
            return Err(Reject::Replayed);
        }
    }
    let name = std::str::from_utf8(&packet[HEADER..HEADER + name_len]).map_err(|_| Reject::BadName)?;
    let name = canonical(name).map_err(|_| Reject::BadName)?;
    Ok(Announcement { name, timestamp })
}

/// 16 random bytes from the OS for a nonce.
pub fn nonce() -> [u8; 16] {
    let mut n = [0u8; 16];
    // getrandom only fails where the OS has no randomness source; a zero
    // nonce then still carries a fresh timestamp.
    let _ = getrandom::getrandom(&mut n);
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: u64 = 1_800_000_000_000;
    const W: u64 = 30_000;

    fn n(i: u8) -> [u8; 16] {
        [i; 16]
    }

    #[test]
    fn round_trip_with_and_without_secret() {
        let k = Key::derive(b"s3cret");
        let p = encode("app@10.0.0.1", Some(&k), NOW, n(1)).unwrap();
        let mut r = ReplayCache::new(100);
        let a = decode(&p, Some(&k), NOW, W, &mut r).unwrap();
        assert_eq!(a.name, "app@10.0.0.1");
        let open = encode("app@FD00::1", None, NOW, n(2)).unwrap();
        assert_eq!(decode(&open, None, NOW, W, &mut r).unwrap().name, "app@fd00::1");
    }

    #[test]
    fn rejections() {
        let k = Key::derive(b"s3cret");
        let other = Key::derive(b"other");
        let mut r = ReplayCache::new(100);
        let p = encode("app@h", Some(&k), NOW, n(3)).unwrap();
        assert_eq!(decode(&p, Some(&other), NOW, W, &mut r), Err(Reject::WrongCluster));
        let open = encode("app@h", None, NOW, n(4)).unwrap();
        assert_eq!(decode(&open, Some(&k), NOW, W, &mut r), Err(Reject::WrongCluster));
        let mut forged = p.clone();
        let last = forged.len() - 1;
        forged[last] ^= 1;
        assert_eq!(decode(&forged, Some(&k), NOW, W, &mut r), Err(Reject::BadMac));
        let mut renamed = p.clone();
        renamed[HEADER] = b'b';
        assert_eq!(decode(&renamed, Some(&k), NOW, W, &mut r), Err(Reject::BadMac));
        let future = encode("app@h", Some(&k), NOW + W + 1, n(5)).unwrap();
        assert_eq!(decode(&future, Some(&k), NOW, W, &mut r), Err(Reject::Future));
        let old = encode("app@h", Some(&k), NOW - W - 1, n(6)).unwrap();
        assert_eq!(decode(&old, Some(&k), NOW, W, &mut r), Err(Reject::Expired));
        assert!(decode(&p, Some(&k), NOW, W, &mut r).is_ok());
        assert_eq!(decode(&p, Some(&k), NOW, W, &mut r), Err(Reject::Replayed));
        assert_eq!(decode(&p[..10], Some(&k), NOW, W, &mut r), Err(Reject::TooShort));
        assert_eq!(decode(&[0u8; 600], Some(&k), NOW, W, &mut r), Err(Reject::TooLong));
        let mut v2 = p.clone();
        v2[4] = 2;
        assert_eq!(decode(&v2, Some(&k), NOW, W, &mut r), Err(Reject::BadVersion));
        assert_eq!(decode(b"XXXX0123456789012345678901234567890123456789", None, NOW, W, &mut r),
                   Err(Reject::BadMagic));
    }

    #[test]
    fn valid_mac_with_invalid_name_is_rejected() {
        // Build a packet by hand with a name encode() would refuse.
        let k = Key::derive(b"s3cret");
        let mut p = Vec::new();
        p.extend_from_slice(MAGIC);
        p.extend_from_slice(&[VERSION, FLAG_AUTH]);
        p.extend_from_slice(&k.tag);
        p.extend_from_slice(&NOW.to_be_bytes());
        p.extend_from_slice(&n(9));
        let name = b"not a node";
        p.push(name.len() as u8);
        p.extend_from_slice(name);
        let mac = hmac(&k.key, &p);
        p.extend_from_slice(&mac);
        let mut r = ReplayCache::new(10);
        assert_eq!(decode(&p, Some(&k), NOW, W, &mut r), Err(Reject::BadName));
    }

    #[test]
    fn replay_cache_is_bounded() {
        let k = Key::derive(b"s");
        let mut r = ReplayCache::new(50);
        for i in 0..200u32 {
            let mut nonce = [0u8; 16];
            nonce[..4].copy_from_slice(&i.to_be_bytes());
            let p = encode("app@h", Some(&k), NOW, nonce).unwrap();
            decode(&p, Some(&k), NOW, W, &mut r).unwrap();
            assert!(r.len() <= 50);
        }
    }

    #[test]
    fn key_debug_hides_material() {
        assert_eq!(format!("{:?}", Key::derive(b"top-secret")), "Key(..)");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn decoding_any_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..700)) {
            let k = Key::derive(b"k");
            let mut r = ReplayCache::new(16);
            let _ = decode(&bytes, Some(&k), NOW, W, &mut r);
            let _ = decode(&bytes, None, NOW, W, &mut r);
        }

        #[test]
        fn mutated_packets_never_verify_as_another_name(
            pos in 0usize..80, bit in 0u8..8, name in "[a-z]{1,10}@[a-z]{1,10}"
        ) {
            let k = Key::derive(b"k");
            let p = encode(&name, Some(&k), NOW, n(7)).unwrap();
            let mut m = p.clone();
            let i = pos % m.len();
            m[i] ^= 1 << bit;
            let mut r = ReplayCache::new(16);
            // A flipped bit anywhere is a typed rejection, never a different name.
            prop_assert!(decode(&m, Some(&k), NOW, W, &mut r).is_err());
        }

        #[test]
        fn valid_names_round_trip(name in "[a-z][a-z0-9_]{0,20}@[a-z]([a-z0-9-]{0,18}[a-z0-9])?") {
            let k = Key::derive(b"k");
            let p = encode(&name, Some(&k), NOW, n(8)).unwrap();
            let mut r = ReplayCache::new(16);
            prop_assert_eq!(decode(&p, Some(&k), NOW, W, &mut r).unwrap().name, name);
        }
    }
}
