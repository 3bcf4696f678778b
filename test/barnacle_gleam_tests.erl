%% The terms the Gleam API passes and gets back, checked from Erlang
%% (no Gleam compiler runs here). Each test builds exactly what the Gleam
%% code in src/barnacle.gleam hands to barnacle_gleam, and asserts exactly
%% the term a Gleam type claims; the comment names that type.
-module(barnacle_gleam_tests).
-include_lib("eunit/include/eunit.hrl").

%% barnacle.local_epmd() |> with_poll_interval(15_000) |> with_name("my_barnacle")
builder_test() ->
    C0 = barnacle_gleam:strategy(local_epmd, nil),
    C1 = barnacle_gleam:set(C0, poll_interval, 15000),
    C2 = barnacle_gleam:set(C1, name, <<"my_barnacle">>),
    Subject = {subject, self(), make_ref()},
    C3 = barnacle_gleam:set(C2, listener, Subject),
    C4 = barnacle_gleam:set(C3, listener, {named_subject, other}),
    C5 = barnacle_gleam:set(C4, backoff, {100, 2000}),
    ?assertEqual(#{strategy => local_epmd, poll_interval => 15000, name => my_barnacle,
                   listeners => [Subject, {named_subject, other}],
                   backoff => #{min => 100, max => 2000}}, C5),
    ?assertMatch({ok, _}, barnacle_config:validate(C5)).

%% barnacle.dns(basename: "app", query: "app.internal") |> with_dns_families(Inet6)
%% |> with_dns_timeout(2000) |> with_nameservers([#("10.0.0.2", 53)])
dns_builder_test() ->
    C0 = barnacle_gleam:strategy(dns, barnacle_gleam:dns_opts(<<"app">>, <<"app.internal">>)),
    C1 = barnacle_gleam:set_strategy_opt(C0, families, inet6),
    C2 = barnacle_gleam:set_strategy_opt(C1, timeout, 2000),
    C3 = barnacle_gleam:set_nameservers(C2, [{<<"10.0.0.2">>, 53}, {<<"fd00::2">>, 5353}]),
    ?assertEqual(#{strategy => {dns, #{basename => <<"app">>, query => <<"app.internal">>,
                                       families => inet6, timeout => 2000,
                                       nameservers => [{{10, 0, 0, 2}, 53},
                                                       {{16#fd00, 0, 0, 0, 0, 0, 0, 2}, 5353}]}}},
                 C3),
    ?assertMatch({ok, #{strategy := {barnacle_dns, #{kind := a}}}}, barnacle_config:validate(C3)),
    Bad = barnacle_gleam:set_nameservers(C2, [{<<"not an ip">>, 53}]),
    ?assertMatch({error, {invalid_config, strategy, {invalid_option, nameservers, _}}},
                 barnacle_config:validate(Bad)).

%% barnacle.local_epmd() |> with_local_basenames(["a"]); barnacle.epmd([...]);
%% barnacle.hosts_file() |> with_hosts_file_path("/etc/hosts.erlang")
other_builders_test() ->
    L = barnacle_gleam:set_strategy_opt(barnacle_gleam:strategy(local_epmd, nil),
                                        basenames, [<<"a">>]),
    ?assertEqual(#{strategy => {local_epmd, #{basenames => [<<"a">>]}}}, L),
    ?assertMatch({ok, _}, barnacle_config:validate(L)),
    E = barnacle_gleam:strategy(epmd, ['a@h', 'b@h']),
    ?assertEqual(#{strategy => {epmd, ['a@h', 'b@h']}}, E),
    H = barnacle_gleam:set_strategy_opt(barnacle_gleam:strategy(hosts_file,
                                                                barnacle_gleam:empty_opts()),
                                        path, <<"/etc/hosts.erlang">>),
    ?assertMatch({ok, #{strategy := {barnacle_hosts_file, #{path := <<"/etc/hosts.erlang">>}}}},
                 barnacle_config:validate(H)).

%% barnacle.new_strategy(discover) |> with_connect_nodes_function(f) |> custom
custom_strategy_test() ->
    %% A Gleam `fn() -> Result(List(Atom), error)' returns {ok, L} / {error, E}.
    D = fun() -> {ok, ['a@h']} end,
    Conn = fun(_) -> true end,
    List = fun() -> [] end,
    S = barnacle_gleam:with_fun(barnacle_gleam:with_fun(barnacle_gleam:new_strategy(D),
                                                        connect, Conn), list_nodes, List),
    C = barnacle_gleam:custom(S),
    ?assertEqual(#{strategy => {custom, #{discover => D, connect => Conn, list_nodes => List}}}, C),
    %% run_once -> Result(List(Atom), RefreshError): Ok(["a@h"]).
    ?assertEqual({ok, ['a@h']}, barnacle_gleam:run_once(C)),
    %% StrategyError(Dynamic) for a Gleam Error("no route").
    Failing = barnacle_gleam:custom(barnacle_gleam:with_fun(
                                      barnacle_gleam:with_fun(
                                        barnacle_gleam:new_strategy(fun() -> {error, <<"no route">>} end),
                                        connect, Conn), list_nodes, List)),
    ?assertEqual({error, {strategy_error, <<"no route">>}}, barnacle_gleam:run_once(Failing)).

%% run_once -> Result(List(Atom), RefreshError): InvalidConfig(String), NotAlive
run_once_errors_test() ->
    {error, {invalid_config, Text}} =
        barnacle_gleam:run_once(#{strategy => local_epmd, poll_interval => 0}),
    ?assert(is_binary(Text)),
    ?assertNotEqual(nomatch, binary:match(Text, <<"poll_interval">>)),
    %% EUnit's node is not distributed.
    ?assertEqual({error, not_alive}, barnacle_gleam:run_once(#{strategy => local_epmd})).

%% start -> Result(actor.Started(Cluster), actor.StartError)
start_and_calls_test() ->
    Conn = fun(_) -> true end,
    C = #{strategy => {custom, #{discover => fun() -> {ok, ['x@h']} end, connect => Conn,
                                 list_nodes => fun() -> [] end}},
          name => gleam_shim_test, poll_interval => 60000},
    %% Started(pid: Pid, data: Cluster) with the registered name as handle.
    {ok, {started, Pid, gleam_shim_test}} = barnacle_gleam:start(C),
    ?assert(is_pid(Pid)),
    %% refresh -> Result(List(Atom), RefreshError)
    ?assertEqual({ok, ['x@h']}, barnacle_gleam:refresh(gleam_shim_test, 5000)),
    %% members -> Result(List(Member), CallError); Member(node, Connected, owned, since)
    {ok, [{member, 'x@h', connected, true, Since}]} = barnacle_gleam:members(gleam_shim_test),
    ?assert(is_integer(Since)),
    %% await_members -> Result(List(Atom), CallError)
    ?assertEqual({ok, ['x@h']}, barnacle_gleam:await_members(gleam_shim_test, 1, 1000)),
    ?assertEqual({error, timeout}, barnacle_gleam:await_members(gleam_shim_test, 5, 100)),
    %% pause/resume/shutdown -> Result(Nil, CallError)
    ?assertEqual({ok, nil}, barnacle_gleam:pause(gleam_shim_test, 1000)),
    ?assertEqual({ok, nil}, barnacle_gleam:resume(gleam_shim_test, 1000)),
    unlink(Pid),
    ?assertEqual({ok, nil}, barnacle_gleam:shutdown(gleam_shim_test, 1000)),
    ?assertEqual({error, not_running}, barnacle_gleam:pause(gleam_shim_test, 1000)),
    ?assertEqual({error, {call_failed, not_running}}, barnacle_gleam:refresh(gleam_shim_test, 1000)),
    %% Unnamed: the handle is the pid.
    {ok, {started, P2, P2}} = barnacle_gleam:start(maps:remove(name, C)),
    unlink(P2),
    ?assertEqual({ok, nil}, barnacle_gleam:shutdown(P2, 1000)),
    %% InitFailed(String) naming the option.
    {error, {init_failed, Why}} = barnacle_gleam:start(C#{poll_interval => 0}),
    ?assertNotEqual(nomatch, binary:match(Why, <<"poll_interval">>)).

%% Events as Gleam values, through a Subject listener {subject, Owner, Tag}.
events_are_gleam_values_test() ->
    Tag = make_ref(),
    Conn = fun(_) -> true end,
    {ok, {started, Pid, _}} =
        barnacle_gleam:start(#{strategy => {custom, #{discover => fun() -> {ok, ['n@h']} end,
                                                      connect => Conn,
                                                      list_nodes => fun() -> [] end}},
                               listeners => [{subject, self(), Tag}]}),
    %% NodeConnected(node: Atom)
    ?assertEqual({Tag, {node_connected, 'n@h'}}, recv()),
    %% RefreshResponse(Ok(List(Atom)))
    ?assertEqual({Tag, {refresh_response, {ok, ['n@h']}}}, recv()),
    unlink(Pid),
    {ok, nil} = barnacle_gleam:shutdown(Pid, 1000),
    %% ShutdownResponse(Nil)
    ?assertEqual({Tag, {shutdown_response, nil}}, recv()).

%% get_node_basename(node) -> Result(String, Nil)
basename_test() ->
    ?assertEqual({ok, <<"app">>}, barnacle_gleam:node_basename('app@10.1.2.3')),
    ?assertEqual({error, nil}, barnacle_gleam:node_basename(nonode@nohost)).

%% barnacle/dns.from_strategy_error(Dynamic) -> Result(DnsError, Nil)
dns_error_test() ->
    ?assertEqual({ok, nxdomain}, barnacle_gleam:dns_error({dns, nxdomain})),
    ?assertEqual({ok, no_records}, barnacle_gleam:dns_error({dns, no_records})),
    ?assertEqual({error, nil}, barnacle_gleam:dns_error({dns, made_up})),
    ?assertEqual({error, nil}, barnacle_gleam:dns_error(timeout)).

%% barnacle.kubernetes(basename: "app", selector: "app=web")
%% |> with_kubernetes_mode(Hostname) |> with_kubernetes_service("web")
kubernetes_builder_test() ->
    C0 = barnacle_gleam:strategy(kubernetes, barnacle_gleam:kubernetes_opts(<<"app">>, <<"app=web">>)),
    C1 = barnacle_gleam:set_strategy_opt(C0, mode, hostname),
    C2 = barnacle_gleam:set_strategy_opt(C1, service, <<"web">>),
    C3 = barnacle_gleam:set_strategy_opt(C2, namespace, <<"prod">>),
    C4 = barnacle_gleam:set_strategy_opt(C3, api_server, <<"https://10.0.0.1:443">>),
    ?assertEqual(#{strategy => {kubernetes, #{basename => <<"app">>, selector => <<"app=web">>,
                                              mode => hostname, service => <<"web">>,
                                              namespace => <<"prod">>,
                                              api_server => <<"https://10.0.0.1:443">>}}}, C4),
    ?assertMatch({ok, #{strategy := {barnacle_kubernetes, #{mode := hostname}}}},
                 barnacle_config:validate(C4)),
    E = barnacle_gleam:kubernetes_service_opts(<<"app">>, <<"web">>),
    ?assertEqual(#{basename => <<"app">>, service => <<"web">>, source => endpointslices}, E).

%% barnacle/kubernetes.from_strategy_error(Dynamic) -> Result(KubernetesError, Nil)
kubernetes_error_test() ->
    ?assertEqual({ok, forbidden}, barnacle_gleam:kubernetes_error({kubernetes, forbidden})),
    %% HttpStatus(Int)
    ?assertEqual({ok, {http_status, 500}},
                 barnacle_gleam:kubernetes_error({kubernetes, {http_status, 500}})),
    ?assertEqual({error, nil}, barnacle_gleam:kubernetes_error({dns, timeout})).

%% barnacle.gossip() |> with_gossip_secret("...") |> with_gossip_port(45900)
%% |> with_multicast_interface(#(127, 0, 0, 1)) |> with_gossip_broadcast(#(127, 255, 255, 255))
gossip_builder_test() ->
    C0 = barnacle_gleam:strategy(gossip, barnacle_gleam:empty_opts()),
    C1 = barnacle_gleam:set_strategy_opt(C0, secret, <<"a long enough secret">>),
    C2 = barnacle_gleam:set_strategy_opt(C1, port, 45900),
    C3 = barnacle_gleam:set_strategy_opt(C2, multicast_if, {127, 0, 0, 1}),
    C4 = barnacle_gleam:set_strategy_opt(barnacle_gleam:set_strategy_opt(C3, broadcast_only, true),
                                         broadcast_addr, {127, 255, 255, 255}),
    {ok, #{strategy := {barnacle_gossip, S}}} = barnacle_config:validate(C4),
    ?assertMatch(#{port := 45900, broadcast_only := true, authenticated := true}, S),
    %% Only the derived key (a NIF resource) is kept, never the secret.
    ?assertNot(is_map_key(secret, S)),
    ?assertEqual(nomatch, binary:match(term_to_binary(S), <<"a long enough secret">>)).

recv() ->
    receive M -> M after 5000 -> timeout end.
