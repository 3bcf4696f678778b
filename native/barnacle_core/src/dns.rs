//! DNS discovery through hickory-resolver: A and AAAA (queried together)
//! and SRV, under one deadline for the whole lookup.
//!
//! One Tokio runtime serves every lookup, and one resolver is kept per
//! configuration (the system's, or a list of explicit nameservers), so its
//! connections and cache are shared between calls. Callers block on a
//! lookup from their own thread (a dirty IO scheduler): the runtime's
//! workers do the I/O.
//!
//! What users rely on:
//! - with both families, a name with only A (or only AAAA) records is a
//!   success; only both failing is an error;
//! - a lookup that fails or finds nothing is an error, never "no nodes";
//! - answers are bounded by `max_records`; SRV targets that are not valid
//!   host names are dropped and counted.

use crate::name::validate_host_name;
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError as HDnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::TokioResolver;
use once_cell::sync::Lazy;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Most resolvers kept at once (one per distinct nameserver list).
const MAX_RESOLVERS: usize = 64;

/// Which address families an address lookup asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Families {
    /// A records only.
    Inet,
    /// AAAA records only.
    Inet6,
    /// A and AAAA, queried concurrently.
    Both,
}

/// What to look up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Addresses (A and/or AAAA).
    Addr(Families),
    /// SRV records.
    Srv,
}

/// One DNS lookup.
#[derive(Debug, Clone)]
pub struct Query {
    /// The name to look up. Names with fewer dots than `ndots` go through
    /// the system's search domains when the system configuration is used.
    pub name: String,
    /// Addresses or SRV.
    pub kind: Kind,
    /// Explicit nameservers; empty means the system configuration.
    pub nameservers: Vec<SocketAddr>,
    /// Deadline for the whole lookup.
    pub timeout: Duration,
    /// Most records returned.
    pub max_records: usize,
}

/// An SRV record with its target host (trailing dot removed, lowercase).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Srv {
    /// Priority (lower first).
    pub priority: u16,
    /// Weight among equal priorities.
    pub weight: u16,
    /// Port.
    pub port: u16,
    /// Target host name.
    pub target: String,
}

/// A successful lookup.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answer {
    /// Addresses, in answer order, distinct (address lookups).
    pub addrs: Vec<IpAddr>,
    /// SRV records with valid targets (SRV lookups).
    pub srv: Vec<Srv>,
    /// Records left out because of `max_records`.
    pub truncated: usize,
    /// SRV records dropped because their target is not a valid host name.
    pub rejected: usize,
}

/// Why a lookup failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsError {
    /// The name does not exist.
    NxDomain,
    /// The name exists but has no records of the asked type(s).
    NoRecords,
    /// The deadline passed.
    Timeout,
    /// The server answered SERVFAIL.
    ServFail,
    /// The server refused the query.
    Refused,
    /// The query name is not a valid domain name.
    BadName,
    /// The answer could not be decoded or had an unexpected response code.
    BadResponse,
    /// No nameserver could be reached.
    Unreachable,
    /// The system resolver configuration could not be read.
    NoConfig,
    /// Any other resolver failure.
    Other,
}

impl DnsError {
    /// A short lowercase identifier, used as the Erlang error atom.
    pub fn as_str(self) -> &'static str {
        match self {
            DnsError::NxDomain => "nxdomain",
            DnsError::NoRecords => "no_records",
            DnsError::Timeout => "timeout",
            DnsError::ServFail => "servfail",
            DnsError::Refused => "refused",
            DnsError::BadName => "bad_name",
            DnsError::BadResponse => "bad_response",
            DnsError::Unreachable => "unreachable",
            DnsError::NoConfig => "no_config",
            DnsError::Other => "resolver_error",
        }
    }

    /// Which error to report when both address families failed: the one
    /// that says most about the service (transport problems first, then
    /// NXDOMAIN, then "no records").
    fn rank(self) -> u8 {
        match self {
            DnsError::NoRecords => 0,
            DnsError::NxDomain => 1,
            DnsError::BadName | DnsError::NoConfig => 2,
            DnsError::BadResponse | DnsError::Other => 3,
            DnsError::Refused | DnsError::ServFail => 4,
            DnsError::Unreachable | DnsError::Timeout => 5,
        }
    }
}

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for DnsError {}

fn map_error(e: &NetError) -> DnsError {
    match e {
        NetError::Timeout => DnsError::Timeout,
        NetError::Dns(HDnsError::NoRecordsFound(nr)) => {
            if nr.response_code == ResponseCode::NXDomain {
                DnsError::NxDomain
            } else {
                DnsError::NoRecords
            }
        }
        NetError::Dns(HDnsError::ResponseCode(ResponseCode::Refused)) => DnsError::Refused,
        NetError::Dns(HDnsError::ResponseCode(ResponseCode::ServFail)) => DnsError::ServFail,
        NetError::Dns(_) => DnsError::BadResponse,
        NetError::Proto(_) => DnsError::BadResponse,
        NetError::NoConnections | NetError::Io(_) => DnsError::Unreachable,
        _ if e.is_connection_closed() => DnsError::Unreachable,
        _ => DnsError::Other,
    }
}

static RUNTIME: Lazy<Result<tokio::runtime::Runtime, String>> = Lazy::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("barnacle-dns")
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
});

static RESOLVERS: Lazy<Mutex<HashMap<Vec<SocketAddr>, Arc<TokioResolver>>>> =
    Lazy::new(|| Mutex::new(HashMap::new()));

fn tune(opts: &mut ResolverOpts) {
    // The caller's deadline bounds the whole lookup; inside it a lost UDP
    // datagram is retried once.
    opts.attempts = 2;
    opts.timeout = Duration::from_secs(2);
    // Membership changes must be seen at the next pass: cap how long
    // answers are cached, whatever TTL the zone gives.
    opts.positive_max_ttl = Some(Duration::from_secs(5));
    opts.negative_max_ttl = Some(Duration::from_secs(1));
    opts.cache_size = 256;
}

fn resolver(
    rt: &tokio::runtime::Runtime,
    nameservers: &[SocketAddr],
) -> Result<Arc<TokioResolver>, DnsError> {
    if let Some(r) = RESOLVERS.lock().get(nameservers) {
        return Ok(r.clone());
    }
    let _guard = rt.enter();
    let provider = TokioRuntimeProvider::default();
    let builder = if nameservers.is_empty() {
        TokioResolver::builder(provider).map_err(|_| DnsError::NoConfig)?
    } else {
        let mut config = ResolverConfig::from_name_servers(vec![]);
        for ns in nameservers {
            let mut server = NameServerConfig::udp_and_tcp(ns.ip());
            for c in server.connections.iter_mut() {
                c.port = ns.port();
            }
            config.add_name_server(server);
        }
        TokioResolver::builder_with_config(config, provider)
    };
    let mut builder = builder;
    tune(builder.options_mut());
    let resolver = Arc::new(builder.build().map_err(|_| DnsError::NoConfig)?);
    let mut all = RESOLVERS.lock();
    if all.len() >= MAX_RESOLVERS {
        // Configurations are few in practice; forget them all rather than
        // grow without bound.
        all.clear();
    }
    all.insert(nameservers.to_vec(), resolver.clone());
    Ok(resolver)
}

/// Performs a lookup, blocking the calling thread at most `query.timeout`.
pub fn lookup(query: &Query) -> Result<Answer, DnsError> {
    if query.name.is_empty()
        || query.name.len() > 253 + 1
        || validate_host_name(query.name.strip_suffix('.').unwrap_or(&query.name)).is_err()
            && !query.name.starts_with('_')
    {
        return Err(DnsError::BadName);
    }
    let rt = RUNTIME.as_ref().map_err(|_| DnsError::Other)?;
    let resolver = resolver(rt, &query.nameservers)?;
    let name = query.name.clone();
    let kind = query.kind;
    let work = async move {
        match kind {
            Kind::Addr(families) => addresses(&resolver, &name, families).await,
            Kind::Srv => srv(&resolver, &name).await,
        }
    };
    let answer = rt.block_on(async { tokio::time::timeout(query.timeout, work).await });
    let mut answer = answer.map_err(|_| DnsError::Timeout)??;
    bound(&mut answer, query.max_records);
    Ok(answer)
}

fn bound(answer: &mut Answer, max: usize) {
    if answer.addrs.len() > max {
        answer.truncated += answer.addrs.len() - max;
        answer.addrs.truncate(max);
    }
    if answer.srv.len() > max {
        answer.truncated += answer.srv.len() - max;
        answer.srv.truncate(max);
    }
}

async fn one_family(r: &TokioResolver, name: &str, t: RecordType) -> Result<Vec<IpAddr>, DnsError> {
    let lookup = r.lookup(name, t).await.map_err(|e| map_error(&e))?;
    Ok(lookup
        .answers()
        .iter()
        .filter_map(|rec| match &rec.data {
            RData::A(a) if t == RecordType::A => Some(IpAddr::V4(a.0)),
            RData::AAAA(a) if t == RecordType::AAAA => Some(IpAddr::V6(a.0)),
            _ => None,
        })
        .collect())
}

async fn addresses(r: &TokioResolver, name: &str, families: Families) -> Result<Answer, DnsError> {
    let (v4, v6) = match families {
        Families::Inet => (one_family(r, name, RecordType::A).await, Ok(vec![])),
        Families::Inet6 => (Ok(vec![]), one_family(r, name, RecordType::AAAA).await),
        Families::Both => tokio::join!(
            one_family(r, name, RecordType::A),
            one_family(r, name, RecordType::AAAA)
        ),
    };
    let addrs = match (v4, v6) {
        (Ok(a), Ok(b)) => [a, b].concat(),
        // One family empty or failing is fine when the other answered.
        (Ok(a), Err(_)) if !a.is_empty() => a,
        (Err(_), Ok(b)) if !b.is_empty() => b,
        (Ok(_), Err(e)) | (Err(e), Ok(_)) => return Err(e),
        (Err(a), Err(b)) => return Err(if a.rank() >= b.rank() { a } else { b }),
    };
    let mut seen = std::collections::HashSet::new();
    let addrs: Vec<IpAddr> = addrs.into_iter().filter(|a| seen.insert(*a)).collect();
    if addrs.is_empty() {
        return Err(DnsError::NoRecords);
    }
    Ok(Answer { addrs, ..Default::default() })
}

async fn srv(r: &TokioResolver, name: &str) -> Result<Answer, DnsError> {
    let lookup = r.lookup(name, RecordType::SRV).await.map_err(|e| map_error(&e))?;
    let mut answer = Answer::default();
    for rec in lookup.answers() {
        if let RData::SRV(s) = &rec.data {
            let target = s.target.to_ascii().to_ascii_lowercase();
            let target = target.strip_suffix('.').unwrap_or(&target).to_owned();
            if validate_host_name(&target).is_ok() {
                answer.srv.push(Srv {
                    priority: s.priority,
                    weight: s.weight,
                    port: s.port,
                    target,
                });
            } else {
                answer.rejected += 1;
            }
        }
    }
    if answer.srv.is_empty() && answer.rejected == 0 {
        return Err(DnsError::NoRecords);
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_failing_reports_the_most_telling_error() {
        assert!(DnsError::Timeout.rank() > DnsError::NxDomain.rank());
        assert!(DnsError::NxDomain.rank() > DnsError::NoRecords.rank());
    }

    #[test]
    fn rejects_bad_query_names() {
        let q = |name: &str| Query {
            name: name.into(),
            kind: Kind::Addr(Families::Both),
            nameservers: vec!["127.0.0.1:9".parse().unwrap()],
            timeout: Duration::from_millis(200),
            max_records: 10,
        };
        assert_eq!(lookup(&q("")), Err(DnsError::BadName));
        assert_eq!(lookup(&q("bad name")), Err(DnsError::BadName));
        assert_eq!(lookup(&q(&"a".repeat(300))), Err(DnsError::BadName));
    }

    #[test]
    fn bounds_answers() {
        let mut a = Answer {
            addrs: (0..10u8).map(|i| IpAddr::from([10, 0, 0, i])).collect(),
            ..Default::default()
        };
        bound(&mut a, 3);
        assert_eq!(a.addrs.len(), 3);
        assert_eq!(a.truncated, 7);
    }
}
