#![no_main]
//! Any bytes fed to the gossip decoder give an announcement or a typed
//! rejection, never a panic, with and without a key.

use barnacle_core::gossip::{decode, Key, ReplayCache};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = Key::derive(b"fuzz secret");
    let mut replay = ReplayCache::new(64);
    let now = 1_800_000_000_000;
    let _ = decode(data, Some(&key), now, 30_000, &mut replay);
    let _ = decode(data, None, now, 30_000, &mut replay);
});
