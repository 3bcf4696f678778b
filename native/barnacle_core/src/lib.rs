//! Barnacle's native core: everything the NIFs do, in plain Rust with no
//! BEAM types, so that `cargo test` reaches all of it.
//!
//! - [`name`]: node-name parsing, validation and canonical writing;
//! - [`epmd`]: the EPMD `NAMES_REQ` client, under a deadline;
//! - [`diff`]: the membership diff and its ownership rules;
//! - [`dns`]: A/AAAA and SRV discovery through hickory-resolver;
//! - [`k8s`]: pods and EndpointSlices from the Kubernetes API;
//! - [`gossip`]: the authenticated gossip announcement codec.

#![deny(missing_docs)]

pub mod diff;
pub mod dns;
pub mod epmd;
pub mod gossip;
pub mod k8s;
pub mod name;
