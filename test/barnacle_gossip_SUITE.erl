%% Gossip: clusters formed by UDP multicast alone, on loopback and between
%% real separate hosts (network namespaces on a bridge); groups with
%% different secrets apart; and a hostile sender that cannot crash, steer
%% or bloat anything.
-module(barnacle_gossip_SUITE).
-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

-export([all/0, groups/0, suite/0, init_per_group/2, end_per_group/2,
         init_per_testcase/2, end_per_testcase/2]).
-export([forms_cluster_on_loopback/1, late_joiner_connected_within_an_interval/1,
         different_secrets_stay_apart/1, hostile_sender_cannot_hurt/1,
         open_group_bounds_names_and_rate/1, config_errors_hide_the_secret/1,
         socket_closed_on_stop_two_barnacles_share_port/1,
         multicast_between_hosts/1]).

-import(barnacle_test_peers, [call/4, call/5]).

-define(GROUP, {239, 255, 43, 21}).
-define(SECRET, <<"correct horse battery staple">>).

suite() -> [{timetrap, {seconds, 120}}].

all() -> [{group, loopback}, {group, hosts}].

groups() ->
    [{loopback, [], [forms_cluster_on_loopback, late_joiner_connected_within_an_interval,
                     different_secrets_stay_apart, hostile_sender_cannot_hurt,
                     open_group_bounds_names_and_rate, config_errors_hide_the_secret,
                     socket_closed_on_stop_two_barnacles_share_port]},
     {hosts, [], [multicast_between_hosts]}].

init_per_group(hosts, Config) ->
    case barnacle_netns:available() of
        ok -> [{net, barnacle_netns:setup({"gsp", 34}, 3)} | Config];
        {skip, Why} -> {skip, Why}
    end;
init_per_group(_, Config) ->
    Config.

end_per_group(hosts, Config) -> barnacle_netns:teardown(?config(net, Config));
end_per_group(_, _) -> ok.

init_per_testcase(Case, Config) ->
    [{prefix, Case}, {port, free_udp_port()}, {peers, ets:new(peers, [public, bag])} | Config].

end_per_testcase(_Case, Config) ->
    barnacle_test_peers:stop_all(?config(peers, Config)).

free_udp_port() ->
    {ok, S} = gen_udp:open(0, [{ip, {127, 0, 0, 1}}]),
    {ok, P} = inet:port(S),
    gen_udp:close(S),
    P.

gossip(Config, Extra) ->
    {gossip, maps:merge(#{port => ?config(port, Config), multicast_if => {127, 0, 0, 1},
                          interval => 200, secret => ?SECRET}, Extra)}.

peer(Config, I) ->
    {P, N} = barnacle_test_peers:start(?config(prefix, Config), I),
    ets:insert(?config(peers, Config), {I, P}),
    {P, N}.

start(P, Strategy, Extra) ->
    Collector = call(P, barnacle_test_peers, listener, []),
    {ok, Pid} = call(P, barnacle_cluster, start,
                     [maps:merge(#{strategy => Strategy, name => g, poll_interval => 60000,
                                   listeners => [Collector]}, Extra)]),
    Pid.

forms_cluster_on_loopback(Config) ->
    ct:comment("three nodes, gossip only (poll a minute away), full mesh"),
    Peers = [peer(Config, I) || I <- [1, 2, 3]],
    [start(P, gossip(Config, #{}), #{}) || {P, _} <- Peers],
    ok = barnacle_test_peers:assert_full_mesh(Peers, g, 10000).

late_joiner_connected_within_an_interval(Config) ->
    ct:comment("a node that joins later is connected about one announce interval after it starts"),
    [{P1, _}, {P2, _}] = [peer(Config, I) || I <- [1, 2]],
    Interval = 500,
    [start(P, gossip(Config, #{interval => Interval}), #{}) || P <- [P1, P2]],
    {ok, _} = call(P1, barnacle_cluster, await_members, [g, 1, 10000], 15000),
    {P3, N3} = peer(Config, 3),
    T0 = call(P1, erlang, monotonic_time, [millisecond]),
    start(P3, gossip(Config, #{interval => Interval}), #{}),
    {ok, {T1, _}} = call(P1, barnacle_test_peers, await,
                         [fun({T, {node_connected, N}}) -> N =:= N3 andalso T >= T0;
                             (_) -> false end, 10000], 15000),
    ct:pal("late joiner connected after ~b ms (interval ~b ms)", [T1 - T0, Interval]),
    ?assert(T1 - T0 < 4 * Interval).

different_secrets_stay_apart(Config) ->
    ct:comment("two groups, same address and port, different secrets: two clusters"),
    [A1, A2, B1, B2] = [peer(Config, I) || I <- [1, 2, 3, 4]],
    [start(P, gossip(Config, #{secret => <<"secret-of-group-a">>}), #{}) || {P, _} <- [A1, A2]],
    [start(P, gossip(Config, #{secret => <<"secret-of-group-b">>}), #{}) || {P, _} <- [B1, B2]],
    {ok, [_]} = call(element(1, A1), barnacle_cluster, await_members, [g, 1, 10000], 15000),
    {ok, [_]} = call(element(1, B1), barnacle_cluster, await_members, [g, 1, 10000], 15000),
    %% Once each side has dropped several of the other group's packets,
    %% neither has connected across.
    [until(fun() ->
                   {ok, #{dropped := D}} = call(P, barnacle_cluster, strategy_info, [g]),
                   maps:get(wrong_cluster, D, 0) >= 6
           end, 200) || {P, _} <- [A1, B1]],
    ?assertEqual([element(2, A2)], call(element(1, A1), erlang, nodes, [])),
    ?assertEqual([element(2, B2)], call(element(1, B1), erlang, nodes, [])).

%% Waits (bounded) until a condition holds.
until(_F, 0) -> error(condition_not_reached);
until(F, N) ->
    case F() of
        true -> ok;
        false -> timer:sleep(50), until(F, N - 1)
    end.

hostile_sender_cannot_hurt(Config) ->
    ct:comment("forged, garbage, replayed and oversized packets: counted, harmless"),
    [{P1, _}, {P2, N2}] = [peer(Config, I) || I <- [1, 2]],
    Pid = start(P1, gossip(Config, #{}), #{}),
    start(P2, gossip(Config, #{}), #{}),
    {ok, [N2]} = call(P1, barnacle_cluster, await_members, [g, 1, 10000], 15000),
    %% Sniff a real announcement, as anyone on the segment could.
    Port = ?config(port, Config),
    {ok, Sniff} = gen_udp:open(Port, [binary, {active, false}, {reuseaddr, true},
                                      {add_membership, {?GROUP, {127, 0, 0, 1}}},
                                      {multicast_if, {127, 0, 0, 1}}]),
    {ok, {_, _, Real}} = gen_udp:recv(Sniff, 0, 5000),
    Before = call(P1, erlang, system_info, [atom_count]),
    <<Head:38/binary, Len, _Name:Len/binary, _Mac:32/binary>> = Real,
    Forged = [<<Head/binary, (byte_size(N)), N/binary, (crypto:strong_rand_bytes(32))/binary>>
              || I <- lists:seq(1, 500),
                 N <- [iolist_to_binary(["evil", integer_to_list(I), "@10.66.0.1"])]],
    Garbage = [crypto:strong_rand_bytes(rand:uniform(700) - 1) || _ <- lists:seq(1, 1500)],
    Replays = lists:duplicate(500, Real),
    Oversized = [crypto:strong_rand_bytes(9000) || _ <- lists:seq(1, 50)],
    Unauth = [<<"BNCL", 1, 0, (binary:part(Head, 6, 32))/binary, 9, "x@10.6.6.6">>
              || _ <- lists:seq(1, 200)],
    Send = fun(Pkt) -> gen_udp:send(Sniff, ?GROUP, Port, Pkt) end,
    Dropped = fun(R) ->
                      {ok, #{dropped := D0}} = call(P1, barnacle_cluster, strategy_info, [g]),
                      maps:get(R, D0, 0)
              end,
    %% Batch after batch; the kernel may drop part of a flood, so before the
    %% next batch wait until this one's kind of drop has been counted.
    Reasons = [bad_mac, too_short, replayed, too_long, unauthenticated],
    [begin
         [Send(X) || X <- Batch],
         until(fun() -> Dropped(Reason) > 0 end, 200)
     end || {Batch, Reason} <- lists:zip([Forged, Garbage, Replays, Oversized, Unauth], Reasons)],
    {ok, Info} = call(P1, barnacle_cluster, strategy_info, [g]),
    {ok, [{member, N2, connected, _, _}]} = call(P1, barnacle_cluster, members, [g]),
    ?assert(call(P1, erlang, is_process_alive, [Pid])),
    #{dropped := D} = Info,
    ct:pal("dropped: ~p", [D]),
    [?assert(maps:get(R, D, 0) > 0) || R <- Reasons],
    %% No attempt to connect any forged name, and no atoms made from them.
    Events = call(P1, barnacle_test_peers, events, [all]),
    ?assertEqual([], [E || {_, E} <- Events, mentions_evil(E)]),
    After = call(P1, erlang, system_info, [atom_count]),
    ?assert(After - Before < 20),
    {message_queue_len, Q} = call(P1, erlang, process_info, [Pid, message_queue_len]),
    ?assert(Q < 1000),
    gen_udp:close(Sniff).

mentions_evil(E) ->
    lists:prefix("evil", lists:flatten(io_lib:format("~p", [element(2, E)]))) orelse
        string:find(io_lib:format("~p", [E]), "6.6.6") =/= nomatch.

open_group_bounds_names_and_rate(Config) ->
    ct:comment("without a secret: names validated, at most max_nodes tracked, attempts rate-limited"),
    [{P1, _}] = [peer(Config, 1)],
    Pid = start(P1, gossip(Config, #{secret => none, max_nodes => 10, connect_rate => 5}),
                #{connect_timeout => 200}),
    Port = ?config(port, Config),
    {ok, S} = gen_udp:open(0, [binary, {multicast_if, {127, 0, 0, 1}}]),
    Open = fun(Name) -> <<"BNCL", 1, 0, 0:64, (erlang:system_time(millisecond)):64,
                          (crypto:strong_rand_bytes(16))/binary, (byte_size(Name)), Name/binary>> end,
    %% Warm up: the first connection attempt loads code (which makes atoms).
    gen_udp:send(S, ?GROUP, Port, Open(<<"warmup@10.77.0.1">>)),
    {ok, _} = call(P1, barnacle_test_peers, await,
                   [fun({_, {connect_failed, 'warmup@10.77.0.1', _}}) -> true; (_) -> false end,
                    5000], 10000),
    Before = call(P1, erlang, system_info, [atom_count]),
    [gen_udp:send(S, ?GROUP, Port, Open(<<"not a node">>)) || _ <- lists:seq(1, 100)],
    [gen_udp:send(S, ?GROUP, Port, Open(iolist_to_binary(["spam", integer_to_list(I), "@10.77.0.1"])))
     || I <- lists:seq(1, 2000)],
    %% A flood can overrun the socket's buffer (the kernel drops then);
    %% wait until the barnacle has seen all it will before counting.
    until(fun() ->
                  {ok, #{dropped := D0}} = call(P1, barnacle_cluster, strategy_info, [g]),
                  maps:get(bad_name, D0, 0) > 0 andalso maps:get(too_many_names, D0, 0) > 0
          end, 200),
    {ok, #{dropped := D, tracked := Tracked}} = call(P1, barnacle_cluster, strategy_info, [g]),
    ct:pal("dropped ~p, tracked ~p", [D, Tracked]),
    ?assertEqual(10, Tracked),   % the warm-up name and nine of the spam
    ?assert(maps:get(too_many_names, D, 0) > 0),
    ?assert(maps:get(bad_name, D, 0) > 0),
    ?assert(maps:get(rate_limited, D, 0) > 0),
    After = call(P1, erlang, system_info, [atom_count]),
    ct:pal("atoms: ~b before, ~b after", [Before, After]),
    %% At most max_nodes names were ever tracked, so at most that many atoms.
    ?assert(After - Before =< 10),
    ?assert(call(P1, erlang, is_process_alive, [Pid])),
    %% Names that fall silent are forgotten (three intervals of 200 ms), so
    %% a flood does not hold the places for ever.
    until(fun() ->
                  {ok, #{tracked := T}} = call(P1, barnacle_cluster, strategy_info, [g]),
                  T =:= 0
          end, 200),
    gen_udp:close(S).

config_errors_hide_the_secret(Config) ->
    ct:comment("a bad secret is reported as redacted"),
    [{P1, _}] = [peer(Config, 1)],
    {error, {invalid_config, strategy, {invalid_option, secret, redacted}}} =
        call(P1, barnacle_cluster, start, [#{strategy => gossip(Config, #{secret => "short"})}]),
    {error, {invalid_config, strategy, {invalid_option, ttl, 999}}} =
        call(P1, barnacle_cluster, start, [#{strategy => gossip(Config, #{ttl => 999})}]).

socket_closed_on_stop_two_barnacles_share_port(Config) ->
    ct:comment("two barnacles with gossip on one node and port; sockets closed on stop"),
    [{P1, _}, {P2, N2}] = [peer(Config, I) || I <- [1, 2]],
    Udp = fun() -> length([P || P <- call(P1, erlang, ports, []),
                                call(P1, erlang, port_info, [P, name]) =:= {name, "udp_inet"}]) end,
    Base = Udp(),
    {ok, _} = call(P1, barnacle_cluster, start, [#{strategy => gossip(Config, #{}), name => g1}]),
    {ok, _} = call(P1, barnacle_cluster, start, [#{strategy => gossip(Config, #{}), name => g2}]),
    start(P2, gossip(Config, #{}), #{}),
    {ok, [N2]} = call(P1, barnacle_cluster, await_members, [g1, 1, 10000], 15000),
    {ok, [N2]} = call(P1, barnacle_cluster, await_members, [g2, 1, 10000], 15000),
    ?assertEqual(Base + 2, Udp()),
    ok = call(P1, barnacle_cluster, shutdown, [g1, 5000]),
    ok = call(P1, barnacle_cluster, shutdown, [g2, 5000]),
    ?assertEqual(Base, Udp()).

multicast_between_hosts(Config) ->
    ct:comment("real multicast across a bridge: three hosts form a cluster by gossip alone"),
    Net = ?config(net, Config),
    Peers = [{P, N, maps:get(ip4_tuple, barnacle_netns:host(Net, I))}
             || {I, {P, N}} <- lists:zip([1, 2, 3], barnacle_netns:start_app_peers(
                                                       Net, [1, 2, 3], "app", [],
                                                       ?config(peers, Config)))],
    [start(P, {gossip, #{port => 45892, multicast_if => T, interval => 300, secret => ?SECRET}},
           #{}) || {P, _, T} <- Peers],
    ok = barnacle_test_peers:assert_full_mesh([{P, N} || {P, N, _} <- Peers], g, 15000).
