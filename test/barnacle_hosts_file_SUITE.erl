%% The `.hosts.erlang' strategy: file errors on loopback; formation across
%% real separate hosts (network namespaces, each with its own epmd) with a
%% dead host listed too.
-module(barnacle_hosts_file_SUITE).
-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

-export([all/0, groups/0, suite/0, init_per_group/2, end_per_group/2,
         init_per_testcase/2, end_per_testcase/2]).
-export([file_errors_are_strategy_errors/1, loopback_hosts_form_cluster/1,
         hosts_form_cluster_dead_host_reported/1]).

-import(barnacle_test_peers, [call/4, call/5]).

suite() -> [{timetrap, {seconds, 120}}].

all() -> [{group, loopback}, {group, hosts}].

groups() ->
    [{loopback, [], [file_errors_are_strategy_errors, loopback_hosts_form_cluster]},
     {hosts, [], [hosts_form_cluster_dead_host_reported]}].

init_per_group(hosts, Config) ->
    case barnacle_netns:available() of
        ok -> [{net, barnacle_netns:setup({"hf", 32}, 3)} | Config];
        {skip, Why} -> {skip, Why}
    end;
init_per_group(_, Config) ->
    Config.

end_per_group(hosts, Config) ->
    barnacle_netns:teardown(?config(net, Config));
end_per_group(_, _Config) ->
    ok.

init_per_testcase(Case, Config) ->
    [{prefix, Case}, {peers, ets:new(peers, [public, bag])} | Config].

end_per_testcase(_Case, Config) ->
    barnacle_test_peers:stop_all(?config(peers, Config)).

write(Config, Name, Hosts) ->
    Path = filename:join(?config(priv_dir, Config), Name),
    ok = file:write_file(Path, [io_lib:format("~p.~n", [H]) || H <- Hosts]),
    Path.

file_errors_are_strategy_errors(Config) ->
    ct:comment("missing, unparsable and invalid files give clear errors"),
    {P, _} = barnacle_test_peers:start(?config(prefix, Config), 1),
    ets:insert(?config(peers, Config), {1, P}),
    Missing = filename:join(?config(priv_dir, Config), "nope.hosts"),
    ?assertEqual({error, {strategy_error, {hosts_file, enoent}}},
                 call(P, barnacle_cluster, run_once, [#{strategy => {hosts_file, #{path => Missing}}}])),
    Garbage = filename:join(?config(priv_dir, Config), "garbage.hosts"),
    ok = file:write_file(Garbage, "this is { not erlang"),
    ?assertMatch({error, {strategy_error, {hosts_file, {_, _, _}}}},
                 call(P, barnacle_cluster, run_once, [#{strategy => {hosts_file, #{path => Garbage}}}])),
    Bad = write(Config, "bad.hosts", ['ok.example', 'not a host', {tuple}]),
    ?assertMatch({error, {strategy_error, {hosts_file, {bad_host, _}}}},
                 call(P, barnacle_cluster, run_once, [#{strategy => {hosts_file, #{path => Bad}}}])),
    ?assertMatch({error, {invalid_config, strategy, {invalid_option, timeout, 0}}},
                 call(P, barnacle_cluster, run_once,
                      [#{strategy => {hosts_file, #{path => Bad, timeout => 0}}}])).

loopback_hosts_form_cluster(Config) ->
    ct:comment("hosts file naming this machine; basenames filter"),
    Peers = [barnacle_test_peers:start(?config(prefix, Config), I) || I <- [1, 2, 3]],
    [ets:insert(?config(peers, Config), {I, P}) || {I, {P, _}} <- lists:zip([1, 2, 3], Peers)],
    [{P1, _}, {_, N2}, {_, N3}] = Peers,
    Path = write(Config, "lo.hosts", ['127.0.0.1']),
    Base = [atom_to_binary(barnacle_test_peers:node_name(?config(prefix, Config), I), utf8)
            || I <- [1, 2, 3]],
    {ok, _} = call(P1, barnacle_cluster, start,
                   [#{strategy => {hosts_file, #{path => Path, basenames => Base}}, name => hf}]),
    {ok, Got} = call(P1, barnacle_cluster, await_members, [hf, 2, 20000], 25000),
    ?assertEqual(lists:sort([N2, N3]), Got).

hosts_form_cluster_dead_host_reported(Config) ->
    ct:comment("three live hosts and a dead one: the cluster forms, the dead host is reported"),
    Net = ?config(net, Config),
    Peers = barnacle_netns:start_app_peers(Net, [1, 2, 3], "app", [], ?config(peers, Config)),
    [{P1, _} | Rest] = Peers,
    Hosts = [list_to_atom(maps:get(ip4, barnacle_netns:host(Net, I))) || I <- [1, 2, 3]],
    Dead = '10.77.32.99',
    Path = write(Config, "hosts.erlang", Hosts ++ [Dead]),
    {ok, _} = call(P1, barnacle_cluster, start,
                   [#{strategy => {hosts_file, #{path => Path, timeout => 1000}}, name => hf,
                      listeners => [call(P1, barnacle_test_peers, listener, [])]}]),
    {ok, Got} = call(P1, barnacle_cluster, await_members, [hf, 2, 30000], 35000),
    ?assertEqual(lists:sort([N || {_, N} <- Rest]), Got),
    {ok, {_, Event}} = call(P1, barnacle_test_peers, await,
                            [fun({_, {refresh_response, {error, _}}}) -> true; (_) -> false end,
                             10000]),
    ?assertMatch({refresh_response,
                  {error, {strategy_error, {hosts_unreachable, [{<<"10.77.32.99">>, _}]}}}},
                 Event),
    %% The dead host never answered, so nothing it had is pruned, and the
    %% live hosts stay connected through further passes.
    {error, {strategy_error, _}} = call(P1, barnacle_cluster, refresh, [hf, 10000]),
    ?assertEqual(lists:sort([N || {_, N} <- Rest]), lists:sort(call(P1, erlang, nodes, []))).
