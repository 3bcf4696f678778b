%% Faults: a host cut off and reconnected (network namespaces), nodes
%% killed and restarted at random, and the cluster process itself killed.
-module(barnacle_fault_SUITE).
-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

-export([all/0, groups/0, suite/0, init_per_group/2, end_per_group/2,
         init_per_testcase/2, end_per_testcase/2]).
-export([partition_retries_with_capped_backoff_and_heals/1, churn_ends_whole_and_lean/1,
         killed_cluster_process_rebuilds_its_view/1]).

-import(barnacle_test_peers, [call/4, call/5]).

suite() -> [{timetrap, {seconds, 180}}].

all() -> [{group, loopback}, {group, hosts}].

groups() ->
    [{loopback, [], [churn_ends_whole_and_lean, killed_cluster_process_rebuilds_its_view]},
     {hosts, [], [partition_retries_with_capped_backoff_and_heals]}].

init_per_group(hosts, Config) ->
    case barnacle_netns:available() of
        ok -> [{net, barnacle_netns:setup({"flt", 35}, 3)} | Config];
        {skip, Why} -> {skip, Why}
    end;
init_per_group(_, Config) -> Config.

end_per_group(hosts, Config) -> barnacle_netns:teardown(?config(net, Config));
end_per_group(_, _) -> ok.

init_per_testcase(Case, Config) ->
    [{prefix, Case}, {peers, ets:new(peers, [public, bag])} | Config].

end_per_testcase(_Case, Config) ->
    barnacle_test_peers:stop_all(?config(peers, Config)).

partition_retries_with_capped_backoff_and_heals(Config) ->
    ct:comment("one host's link down: nodedown, capped backoff, nothing pruned; link up: healed"),
    Net = ?config(net, Config),
    %% A short tick so that the cut is noticed in seconds, not a minute.
    Peers = barnacle_netns:start_app_peers(Net, [1, 2, 3], "app", ["-kernel", "net_ticktime", "4"],
                                           ?config(peers, Config)),
    [{P1, _}, {_, N2}, {_, N3}] = Peers,
    Backoff = #{min => 100, max => 800},
    {ok, _} = call(P1, barnacle_cluster, start,
                   [#{strategy => {epmd, [N2, N3]}, name => part, prune => true,
                      poll_interval => 1000, connect_timeout => 500, backoff => Backoff,
                      listeners => [call(P1, barnacle_test_peers, listener, [])]}]),
    {ok, _} = call(P1, barnacle_cluster, await_members, [part, 2, 20000], 25000),
    barnacle_netns:link_down(Net, 3),
    {ok, {TDown, {node_disconnected, N3, Why}}} =
        call(P1, barnacle_test_peers, await,
             [fun({_, {node_disconnected, N, _}}) -> N =:= N3; (_) -> false end, 30000], 35000),
    ct:pal("node 3 seen down: ~p", [Why]),
    %% Let it fail several times.
    {ok, _} = call(P1, barnacle_test_peers, await,
                   [fun({T, {connect_failed, N, _}}) -> N =:= N3 andalso T > TDown + 4000;
                       (_) -> false end, 30000], 35000),
    Fails = [T || {T, {connect_failed, N, _}} <- call(P1, barnacle_test_peers, events, [all]),
                  N =:= N3, T > TDown],
    Gaps = [B - A || {A, B} <- lists:zip(lists:droplast(Fails), tl(Fails))],
    ct:pal("gaps between failed attempts (ms): ~p", [Gaps]),
    ?assert(length(Fails) >= 4),
    %% A gap is the backoff delay plus one attempt (at most connect_timeout),
    %% so gaps grow from the first and stay under max + timeout (+ slack for
    %% a loaded machine).
    ?assert(lists:max(Gaps) =< maps:get(max, Backoff) + 500 + 1000),
    ?assert(lists:last(Gaps) >= hd(Gaps)),
    %% The scheduled delay itself: after five failures an uncapped backoff
    %% would wait 1600 ms; the cap keeps it within [max/2, max].
    {retrying, F, Next, Since} = until_retrying(P1, N3, 5, 100),
    ct:pal("after ~b failures the next retry is ~b ms away", [F, Next - Since]),
    ?assert(Next - Since =< maps:get(max, Backoff)),
    ?assert(Next - Since >= maps:get(max, Backoff) div 2),
    %% Still wanted (no failed discovery, nothing pruned); N2 untouched.
    ?assert(lists:member(N2, call(P1, erlang, nodes, []))),
    barnacle_netns:link_up(Net, 3),
    {ok, _} = call(P1, barnacle_test_peers, await,
                   [fun({T, {node_connected, N}}) -> N =:= N3 andalso T > TDown; (_) -> false end,
                    30000], 35000),
    {ok, Back} = call(P1, barnacle_cluster, await_members, [part, 2, 10000], 15000),
    ?assertEqual(lists:sort([N2, N3]), Back).

%% Polls members/1 until Node is retrying after at least MinFailures.
until_retrying(_P, _Node, _Min, 0) ->
    error(not_retrying);
until_retrying(P, Node, Min, N) ->
    {ok, Members} = call(P, barnacle_cluster, members, [part]),
    case lists:keyfind(Node, 2, Members) of
        {member, Node, {retrying, F, Next}, false, Since} when F >= Min ->
            {retrying, F, Next, Since};
        _ ->
            timer:sleep(50),
            until_retrying(P, Node, Min, N - 1)
    end.

churn_ends_whole_and_lean(Config) ->
    ct:comment("nodes killed and restarted at random for a bounded time"),
    Prefix = ?config(prefix, Config),
    Idx = lists:seq(1, 5),
    Names = [atom_to_binary(barnacle_test_peers:node_name(Prefix, I), utf8) || I <- Idx],
    Cfg = #{strategy => {local_epmd, #{basenames => Names}}, name => churn,
            poll_interval => 2000, backoff => #{min => 50, max => 1000}},
    Start = fun(I) ->
                    {P, N} = barnacle_test_peers:start(Prefix, I),
                    {ok, _} = call(P, barnacle_cluster, start, [Cfg]),
                    ets:insert(?config(peers, Config), {I, P}),
                    {P, N}
            end,
    Peers0 = maps:from_list([{I, Start(I)} || I <- Idx]),
    {P1, _} = maps:get(1, Peers0),
    {ok, _} = call(P1, barnacle_cluster, await_members, [churn, 4, 20000], 25000),
    Pid = call(P1, erlang, whereis, [churn]),
    {memory, Mem0} = call(P1, erlang, process_info, [Pid, memory]),
    rand:seed(exsss, {1, 2, 3}),
    Deadline = erlang:monotonic_time(millisecond) + 12000,
    Peers = churn(Peers0, Start, Deadline, Config, 0),
    %% Node 1 was never killed; at the end every node sees every other.
    All = lists:sort([N || {_, N} <- maps:values(Peers)]),
    [begin
         {ok, Got} = call(P, barnacle_cluster, await_members, [churn, 4, 30000], 35000),
         ?assertEqual(All -- [N], Got)
     end || {P, N} <- maps:values(Peers)],
    {message_queue_len, Q} = call(P1, erlang, process_info, [Pid, message_queue_len]),
    {memory, Mem1} = call(P1, erlang, process_info, [Pid, memory]),
    ct:pal("cluster process memory ~b -> ~b bytes, queue ~b", [Mem0, Mem1, Q]),
    ?assert(Q < 10),
    ?assert(Mem1 < 2 * Mem0 + 50000).

churn(Peers, _Start, Deadline, _Config, Kills) ->
    case erlang:monotonic_time(millisecond) > Deadline of
        true ->
            ct:pal("~b kills and restarts", [Kills]),
            Peers;
        false ->
            I = 1 + rand:uniform(4),
            {P, _} = maps:get(I, Peers),
            barnacle_test_peers:kill(P),
            New = _Start(I),
            churn(Peers#{I := New}, _Start, Deadline, _Config, Kills + 1)
    end.

killed_cluster_process_rebuilds_its_view(Config) ->
    ct:comment("the supervisor restarts a killed barnacle; it adopts live connections, owns none twice"),
    Prefix = ?config(prefix, Config),
    Peers = [barnacle_test_peers:start(Prefix, I) || I <- [1, 2, 3]],
    [ets:insert(?config(peers, Config), {I, P}) || {I, {P, _}} <- lists:zip([1, 2, 3], Peers)],
    [{P1, _}, {_, N2}, {_, N3}] = Peers,
    Spec = barnacle_cluster:child_spec(#{strategy => {epmd, [N2, N3]}, name => sup_c,
                                         prune => true}),
    {ok, _} = call(P1, barnacle_test_peers, start_sup, [fault_sup, [Spec]]),
    {ok, _} = call(P1, barnacle_cluster, await_members, [sup_c, 2, 10000], 15000),
    {ok, Before} = call(P1, barnacle_cluster, members, [sup_c]),
    ?assertEqual([true, true], [O || {member, _, _, O, _} <- Before]),
    Old = call(P1, erlang, whereis, [sup_c]),
    call(P1, erlang, exit, [Old, kill]),
    {ok, Got} = call(P1, barnacle_test_peers, await_restart, [sup_c, Old]),
    ?assertEqual(lists:sort([N2, N3]), Got),
    {ok, After} = call(P1, barnacle_cluster, members, [sup_c]),
    %% One entry per node, connected, adopted (not owned: barnacle did not
    %% make these connections in this life, so it will never prune them).
    ?assertEqual([{N2, connected, false}, {N3, connected, false}],
                 [{N, S, O} || {member, N, S, O, _} <- After]),
    ?assertEqual(lists:sort([N2, N3]), lists:sort(call(P1, erlang, nodes, []))).
