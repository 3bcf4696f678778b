//// gleeunit tests of the Gleam API against a running node. These use
//// custom strategies with their own transport, so they need no
//// distribution; the Erlang suites cover the built-in strategies with real
//// nodes.

import barnacle
import gleam/erlang/atom
import gleam/erlang/node
import gleam/erlang/process
import gleam/list
import gleam/otp/actor
import gleeunit

pub fn main() {
  gleeunit.main()
}

fn fake_transport(nodes: List(String)) {
  let wanted = list.map(nodes, atom.create)
  barnacle.new_strategy(fn() { Ok(wanted) })
  |> barnacle.with_connect_nodes_function(fn(_node) { True })
  |> barnacle.with_disconnect_nodes_function(fn(_node) { True })
  |> barnacle.with_list_nodes_function(fn() { [] })
}

pub fn events_reach_a_subject_test() {
  let events = process.new_subject()
  let assert Ok(started) =
    barnacle.custom(fake_transport([]))
    |> barnacle.with_listener(events)
    |> barnacle.start
  let assert Ok(barnacle.RefreshResponse(Ok([]))) = process.receive(events, 5000)
  let assert Ok(Nil) = barnacle.shutdown(started.data, waiting: 1000)
  let assert Ok(barnacle.ShutdownResponse(Nil)) = process.receive(events, 1000)
}

pub fn refresh_pause_resume_shutdown_test() {
  let events = process.new_subject()
  let assert Ok(started) =
    barnacle.custom(fake_transport([]))
    |> barnacle.with_name("gleam_test_barnacle")
    |> barnacle.with_poll_interval(60_000)
    |> barnacle.with_listener(events)
    |> barnacle.start
  let cluster = started.data
  let assert Ok([]) = barnacle.refresh(cluster, waiting: 5000)
  let assert Ok(Nil) = barnacle.pause(cluster, waiting: 1000)
  let assert Ok(Nil) = barnacle.resume(cluster, waiting: 1000)
  let assert Ok([]) = barnacle.members(cluster)
  let assert Ok(Nil) = barnacle.shutdown(cluster, waiting: 1000)
  let assert Error(barnacle.NotRunning) = barnacle.pause(cluster, waiting: 1000)
}

pub fn custom_strategy_connects_with_its_own_transport_test() {
  let events = process.new_subject()
  let assert Ok(started) =
    barnacle.custom(fake_transport(["a@host1", "b@host2"]))
    |> barnacle.with_listener(events)
    |> barnacle.start
  let assert Ok(barnacle.NodeConnected(_)) = process.receive(events, 5000)
  let assert Ok(barnacle.NodeConnected(_)) = process.receive(events, 5000)
  let assert Ok(barnacle.RefreshResponse(Ok(nodes))) = process.receive(events, 5000)
  let assert 2 = list.length(nodes)
  let assert Ok(members) = barnacle.members(started.data)
  let assert [barnacle.Member(status: barnacle.Connected, owned: True, ..), _] =
    members
  let assert Ok(Nil) = barnacle.shutdown(started.data, waiting: 1000)
}

pub fn failing_discovery_is_a_strategy_error_test() {
  let strategy =
    barnacle.new_strategy(fn() { Error("no route") })
    |> barnacle.with_connect_nodes_function(fn(_) { True })
    |> barnacle.with_list_nodes_function(fn() { [] })
  let assert Error(barnacle.StrategyError(_)) =
    barnacle.custom(strategy) |> barnacle.run_once
}

pub fn run_once_test() {
  let assert Ok(["x@host"]) =
    barnacle.custom(fake_transport(["x@host"]))
    |> barnacle.run_once
    |> result_names
}

fn result_names(r) {
  case r {
    Ok(nodes) -> Ok(list.map(nodes, atom.to_string))
    Error(e) -> Error(e)
  }
}

pub fn invalid_config_fails_start_test() {
  let assert Error(actor.InitFailed(_)) =
    barnacle.custom(fake_transport([]))
    |> barnacle.with_poll_interval(0)
    |> barnacle.start
}

pub fn basename_of_a_node_that_is_not_alive_test() {
  // gleam test runs on a node without distribution: nonode@nohost.
  let assert Error(Nil) = barnacle.get_node_basename(node.self())
}
