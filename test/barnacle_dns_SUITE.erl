%% DNS and DNS SRV strategies against a real dnsmasq: on loopback for bad
%% answers, and across real separate hosts (network namespaces, each with
%% its own address, epmd and node) for formation, pruning, outages, IPv6
%% and SRV.
-module(barnacle_dns_SUITE).
-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

-export([all/0, groups/0, suite/0, init_per_suite/1, end_per_suite/1,
         init_per_group/2, end_per_group/2, init_per_testcase/2, end_per_testcase/2]).
-export([bad_answers_are_clear_errors/1, many_records_create_bounded_atoms/1,
         basename_helper/1,
         dns_forms_cluster_across_hosts/1, prune_follows_dns_keep_without_prune/1,
         dns_outage_keeps_cluster/1, ipv6_cluster_over_inet6_tcp/1,
         srv_cluster_by_host_names/1]).

-import(barnacle_test_peers, [call/4, call/5]).

-define(SUBNET, 31).
-define(TAG, "dns").

suite() -> [{timetrap, {seconds, 180}}].

all() -> [{group, loopback}, {group, hosts}].

groups() ->
    [{loopback, [], [bad_answers_are_clear_errors, many_records_create_bounded_atoms,
                     basename_helper]},
     {hosts, [], [dns_forms_cluster_across_hosts, prune_follows_dns_keep_without_prune,
                  dns_outage_keeps_cluster, ipv6_cluster_over_inet6_tcp,
                  srv_cluster_by_host_names]}].

init_per_suite(Config) ->
    case os:find_executable("dnsmasq") of
        false -> {skip, "dnsmasq is missing (install dnsmasq-base)"};
        _ -> Config
    end.

end_per_suite(_Config) -> ok.

init_per_group(loopback, Config) ->
    Dir = filename:join(?config(priv_dir, Config), "dns_lo"),
    ok = filelib:ensure_dir(filename:join(Dir, "x")),
    Port = free_udp_port(),
    barnacle_netns:write_hosts(Dir, "10.0.0.9 v4only.test\nfd00::9 v6only.test\n"
                               "10.0.0.1 app.test\n" ++
                                   [io_lib:format("10.3.~b.~b many.test~n", [I div 250, I rem 250 + 1])
                                    || I <- lists:seq(0, 999)]),
    D = barnacle_netns:start_dnsmasq("127.0.0.1",
                                     #{dir => Dir, port => Port,
                                       extra => ["--cname=alias.test,app.test",
                                                 "--cname=alias2.test,alias.test",
                                                 "--srv-host=_x._tcp.test,ok.test,1",
                                                 "--srv-host=_x._tcp.test,bad_host.test,1"]}),
    [{dnsmasq, D}, {ns, [{{127, 0, 0, 1}, Port}]} | Config];
init_per_group(hosts, Config) ->
    case barnacle_netns:available() of
        ok ->
            Net = barnacle_netns:setup({?TAG, ?SUBNET}, 3),
            Dir = filename:join(?config(priv_dir, Config), "dns_hosts"),
            ok = filelib:ensure_dir(filename:join(Dir, "x")),
            Hosts = [barnacle_netns:host(Net, I) || I <- [1, 2, 3]],
            HostNames = [{maps:get(ip4, H), "h" ++ integer_to_list(I) ++ ".svc.test"}
                         || {I, H} <- lists:zip([1, 2, 3], Hosts)],
            barnacle_netns:set_netns_hosts(Net, [[Ip, " ", Name, "\n"] || {Ip, Name} <- HostNames]),
            Srv = ["--srv-host=_app._tcp.svc.test," ++ Name ++ ",4369" || {_, Name} <- HostNames],
            A = [[Ip, " ", Name, "\n"] || {Ip, Name} <- HostNames],
            write_app_records(Dir, Hosts, [1, 2, 3], A),
            D = barnacle_netns:start_dnsmasq(Net, #{dir => Dir, port => 53, extra => Srv}),
            [{net, Net}, {dnsmasq, D}, {dir, Dir}, {hosts, Hosts}, {a_extra, A},
             {ns, [{bridge_address(Net), 53}]}
             | Config];
        {skip, Why} ->
            {skip, Why}
    end.

end_per_group(hosts, Config) ->
    barnacle_netns:stop_dnsmasq(?config(dnsmasq, Config)),
    barnacle_netns:teardown(?config(net, Config));
end_per_group(_, Config) ->
    barnacle_netns:stop_dnsmasq(?config(dnsmasq, Config)).

init_per_testcase(Case, Config) ->
    [{prefix, Case}, {peers, ets:new(peers, [public, bag])} | Config].

end_per_testcase(_Case, Config) ->
    Result = barnacle_test_peers:stop_all(?config(peers, Config)),
    case ?config(net, Config) of
        undefined -> ok;
        _ ->
            %% Restore the records and a running dnsmasq for the next case.
            write_app_records(?config(dir, Config), ?config(hosts, Config), [1, 2, 3],
                              ?config(a_extra, Config)),
            ensure_dnsmasq(?config(dnsmasq, Config), Config)
    end,
    Result.

%% dnsmasq listens on the bridge's address, which every host reaches.
bridge_address(Net) ->
    {ok, Ip} = inet:parse_address(maps:get(bridge4, barnacle_netns:host(Net, 1))),
    Ip.

%%% Loopback cases

bad_answers_are_clear_errors(Config) ->
    NS = ?config(ns, Config),
    D = fun(Name, Opts) -> barnacle_native:discover_dns(Name, maps:merge(#{nameservers => NS,
                                                                          timeout => 2000}, Opts)) end,
    ?assertEqual({error, nxdomain}, D("missing.test", #{})),
    ?assertEqual({error, no_records}, D("v4only.test", #{families => inet6})),
    ?assertMatch({ok, #{records := [{10, 0, 0, 9}]}}, D("v4only.test", #{})),
    ?assertMatch({ok, #{records := [{16#fd00, 0, 0, 0, 0, 0, 0, 9}]}}, D("v6only.test", #{})),
    ?assertMatch({ok, #{records := [{10, 0, 0, 1}]}}, D("alias2.test", #{})),
    ?assertMatch({ok, #{records := R, truncated := 990}} when length(R) =:= 10,
                 D("many.test", #{max_records => 10})),
    ?assertMatch({ok, #{records := [{_, _, 1, <<"ok.test">>}], rejected := 1}},
                 D("_x._tcp.test", #{kind => srv})),
    ?assertEqual({error, bad_name}, D("not a name", #{})),
    %% A black-holed nameserver: a UDP socket that never answers.
    {ok, Hole} = gen_udp:open(0, [{ip, {127, 0, 0, 1}}]),
    {ok, HolePort} = inet:port(Hole),
    T0 = erlang:monotonic_time(millisecond),
    ?assertEqual({error, timeout},
                 barnacle_native:discover_dns("app.test", #{nameservers => [{{127, 0, 0, 1}, HolePort}],
                                                            timeout => 400})),
    ?assert(erlang:monotonic_time(millisecond) - T0 < 1500),
    gen_udp:close(Hole),
    %% Through the strategy: the DNS reason in a strategy_error.
    {ok, _} = application:ensure_all_started(barnacle),
    Strategy = fun(Q) -> #{strategy => {dns, #{basename => app, query => Q, nameservers => NS,
                                              timeout => 1000}},
                           discover_timeout => 3000} end,
    Peer = peer_on_loopback(Config),
    ?assertEqual({error, {strategy_error, {dns, nxdomain}}},
                 call(Peer, barnacle_cluster, run_once, [Strategy("missing.test")])),
    ?assertMatch({error, {invalid_config, strategy, {missing_option, basename}}},
                 call(Peer, barnacle_cluster, run_once,
                      [#{strategy => {dns, #{query => "x.test"}}}])),
    ?assertMatch({error, {invalid_config, strategy, {invalid_option, families, ipv5}}},
                 call(Peer, barnacle_cluster, run_once,
                      [#{strategy => {dns, #{basename => a, query => "x.test", families => ipv5}}}])),
    ?assertMatch({error, {invalid_config, strategy, {invalid_option, basename, <<"a b">>}}},
                 call(Peer, barnacle_cluster, run_once,
                      [#{strategy => {dns, #{basename => <<"a b">>, query => "x.test"}}}])).

many_records_create_bounded_atoms(Config) ->
    NS = ?config(ns, Config),
    Peer = peer_on_loopback(Config),
    %% Warm up: load every module a DNS pass uses (loading code makes atoms).
    {error, {connect_error, _}} =
        call(Peer, barnacle_cluster, run_once,
             [#{strategy => {dns, #{basename => app, query => "app.test", nameservers => NS}},
                connect_timeout => 300}]),
    Before = call(Peer, erlang, system_info, [atom_count]),
    {ok, _} = call(Peer, barnacle_cluster, start,
                   [#{strategy => {dns, #{basename => app, query => "many.test", nameservers => NS}},
                      name => many, max_nodes => 20, connect_timeout => 300,
                      poll_interval => 60000}]),
    {error, {connect_error, Failed}} = call(Peer, barnacle_cluster, refresh, [many, 10000]),
    ?assertEqual(20, length(Failed)),
    After = call(Peer, erlang, system_info, [atom_count]),
    ct:pal("atoms: ~b before, ~b after (1000 records, max_nodes 20)", [Before, After]),
    %% 20 node names, plus a handful made by the connection attempts.
    ?assert(After - Before < 40).

basename_helper(_Config) ->
    ?assertEqual({ok, <<"app">>}, barnacle_dns:node_basename('app@10.0.0.1')),
    ?assertEqual({ok, <<"app">>}, barnacle_dns:node_basename("app@fd00::1")),
    ?assertEqual({error, not_alive}, barnacle_dns:node_basename(nonode@nohost)),
    ?assertEqual({error, not_a_node_name}, barnacle_dns:node_basename(<<"plain">>)),
    ?assertEqual({error, not_a_node_name}, barnacle_dns:node_basename(42)).

peer_on_loopback(Config) ->
    {P, _} = barnacle_test_peers:start(?config(prefix, Config), 1),
    ets:insert(?config(peers, Config), {1, P}),
    P.

%%% Separate hosts

dns_cfg(Config, Extra) ->
    maps:merge(#{strategy => {dns, #{basename => app, query => "app.test",
                                     nameservers => ?config(ns, Config), timeout => 1000}},
                 name => dnsc, listeners => []}, Extra).

host_peers(Config, Indexes, Base, Args) ->
    barnacle_netns:start_app_peers(?config(net, Config), Indexes, Base, Args, ?config(peers, Config)).

dns_forms_cluster_across_hosts(Config) ->
    ct:comment("three hosts, each with its own address and epmd, cluster from A records"),
    Peers = host_peers(Config, [1, 2, 3], "app", []),
    [{ok, _} = call(P, barnacle_cluster, start, [dns_cfg(Config, #{})]) || {P, _} <- Peers],
    ok = barnacle_test_peers:assert_full_mesh(Peers, dnsc, 30000).

prune_follows_dns_keep_without_prune(Config) ->
    ct:comment("a host taken out of DNS is pruned with prune, kept without"),
    [{P1, _}, {_, N2}, {_, N3}] = host_peers(Config, [1, 2, 3], "app", []),
    {ok, _} = call(P1, barnacle_cluster, start, [dns_cfg(Config, #{prune => true, name => pr})]),
    {ok, _} = call(P1, barnacle_cluster, await_members, [pr, 2, 30000], 35000),
    set_app_records(Config, [1, 2]),
    {ok, [N2]} = refresh_until(P1, pr, fun({ok, L}) -> L =:= [N2]; (_) -> false end),
    ?assertEqual([N2], call(P1, erlang, nodes, [])),
    ok = call(P1, barnacle_cluster, shutdown, [pr, 5000]),
    set_app_records(Config, [1, 2, 3]),
    {ok, _} = call(P1, barnacle_cluster, start, [dns_cfg(Config, #{name => keep})]),
    {ok, _} = call(P1, barnacle_cluster, await_members, [keep, 2, 30000], 35000),
    set_app_records(Config, [1, 2]),
    {ok, [N2]} = refresh_until(P1, keep, fun({ok, L}) -> L =:= [N2]; (_) -> false end),
    ?assertEqual(lists:sort([N2, N3]), lists:sort(call(P1, erlang, nodes, []))).

dns_outage_keeps_cluster(Config) ->
    ct:comment("dnsmasq killed: errors, nothing pruned; restarted: passes resume"),
    [{P1, _} | _] = Peers = host_peers(Config, [1, 2, 3], "app", []),
    Others = lists:sort([N || {_, N} <- tl(Peers)]),
    {ok, _} = call(P1, barnacle_cluster, start,
                   [dns_cfg(Config, #{prune => true,
                                      listeners => [call(P1, barnacle_test_peers, listener, [])]})]),
    {ok, Others} = call(P1, barnacle_cluster, await_members, [dnsc, 2, 30000], 35000),
    barnacle_netns:stop_dnsmasq(?config(dnsmasq, Config)),
    {error, {strategy_error, {dns, Reason}}} = call(P1, barnacle_cluster, refresh, [dnsc, 10000]),
    ct:pal("with dnsmasq down: ~p", [Reason]),
    ?assertEqual(Others, lists:sort(call(P1, erlang, nodes, []))),
    {ok, _} = call(P1, barnacle_test_peers, await,
                   [fun({_, {refresh_response, {error, {strategy_error, _}}}}) -> true;
                       (_) -> false end, 5000]),
    ensure_dnsmasq(?config(dnsmasq, Config), Config),
    {ok, Others} = refresh_until(P1, dnsc, fun({ok, _}) -> true; (_) -> false end).

ipv6_cluster_over_inet6_tcp(Config) ->
    ct:comment("AAAA records, IPv6 node names (app6@fd77:..), -proto_dist inet6_tcp"),
    Peers = host_peers(Config, [1, 2, 3], "app6", ["-proto_dist", "inet6_tcp"]),
    Cfg = #{strategy => {dns, #{basename => app6, query => "app6.test", families => inet6,
                                nameservers => ?config(ns, Config), timeout => 1000}},
            name => v6},
    [{ok, _} = call(P, barnacle_cluster, start, [Cfg]) || {P, _} <- Peers],
    ok = barnacle_test_peers:assert_full_mesh(Peers, v6, 30000).

srv_cluster_by_host_names(Config) ->
    ct:comment("SRV targets name the nodes: app@h1.svc.test, ..."),
    Net = ?config(net, Config),
    Peers = [begin
                 {P, N} = barnacle_netns:start_peer(Net, I, "app@h" ++ integer_to_list(I) ++ ".svc.test",
                                                    #{}),
                 ets:insert(?config(peers, Config), {I, P}),
                 {P, N}
             end || I <- [1, 2, 3]],
    Cfg = #{strategy => {dns_srv, #{basename => <<"app">>, query => "_app._tcp.svc.test",
                                    nameservers => ?config(ns, Config), timeout => 1000}},
            name => srv},
    [{ok, _} = call(P, barnacle_cluster, start, [Cfg]) || {P, _} <- Peers],
    ok = barnacle_test_peers:assert_full_mesh(Peers, srv, 30000).

%%% Helpers

free_udp_port() ->
    {ok, S} = gen_udp:open(0, [{ip, {127, 0, 0, 1}}]),
    {ok, P} = inet:port(S),
    gen_udp:close(S),
    P.

write_app_records(Dir, Hosts, Indexes, Extra) ->
    Lines = [[maps:get(ip4, lists:nth(I, Hosts)), " app.test\n",
              maps:get(ip6, lists:nth(I, Hosts)), " app6.test\n"] || I <- Indexes],
    barnacle_netns:write_hosts(Dir, [Lines, Extra]).

set_app_records(Config, Indexes) ->
    write_app_records(?config(dir, Config), ?config(hosts, Config), Indexes, ?config(a_extra, Config)),
    barnacle_netns:reload_dnsmasq(?config(dnsmasq, Config)).

%% dnsmasq re-reads its files on SIGHUP asynchronously: refresh until the
%% result says it has (bounded).
refresh_until(P, Name, Pred) ->
    refresh_until(P, Name, Pred, 100).
refresh_until(_P, _Name, _Pred, 0) ->
    error(condition_not_reached);
refresh_until(P, Name, Pred, N) ->
    R = call(P, barnacle_cluster, refresh, [Name, 10000]),
    case Pred(R) of
        true -> R;
        false -> timer:sleep(50), refresh_until(P, Name, Pred, N - 1)
    end.

ensure_dnsmasq(#{pidfile := PidFile, opts := Opts}, Config) ->
    case filelib:is_file(PidFile) of
        true -> barnacle_netns:reload_dnsmasq(#{pidfile => PidFile});
        false -> _ = barnacle_netns:start_dnsmasq(?config(net, Config), Opts), ok
    end.
