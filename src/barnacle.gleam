//// Self-healing clusters for Gleam applications on the BEAM.
////
//// A barnacle asks a strategy which nodes belong to the cluster, connects
//// the missing ones in parallel, optionally disconnects the ones it
//// connected that are gone, and reconnects nodes that go down, at once and
//// then with backoff, without waiting for the next poll.
////
//// ```gleam
//// import barnacle
//// import gleam/erlang/process
//// import gleam/otp/static_supervisor as supervisor
////
//// pub fn main() {
////   let events = process.new_subject()
////
////   let config =
////     barnacle.local_epmd()
////     |> barnacle.with_poll_interval(15_000)
////     |> barnacle.with_name("my_barnacle")
////     |> barnacle.with_listener(events)
////
////   let assert Ok(_) =
////     supervisor.new(supervisor.OneForOne)
////     |> supervisor.add(barnacle.supervised(config))
////     |> supervisor.start
////
////   let assert Ok(barnacle.RefreshResponse(Ok(_nodes))) =
////     process.receive(events, 10_000)
////   process.sleep_forever()
//// }
//// ```
////
//// The discovery work (DNS, EPMD, the Kubernetes API, gossip packets) runs
//// in a Rust core loaded as NIFs on dirty schedulers; this module is a
//// typed layer over the Erlang API in `barnacle_cluster`.

import gleam/dynamic.{type Dynamic}
import gleam/erlang/atom.{type Atom}
import gleam/erlang/node.{type Node}
import gleam/erlang/process.{type Subject}
import gleam/otp/actor
import gleam/otp/supervision

// ---------------------------------------------------------------- types

/// A barnacle's configuration, built with a strategy function such as
/// `local_epmd` and the `with_*` functions. The `strategy` parameter records
/// which strategy it uses, so that strategy options only apply where they
/// mean something.
pub type Barnacle(strategy)

/// Marks a configuration that uses the local EPMD.
pub type LocalEpmd

/// Marks a configuration that uses a fixed list of nodes.
pub type Epmd

/// Marks a configuration that uses DNS; `kind` is `Addresses` or `Srv`.
pub type Dns(kind)

/// DNS A/AAAA lookups.
pub type Addresses

/// DNS SRV lookups.
pub type Srv

/// Marks a configuration that reads a `.hosts.erlang` file.
pub type HostsFile

/// Marks a configuration that uses the Kubernetes API.
pub type Kubernetes

/// Marks a configuration that uses UDP multicast gossip.
pub type Gossip

/// Marks a configuration that uses a custom strategy.
pub type Custom

/// A running barnacle: its pid, or the name it was registered under.
pub type Cluster

/// A custom strategy: how to discover nodes, and optionally how to
/// connect, disconnect and list them (for another transport than
/// Distributed Erlang). Build it with `new_strategy`.
pub type Strategy(error)

/// Which address families a DNS lookup asks for.
pub type AddressFamilies {
  /// A records only.
  Inet
  /// AAAA records only.
  Inet6
  /// A and AAAA, asked together. A name with only one family is fine.
  Both
}

/// What a barnacle reports to its listeners.
pub type Event {
  /// A discovery pass ended. `Ok` holds the wanted nodes now connected.
  RefreshResponse(Result(List(Atom), RefreshError))
  /// The barnacle was paused.
  PauseResponse(Nil)
  /// The barnacle was resumed.
  ResumeResponse(Nil)
  /// The barnacle was shut down.
  ShutdownResponse(Nil)
  /// A wanted node is connected.
  NodeConnected(node: Atom)
  /// A connected wanted node went down (`connection_closed`,
  /// `net_tick_timeout`, `disconnect`, ...); it is being retried.
  NodeDisconnected(node: Atom, reason: Atom)
  /// An attempt to connect a wanted node failed (`failed`, `timeout`,
  /// `not_alive`, `disconnected`, `crashed`).
  ConnectFailed(node: Atom, reason: Atom)
}

/// Why a pass, `refresh` or `run_once` did not fully succeed.
pub type RefreshError {
  /// Discovery failed, crashed, timed out or returned something invalid.
  /// For the built-in strategies, `barnacle/dns.from_strategy_error` and
  /// `barnacle/kubernetes.from_strategy_error` decode the reason.
  StrategyError(Dynamic)
  /// Some nodes could not be connected, with the reason for each.
  ConnectError(List(#(Atom, Atom)))
  /// Some nodes could not be disconnected, with the reason for each.
  DisconnectError(List(#(Atom, Atom)))
  /// The barnacle did not answer (`refresh` only).
  CallFailed(CallError)
  /// The configuration is invalid (`run_once` only); the text names the option.
  InvalidConfig(String)
  /// This node is not distributed (`run_once` only): start it with a name.
  NotAlive
}

/// Why a call to a running barnacle failed.
pub type CallError {
  /// It did not answer within the timeout.
  Timeout
  /// No such barnacle is running.
  NotRunning
}

/// A node a barnacle wants, and where it stands.
pub type Member {
  Member(
    node: Atom,
    status: MemberStatus,
    /// Whether this barnacle made the connection (only those are pruned).
    owned: Bool,
    /// Since when (`erlang:system_time(millisecond)`) the status holds.
    since: Int,
  )
}

/// The state of a wanted node.
pub type MemberStatus {
  Connected
  /// An attempt is under way; `failures` attempts failed before it.
  Connecting(failures: Int)
  /// Waiting to retry at `next_attempt` (system time, ms).
  Retrying(failures: Int, next_attempt: Int)
}

// ---------------------------------------------------------------- strategies

/// Every node registered with the EPMD on this machine.
pub fn local_epmd() -> Barnacle(LocalEpmd) {
  strategy_ffi(atom.create("local_epmd"), Nil)
}

/// Only the local EPMD's nodes with these basenames (the part before `@`).
pub fn with_local_basenames(
  config: Barnacle(LocalEpmd),
  basenames: List(String),
) -> Barnacle(LocalEpmd) {
  set_strategy_opt_ffi(config, atom.create("basenames"), basenames)
}

/// A fixed list of nodes.
pub fn epmd(nodes: List(Atom)) -> Barnacle(Epmd) {
  strategy_ffi(atom.create("epmd"), nodes)
}

/// Every A/AAAA address of `query` becomes `basename@address` (IPv6
/// written as Erlang writes it, e.g. `app@fd00::1`). Use
/// `get_node_basename` for this node's own basename.
pub fn dns(basename basename: String, query query: String) -> Barnacle(Dns(Addresses)) {
  strategy_ffi(atom.create("dns"), dns_opts(basename, query))
}

/// Every SRV target of `query` becomes `basename@target`, for nodes named
/// by host name (Kubernetes StatefulSets behind a headless service).
pub fn dns_srv(basename basename: String, query query: String) -> Barnacle(Dns(Srv)) {
  strategy_ffi(atom.create("dns_srv"), dns_opts(basename, query))
}

/// The deadline for a whole DNS lookup, in milliseconds (default 5000).
pub fn with_dns_timeout(config: Barnacle(Dns(kind)), ms: Int) -> Barnacle(Dns(kind)) {
  set_strategy_opt_ffi(config, atom.create("timeout"), ms)
}

/// Which address families to ask for (default `Both`).
pub fn with_dns_families(
  config: Barnacle(Dns(Addresses)),
  families: AddressFamilies,
) -> Barnacle(Dns(Addresses)) {
  set_strategy_opt_ffi(config, atom.create("families"), families)
}

/// Ask these nameservers (`#("10.0.0.2", 53)`) instead of the system's
/// resolv.conf.
pub fn with_nameservers(
  config: Barnacle(Dns(kind)),
  servers: List(#(String, Int)),
) -> Barnacle(Dns(kind)) {
  set_nameservers_ffi(config, servers)
}

/// The hosts listed in `.hosts.erlang` (found as `net_adm:host_file/0`
/// finds it), and the nodes each host's EPMD reports.
pub fn hosts_file() -> Barnacle(HostsFile) {
  strategy_ffi(atom.create("hosts_file"), empty_opts())
}

/// Read this file instead of looking for `.hosts.erlang`.
pub fn with_hosts_file_path(
  config: Barnacle(HostsFile),
  path: String,
) -> Barnacle(HostsFile) {
  set_strategy_opt_ffi(config, atom.create("path"), path)
}

/// How a Kubernetes pod becomes a node name.
pub type KubernetesMode {
  /// `basename@10.1.2.3`
  Ip
  /// `basename@10-1-2-3.namespace.pod.cluster.local`
  PodDns
  /// `basename@pod-name.service.namespace.svc.cluster.local`
  Hostname
}

/// The ready pods matching a label selector (`"app=my-app"`), read from the
/// Kubernetes API with the pod's service account.
pub fn kubernetes(
  basename basename: String,
  selector selector: String,
) -> Barnacle(Kubernetes) {
  strategy_ffi(atom.create("kubernetes"), kubernetes_opts(basename, selector))
}

/// The ready endpoints of a Service's EndpointSlices instead of pods.
pub fn kubernetes_endpoints(
  basename basename: String,
  service service: String,
) -> Barnacle(Kubernetes) {
  strategy_ffi(atom.create("kubernetes"), kubernetes_service_opts(basename, service))
}

/// How names are built (default `Ip`). `Hostname` needs `with_kubernetes_service`.
pub fn with_kubernetes_mode(
  config: Barnacle(Kubernetes),
  mode: KubernetesMode,
) -> Barnacle(Kubernetes) {
  set_strategy_opt_ffi(config, atom.create("mode"), kubernetes_mode(mode))
}

/// The Service the pods belong to (for `Hostname` names).
pub fn with_kubernetes_service(
  config: Barnacle(Kubernetes),
  service: String,
) -> Barnacle(Kubernetes) {
  set_strategy_opt_ffi(config, atom.create("service"), service)
}

/// The namespace (default: the service account's own).
pub fn with_kubernetes_namespace(
  config: Barnacle(Kubernetes),
  namespace: String,
) -> Barnacle(Kubernetes) {
  set_strategy_opt_ffi(config, atom.create("namespace"), namespace)
}

/// The API server URL (default `https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT`).
pub fn with_kubernetes_api_server(
  config: Barnacle(Kubernetes),
  url: String,
) -> Barnacle(Kubernetes) {
  set_strategy_opt_ffi(config, atom.create("api_server"), url)
}

fn kubernetes_mode(mode: KubernetesMode) -> Atom {
  case mode {
    Ip -> atom.create("ip")
    PodDns -> atom.create("dns")
    Hostname -> atom.create("hostname")
  }
}

/// Zero-configuration clustering on one network segment: every node
/// announces itself by UDP multicast and connects to the nodes it hears.
/// Set a secret with `with_gossip_secret` on any network you do not fully
/// trust.
pub fn gossip() -> Barnacle(Gossip) {
  strategy_ffi(atom.create("gossip"), empty_opts())
}

/// Authenticate every announcement with HMAC-SHA256 under a key derived
/// from this secret (at least 8 bytes). Groups with different secrets on
/// one address and port ignore each other. The secret is never logged.
pub fn with_gossip_secret(config: Barnacle(Gossip), secret: String) -> Barnacle(Gossip) {
  set_strategy_opt_ffi(config, atom.create("secret"), secret)
}

/// The UDP port (default 45892).
pub fn with_gossip_port(config: Barnacle(Gossip), port: Int) -> Barnacle(Gossip) {
  set_strategy_opt_ffi(config, atom.create("port"), port)
}

/// Milliseconds between announcements (default 5000).
pub fn with_gossip_interval(config: Barnacle(Gossip), ms: Int) -> Barnacle(Gossip) {
  set_strategy_opt_ffi(config, atom.create("interval"), ms)
}

/// The multicast group (default `#(239, 255, 43, 21)`).
pub fn with_multicast_address(
  config: Barnacle(Gossip),
  address: #(Int, Int, Int, Int),
) -> Barnacle(Gossip) {
  set_strategy_opt_ffi(config, atom.create("multicast_addr"), address)
}

/// The local interface address to join the group on and send from.
pub fn with_multicast_interface(
  config: Barnacle(Gossip),
  address: #(Int, Int, Int, Int),
) -> Barnacle(Gossip) {
  set_strategy_opt_ffi(config, atom.create("multicast_if"), address)
}

/// Multicast TTL (default 1: this segment only).
pub fn with_multicast_ttl(config: Barnacle(Gossip), ttl: Int) -> Barnacle(Gossip) {
  set_strategy_opt_ffi(config, atom.create("ttl"), ttl)
}

/// Send announcements to this broadcast address instead of multicasting.
pub fn with_gossip_broadcast(
  config: Barnacle(Gossip),
  address: #(Int, Int, Int, Int),
) -> Barnacle(Gossip) {
  config
  |> set_strategy_opt_ffi(atom.create("broadcast_only"), True)
  |> set_strategy_opt_ffi(atom.create("broadcast_addr"), address)
}

/// A custom strategy: `discover` returns the nodes that should be
/// connected.
pub fn new_strategy(discover: fn() -> Result(List(Atom), error)) -> Strategy(error) {
  new_strategy_ffi(discover)
}

/// Connect with this function instead of Distributed Erlang (`True` when
/// connected). Give `with_list_nodes_function` too.
pub fn with_connect_nodes_function(
  strategy: Strategy(error),
  connect: fn(Atom) -> Bool,
) -> Strategy(error) {
  with_fun_ffi(strategy, atom.create("connect"), connect)
}

/// Disconnect with this function instead of Distributed Erlang (`True`
/// when disconnected).
pub fn with_disconnect_nodes_function(
  strategy: Strategy(error),
  disconnect: fn(Atom) -> Bool,
) -> Strategy(error) {
  with_fun_ffi(strategy, atom.create("disconnect"), disconnect)
}

/// List connected nodes with this function instead of Distributed Erlang.
pub fn with_list_nodes_function(
  strategy: Strategy(error),
  list: fn() -> List(Atom),
) -> Strategy(error) {
  with_fun_ffi(strategy, atom.create("list_nodes"), list)
}

/// A configuration for a custom strategy.
pub fn custom(strategy: Strategy(error)) -> Barnacle(Custom) {
  custom_ffi(strategy)
}

// ---------------------------------------------------------------- options

/// Milliseconds between discovery passes (default 5000).
pub fn with_poll_interval(config: Barnacle(s), ms: Int) -> Barnacle(s) {
  set_ffi(config, atom.create("poll_interval"), ms)
}

/// Register the barnacle under this name.
pub fn with_name(config: Barnacle(s), name: String) -> Barnacle(s) {
  set_ffi(config, atom.create("name"), name)
}

/// Send every `Event` to this subject. May be given more than once.
pub fn with_listener(config: Barnacle(s), subject: Subject(Event)) -> Barnacle(s) {
  set_ffi(config, atom.create("listener"), subject)
}

/// Disconnect nodes this barnacle connected once a successful discovery no
/// longer lists them (default `False`). Other connections are never
/// touched.
pub fn with_prune(config: Barnacle(s), prune: Bool) -> Barnacle(s) {
  set_ffi(config, atom.create("prune"), prune)
}

/// Milliseconds one connection attempt may take (default 5000).
pub fn with_connect_timeout(config: Barnacle(s), ms: Int) -> Barnacle(s) {
  set_ffi(config, atom.create("connect_timeout"), ms)
}

/// Milliseconds one discovery may take (default 10000).
pub fn with_discover_timeout(config: Barnacle(s), ms: Int) -> Barnacle(s) {
  set_ffi(config, atom.create("discover_timeout"), ms)
}

/// Retry delays for lost or unreachable nodes: doubling from `min`,
/// capped at `max`, with jitter (default 200 and 5000 ms).
pub fn with_backoff(config: Barnacle(s), min min: Int, max max: Int) -> Barnacle(s) {
  set_ffi(config, atom.create("backoff"), #(min, max))
}

/// Most nodes one discovery may yield (default 1024).
pub fn with_max_nodes(config: Barnacle(s), max: Int) -> Barnacle(s) {
  set_ffi(config, atom.create("max_nodes"), max)
}

/// Most connection attempts in flight at once (default: no limit).
pub fn with_max_parallel_connects(config: Barnacle(s), max: Int) -> Barnacle(s) {
  set_ffi(config, atom.create("max_parallel_connects"), max)
}

// ---------------------------------------------------------------- running

/// Starts a barnacle linked to the caller. The configuration is checked
/// first; a bad one is `Error(actor.InitFailed(reason))` naming the option.
/// The first pass runs right after the start, not one interval later.
pub fn start(config: Barnacle(s)) -> Result(actor.Started(Cluster), actor.StartError) {
  start_ffi(config)
}

/// A child specification for a gleam_otp supervisor. The child is
/// transient: `shutdown` stops it for good, a crash restarts it.
pub fn supervised(config: Barnacle(s)) -> supervision.ChildSpecification(Cluster) {
  supervision.worker(run: fn() { start(config) })
  |> supervision.restart(supervision.Transient)
}

/// One discovery and connect pass, with no process left behind.
pub fn run_once(config: Barnacle(s)) -> Result(List(Atom), RefreshError) {
  run_once_ffi(config)
}

/// Runs a pass now and returns its result; the poll timer restarts.
pub fn refresh(
  cluster: Cluster,
  waiting timeout: Int,
) -> Result(List(Atom), RefreshError) {
  refresh_ffi(cluster, timeout)
}

/// Stops passes and retries until `resume`.
pub fn pause(cluster: Cluster, waiting timeout: Int) -> Result(Nil, CallError) {
  pause_ffi(cluster, timeout)
}

/// Restarts passes and retries, with a pass at once.
pub fn resume(cluster: Cluster, waiting timeout: Int) -> Result(Nil, CallError) {
  resume_ffi(cluster, timeout)
}

/// Stops the barnacle for good. Connections stay as they are.
pub fn shutdown(cluster: Cluster, waiting timeout: Int) -> Result(Nil, CallError) {
  shutdown_ffi(cluster, timeout)
}

/// Every node the barnacle wants, with its state.
pub fn members(cluster: Cluster) -> Result(List(Member), CallError) {
  members_ffi(cluster)
}

/// Waits until at least `count` other wanted nodes are connected, and
/// returns them: a start-up barrier.
pub fn await_members(
  cluster: Cluster,
  count count: Int,
  waiting timeout: Int,
) -> Result(List(Atom), CallError) {
  await_members_ffi(cluster, count, timeout)
}

/// The basename of a node (`"app"` for `app@10.0.0.1`), to configure a DNS
/// strategy with this node's own: `get_node_basename(node.self())`.
pub fn get_node_basename(node: Node) -> Result(String, Nil) {
  node_basename_ffi(node)
}

// ---------------------------------------------------------------- internals

/// A strategy's option map, built on the Erlang side.
type StrategyOpts

@external(erlang, "barnacle_gleam", "dns_opts")
fn dns_opts(basename: String, query: String) -> StrategyOpts

@external(erlang, "barnacle_gleam", "empty_opts")
fn empty_opts() -> StrategyOpts

@external(erlang, "barnacle_gleam", "kubernetes_opts")
fn kubernetes_opts(basename: String, selector: String) -> StrategyOpts

@external(erlang, "barnacle_gleam", "kubernetes_service_opts")
fn kubernetes_service_opts(basename: String, service: String) -> StrategyOpts

@external(erlang, "barnacle_gleam", "strategy")
fn strategy_ffi(name: Atom, opts: opts) -> Barnacle(s)

@external(erlang, "barnacle_gleam", "set")
fn set_ffi(config: Barnacle(s), key: Atom, value: value) -> Barnacle(s)

@external(erlang, "barnacle_gleam", "set_strategy_opt")
fn set_strategy_opt_ffi(config: Barnacle(s), key: Atom, value: value) -> Barnacle(s)

@external(erlang, "barnacle_gleam", "set_nameservers")
fn set_nameservers_ffi(config: Barnacle(s), servers: List(#(String, Int))) -> Barnacle(s)

@external(erlang, "barnacle_gleam", "new_strategy")
fn new_strategy_ffi(discover: fn() -> Result(List(Atom), error)) -> Strategy(error)

@external(erlang, "barnacle_gleam", "with_fun")
fn with_fun_ffi(strategy: Strategy(error), key: Atom, fun: f) -> Strategy(error)

@external(erlang, "barnacle_gleam", "custom")
fn custom_ffi(strategy: Strategy(error)) -> Barnacle(Custom)

@external(erlang, "barnacle_gleam", "start")
fn start_ffi(config: Barnacle(s)) -> Result(actor.Started(Cluster), actor.StartError)

@external(erlang, "barnacle_gleam", "run_once")
fn run_once_ffi(config: Barnacle(s)) -> Result(List(Atom), RefreshError)

@external(erlang, "barnacle_gleam", "refresh")
fn refresh_ffi(cluster: Cluster, timeout: Int) -> Result(List(Atom), RefreshError)

@external(erlang, "barnacle_gleam", "pause")
fn pause_ffi(cluster: Cluster, timeout: Int) -> Result(Nil, CallError)

@external(erlang, "barnacle_gleam", "resume")
fn resume_ffi(cluster: Cluster, timeout: Int) -> Result(Nil, CallError)

@external(erlang, "barnacle_gleam", "shutdown")
fn shutdown_ffi(cluster: Cluster, timeout: Int) -> Result(Nil, CallError)

@external(erlang, "barnacle_gleam", "members")
fn members_ffi(cluster: Cluster) -> Result(List(Member), CallError)

@external(erlang, "barnacle_gleam", "await_members")
fn await_members_ffi(
  cluster: Cluster,
  count: Int,
  timeout: Int,
) -> Result(List(Atom), CallError)

@external(erlang, "barnacle_gleam", "node_basename")
fn node_basename_ffi(node: Node) -> Result(String, Nil)
