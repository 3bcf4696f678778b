//! Rustler NIFs for the Erlang module `barnacle_native`.
//!
//! Conversions only: every function decodes its terms, calls into
//! `barnacle_core` and encodes the answer. Network calls run on dirty IO
//! schedulers, compute on dirty CPU schedulers, so no normal scheduler is
//! ever held. Rustler turns a panic into an Erlang exception
//! (`nif_panicked`), and nothing here should panic in the first place.

use barnacle_core::{diff, dns, epmd, gossip, k8s, name};
use rustler::ResourceArc;
use std::sync::Mutex;
use rustler::types::tuple::make_tuple;
use std::net::{IpAddr, SocketAddr};
use rustler::{Atom, Binary, Encoder, Env, NifMap, Term};
use std::time::Duration;

mod atoms {
    rustler::atoms! { ok, error, srv, inet, inet6, records, truncated, rejected, nodes,
        pods, endpointslices, ip, dns, hostname, http_status }
}

/// Upper bound on a timeout accepted from Erlang: one hour.
const MAX_TIMEOUT_MS: u64 = 3_600_000;

fn ok<'a, T: Encoder>(env: Env<'a>, value: T) -> Term<'a> {
    (atoms::ok(), value).encode(env)
}

fn error<'a>(env: Env<'a>, reason: &str) -> Term<'a> {
    // Reasons come from a fixed set of core identifiers, never from input.
    match Atom::from_str(env, reason) {
        Ok(a) => (atoms::error(), a).encode(env),
        Err(_) => (atoms::error(), atoms::error()).encode(env),
    }
}

fn lossy(bin: &Binary) -> String {
    String::from_utf8_lossy(bin.as_slice()).into_owned()
}

/// `epmd_names(Host, Port, TimeoutMs, MaxNames)`: the names registered with
/// the EPMD at `Host:Port`, as `{ok, {[{Name, Port}], Rejected}}` or
/// `{error, Reason}`.
#[rustler::nif(name = "epmd_names_nif", schedule = "DirtyIo")]
fn epmd_names<'a>(env: Env<'a>, host: Binary, port: u16, timeout_ms: u64, max_names: usize) -> Term<'a> {
    let host = lossy(&host);
    let timeout = Duration::from_millis(timeout_ms.min(MAX_TIMEOUT_MS));
    match epmd::names(&host, port, timeout, max_names) {
        Ok(names) => {
            let entries: Vec<(String, u16)> =
                names.entries.into_iter().map(|e| (e.name, e.port)).collect();
            ok(env, (entries, names.rejected))
        }
        Err(e) => error(env, e.as_str()),
    }
}

#[derive(NifMap)]
struct DiffIn<'a> {
    discovered: Vec<Binary<'a>>,
    connected: Vec<Binary<'a>>,
    owned: Vec<Binary<'a>>,
    self_name: Binary<'a>,
    prune: bool,
    max_nodes: usize,
}

#[derive(NifMap)]
struct DiffOut {
    wanted: Vec<String>,
    connect: Vec<String>,
    disconnect: Vec<String>,
    invalid: Vec<(String, Atom)>,
    invalid_count: usize,
    over_limit: usize,
}

/// `diff_nodes(#{discovered, connected, owned, self_name, prune, max_nodes})`:
/// what a pass connects and disconnects, as a map (see `barnacle_core::diff`).
#[rustler::nif(schedule = "DirtyCpu")]
fn diff_nodes<'a>(env: Env<'a>, input: DiffIn<'a>) -> Term<'a> {
    // Borrowed straight from the binaries when they are valid UTF-8.
    fn conv<'b>(v: &'b [Binary]) -> Vec<std::borrow::Cow<'b, str>> {
        v.iter().map(|b| String::from_utf8_lossy(b.as_slice())).collect()
    }
    let out = diff::diff(&diff::DiffInput {
        discovered: conv(&input.discovered),
        connected: conv(&input.connected),
        owned: conv(&input.owned),
        self_name: String::from_utf8_lossy(input.self_name.as_slice()),
        prune: input.prune,
        max_nodes: input.max_nodes,
    });
    let invalid = out
        .invalid
        .into_iter()
        .filter_map(|(n, e)| Atom::from_str(env, e.as_str()).ok().map(|a| (n, a)))
        .collect();
    DiffOut {
        wanted: out.wanted,
        connect: out.connect,
        disconnect: out.disconnect,
        invalid,
        invalid_count: out.invalid_count,
        over_limit: out.over_limit,
    }
    .encode(env)
}

/// `normalize_node_name(Name)`: `{ok, Canonical}` or `{error, Reason}`.
#[rustler::nif(schedule = "DirtyCpu")]
fn normalize_node_name<'a>(env: Env<'a>, text: Binary<'a>) -> Term<'a> {
    if text.len() > name::MAX_NODE_NAME_LEN {
        return error(env, name::NameError::TooLong.as_str());
    }
    match name::canonical(&lossy(&text)) {
        Ok(n) => ok(env, n),
        Err(e) => error(env, e.as_str()),
    }
}

#[derive(NifMap)]
struct DnsOpts<'a> {
    kind: Atom,
    families: Atom,
    nameservers: Vec<(Binary<'a>, u16)>,
    timeout: u64,
    max_records: usize,
}

fn encode_ip<'a>(env: Env<'a>, ip: &IpAddr) -> Term<'a> {
    match ip {
        IpAddr::V4(v4) => {
            let parts: Vec<Term> = v4.octets().iter().map(|o| o.encode(env)).collect();
            make_tuple(env, &parts)
        }
        IpAddr::V6(v6) => {
            let parts: Vec<Term> = v6.segments().iter().map(|s| s.encode(env)).collect();
            make_tuple(env, &parts)
        }
    }
}

/// `discover_dns(Name, #{kind, families, nameservers, timeout, max_records})`:
/// `{ok, #{records, truncated, rejected}}` where records are address tuples
/// (`kind => a`) or `{Priority, Weight, Port, Target}` (`kind => srv`), or
/// `{error, Reason}`.
#[rustler::nif(name = "discover_dns_nif", schedule = "DirtyIo")]
fn discover_dns<'a>(env: Env<'a>, name: Binary<'a>, opts: DnsOpts<'a>) -> Term<'a> {
    let kind = if opts.kind == atoms::srv() {
        dns::Kind::Srv
    } else if opts.families == atoms::inet() {
        dns::Kind::Addr(dns::Families::Inet)
    } else if opts.families == atoms::inet6() {
        dns::Kind::Addr(dns::Families::Inet6)
    } else {
        dns::Kind::Addr(dns::Families::Both)
    };
    let mut nameservers = Vec::with_capacity(opts.nameservers.len());
    for (ip, port) in &opts.nameservers {
        match lossy(ip).parse::<IpAddr>() {
            Ok(ip) => nameservers.push(SocketAddr::new(ip, *port)),
            Err(_) => return error(env, "bad_nameserver"),
        }
    }
    let query = dns::Query {
        name: lossy(&name),
        kind,
        nameservers,
        timeout: Duration::from_millis(opts.timeout.min(MAX_TIMEOUT_MS)),
        max_records: opts.max_records,
    };
    match dns::lookup(&query) {
        Ok(answer) => {
            let recs: Vec<Term> = match kind {
                dns::Kind::Srv => answer
                    .srv
                    .iter()
                    .map(|s| (s.priority, s.weight, s.port, s.target.as_str()).encode(env))
                    .collect(),
                dns::Kind::Addr(_) => answer.addrs.iter().map(|ip| encode_ip(env, ip)).collect(),
            };
            let map = Term::map_new(env)
                .map_put(atoms::records(), recs)
                .and_then(|m| m.map_put(atoms::truncated(), answer.truncated))
                .and_then(|m| m.map_put(atoms::rejected(), answer.rejected));
            match map {
                Ok(m) => ok(env, m),
                Err(_) => error(env, "encode"),
            }
        }
        Err(e) => error(env, e.as_str()),
    }
}

#[derive(NifMap)]
struct K8sOpts<'a> {
    api_server: Binary<'a>,
    token_path: Option<Binary<'a>>,
    ca_path: Option<Binary<'a>>,
    insecure_skip_tls_verify: bool,
    namespace: Binary<'a>,
    selector: Binary<'a>,
    service: Option<Binary<'a>>,
    source: Atom,
    mode: Atom,
    basename: Binary<'a>,
    cluster_domain: Binary<'a>,
    timeout: u64,
    max_nodes: usize,
}

/// `discover_kubernetes(Opts)`: `{ok, #{nodes, rejected, truncated}}` or
/// `{error, Reason}` / `{error, {http_status, Code}}`. The token is read
/// from `token_path` inside the call and never returned.
#[rustler::nif(name = "discover_kubernetes_nif", schedule = "DirtyIo")]
fn discover_kubernetes<'a>(env: Env<'a>, opts: K8sOpts<'a>) -> Term<'a> {
    let req = k8s::Request {
        api_server: lossy(&opts.api_server),
        token_path: opts.token_path.as_ref().map(lossy),
        ca_path: opts.ca_path.as_ref().map(lossy),
        insecure_skip_tls_verify: opts.insecure_skip_tls_verify,
        namespace: lossy(&opts.namespace),
        selector: lossy(&opts.selector),
        service: opts.service.as_ref().map(lossy),
        source: if opts.source == atoms::endpointslices() {
            k8s::Source::EndpointSlices
        } else {
            k8s::Source::Pods
        },
        mode: if opts.mode == atoms::dns() {
            k8s::Mode::Dns
        } else if opts.mode == atoms::hostname() {
            k8s::Mode::Hostname
        } else {
            k8s::Mode::Ip
        },
        basename: lossy(&opts.basename),
        cluster_domain: lossy(&opts.cluster_domain),
        timeout: Duration::from_millis(opts.timeout.min(MAX_TIMEOUT_MS)),
        max_nodes: opts.max_nodes,
        max_body: k8s::DEFAULT_MAX_BODY,
    };
    match k8s::discover(&req) {
        Ok(a) => {
            let map = Term::map_new(env)
                .map_put(atoms::nodes(), a.nodes)
                .and_then(|m| m.map_put(atoms::rejected(), a.rejected))
                .and_then(|m| m.map_put(atoms::truncated(), a.truncated));
            match map {
                Ok(m) => ok(env, m),
                Err(_) => error(env, "encode"),
            }
        }
        Err(k8s::K8sError::HttpStatus(code)) => {
            (atoms::error(), (atoms::http_status(), code)).encode(env)
        }
        Err(e) => error(env, e.as_str()),
    }
}

/// A gossip group's key and replay cache, held by the cluster process.
struct GossipState {
    key: Option<gossip::Key>,
    window: u64,
    replay: Mutex<gossip::ReplayCache>,
}

#[rustler::resource_impl]
impl rustler::Resource for GossipState {}

/// `gossip_new(Secret | nil, WindowMs, ReplayCapacity)`: a resource holding
/// the derived key (never the secret itself) and the replay cache.
#[rustler::nif(name = "gossip_new_nif", schedule = "DirtyCpu")]
fn gossip_new(secret: Option<Binary>, window: u64, capacity: usize) -> ResourceArc<GossipState> {
    ResourceArc::new(GossipState {
        key: secret.map(|s| gossip::Key::derive(s.as_slice())),
        window,
        replay: Mutex::new(gossip::ReplayCache::new(capacity.min(1_000_000))),
    })
}

/// `gossip_encode(State, Name, NowMs)`: `{ok, Packet}` or `{error, bad_name}`.
#[rustler::nif(name = "gossip_encode_nif", schedule = "DirtyCpu")]
fn gossip_encode<'a>(env: Env<'a>, state: ResourceArc<GossipState>, name: Binary<'a>, now: u64) -> Term<'a> {
    match gossip::encode(&lossy(&name), state.key.as_ref(), now, gossip::nonce()) {
        Some(packet) => {
            let mut bin = rustler::OwnedBinary::new(packet.len());
            bin.as_mut_slice().copy_from_slice(&packet);
            ok(env, bin.release(env))
        }
        None => error(env, "bad_name"),
    }
}

/// `gossip_decode(State, Packet, NowMs)`: `{ok, Name}` or `{error, Reason}`
/// (`too_short`, `bad_mac`, `replayed`, `bad_name`, ...).
#[rustler::nif(name = "gossip_decode_nif", schedule = "DirtyCpu")]
fn gossip_decode<'a>(env: Env<'a>, state: ResourceArc<GossipState>, packet: Binary<'a>, now: u64) -> Term<'a> {
    let mut replay = match state.replay.lock() {
        Ok(r) => r,
        Err(poisoned) => poisoned.into_inner(),
    };
    match gossip::decode(packet.as_slice(), state.key.as_ref(), now, state.window, &mut replay) {
        Ok(a) => ok(env, a.name),
        Err(r) => error(env, r.as_str()),
    }
}

rustler::init!("barnacle_native");
