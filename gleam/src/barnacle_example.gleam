//// A service that clusters itself with barnacle and prints what happens.
////
//// The strategy comes from the environment, so the same image runs on a
//// laptop, on Fly.io and on Kubernetes:
////
//// - `BARNACLE_STRATEGY=local` (default): every node on this machine's EPMD.
//// - `BARNACLE_STRATEGY=dns` with `BARNACLE_DNS_QUERY` (e.g.
////   `my-app.internal` on Fly.io, `my-app-headless.prod.svc.cluster.local`
////   on Kubernetes): nodes named `<this basename>@<address>`.
////
//// The node itself must be started with a name and a cookie, e.g.
//// `ERL_FLAGS="-name app@127.0.0.1 -setcookie secret" gleam run`.

import barnacle
import gleam/erlang/atom
import gleam/erlang/node
import gleam/erlang/process
import gleam/io
import gleam/list
import gleam/otp/static_supervisor as supervisor
import gleam/otp/supervision
import gleam/string

pub fn main() {
  let events = process.new_subject()
  let assert Ok(_) =
    supervisor.new(supervisor.OneForOne)
    |> supervisor.add(child(events))
    |> supervisor.start
  io.println("barnacle_example: " <> atom.to_string(node.name(node.self())) <> " started")
  report(events)
}

// Each strategy has its own configuration type; the branches meet at the
// child specification.
fn child(
  events: process.Subject(barnacle.Event),
) -> supervision.ChildSpecification(barnacle.Cluster) {
  case getenv("BARNACLE_STRATEGY") {
    Ok("dns") -> {
      let assert Ok(basename) = barnacle.get_node_basename(node.self())
      let assert Ok(query) = getenv("BARNACLE_DNS_QUERY")
      let families = case getenv("BARNACLE_DNS_FAMILIES") {
        Ok("inet6") -> barnacle.Inet6
        Ok("inet") -> barnacle.Inet
        _ -> barnacle.Both
      }
      barnacle.dns(basename: basename, query: query)
      |> barnacle.with_dns_families(families)
      |> barnacle.with_prune(True)
      |> barnacle.with_listener(events)
      |> barnacle.with_name("example_barnacle")
      |> barnacle.supervised
    }
    _ ->
      barnacle.local_epmd()
      |> barnacle.with_listener(events)
      |> barnacle.with_name("example_barnacle")
      |> barnacle.supervised
  }
}

fn report(events: process.Subject(barnacle.Event)) -> Nil {
  let text = case process.receive_forever(events) {
    barnacle.RefreshResponse(Ok(nodes)) ->
      "members: " <> string.join(list.map(nodes, atom.to_string), ", ")
    barnacle.RefreshResponse(Error(error)) -> "pass failed: " <> string.inspect(error)
    barnacle.NodeConnected(n) -> "connected " <> atom.to_string(n)
    barnacle.NodeDisconnected(n, why) ->
      "lost " <> atom.to_string(n) <> " (" <> atom.to_string(why) <> "), retrying"
    barnacle.ConnectFailed(n, why) ->
      "could not connect " <> atom.to_string(n) <> " (" <> atom.to_string(why) <> ")"
    other -> string.inspect(other)
  }
  io.println(text)
  report(events)
}

fn getenv(name: String) -> Result(String, Nil) {
  getenv_ffi(name)
}

@external(erlang, "barnacle_example_ffi", "getenv")
fn getenv_ffi(name: String) -> Result(String, Nil)
