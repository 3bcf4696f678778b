%% `make demo': five local nodes form a cluster with barnacle's local_epmd
%% strategy; one is killed with SIGKILL and restarted; the cluster heals.
%% Prints the membership matrix as it changes, the timeline and the heal
%% time, stops every node it started and exits 0 (non-zero if the cluster
%% did not form or heal in time).
-module(barnacle_demo).

-export([main/0, recorder/0, events/0]).

-define(N, 5).
-define(VICTIM, 3).
-define(DEADLINE_MS, 20000).

main() ->
    T0 = now_ms(),
    Cookie = "demo_" ++ integer_to_list(erlang:unique_integer([positive])),
    Prefix = "barnacle_demo_" ++ os:getpid(),
    Names = [name(Prefix, I) || I <- lists:seq(1, ?N)],
    Basenames = [list_to_binary(N) || N <- Names],
    io:format("barnacle demo: ~b nodes on 127.0.0.1, strategy local_epmd, "
              "poll 5000 ms, default backoff~n~n", [?N]),
    Peers = [start_node(Prefix, I, Cookie, Basenames) || I <- lists:seq(1, ?N)],
    Result =
        try
            io:format("-- forming~n"),
            {ok, Formed} = watch(Peers, T0, full),
            io:format("   full mesh ~b ms after start~n~n", [Formed - T0]),
            {Victim, VictimNode} = lists:nth(?VICTIM, Peers),
            io:format("-- kill -9 ~s~n", [VictimNode]),
            Killed = now_ms(),
            kill(Victim),
            Others = lists:keydelete(Victim, 1, Peers),
            {ok, Seen} = watch(Others, T0, {without, VictimNode}),
            io:format("   the others saw it go ~b ms after the kill~n~n", [Seen - Killed]),
            io:format("-- restart ~s~n", [VictimNode]),
            Restarted = start_node(Prefix, ?VICTIM, Cookie, Basenames),
            Registered = now_ms(),
            Peers2 = lists:keyreplace(Victim, 1, Peers, Restarted),
            {ok, Healed} = watch(Peers2, T0, full),
            io:format("~n-- timeline (ms since start)~n"),
            [io:format("   ~6b  ~s~n", [T - T0, What])
             || {T, What} <- [{Formed, "full mesh formed"},
                              {Killed, "node 3 killed (SIGKILL)"},
                              {Seen, "every other node saw node 3 down"},
                              {Registered, "node 3 restarted and registered with epmd"},
                              {Healed, "full mesh again"}]],
            print_events(Peers2, T0),
            io:format("~nheal time: ~b ms from the restarted node registering with "
                      "epmd to a full mesh (poll interval 5000 ms)~n", [Healed - Registered]),
            stop_all(Peers2),
            ok
        catch
            Class:Reason:Stack ->
                io:format("demo failed: ~p:~p~n~p~n", [Class, Reason, Stack]),
                stop_all(Peers),
                error
        end,
    io:format("~ndemo finished in ~.1f s~n", [(now_ms() - T0) / 1000]),
    halt(case Result of ok -> 0; error -> 1 end).

name(Prefix, I) -> Prefix ++ "_" ++ integer_to_list(I).

start_node(Prefix, I, Cookie, Basenames) ->
    Ebins = lists:usort([filename:dirname(code:which(M)) || M <- [barnacle_cluster, ?MODULE]]),
    {ok, Peer, Node} = start_peer(list_to_atom(name(Prefix, I)), Cookie, Ebins, 50),
    Rec = peer:call(Peer, erlang, spawn, [?MODULE, recorder, []]),
    {ok, _} = peer:call(Peer, barnacle_cluster, start,
                        [#{strategy => {local_epmd, #{basenames => Basenames}},
                           name => demo, listeners => [Rec]}]),
    {Peer, Node}.

start_peer(Name, Cookie, Ebins, Tries) ->
    case peer:start(#{name => Name, host => "127.0.0.1", longnames => true,
                      connection => standard_io,
                      args => lists:append([["-pa", E] || E <- Ebins]) ++
                              ["-setcookie", Cookie, "-kernel", "logger_level", "error"]}) of
        {ok, _, _} = Ok -> Ok;
        %% After a SIGKILL, epmd may hold the name for a moment longer.
        _ when Tries > 0 -> timer:sleep(100), start_peer(Name, Cookie, Ebins, Tries - 1);
        Other -> error({cannot_start, Name, Other})
    end.

kill(Peer) ->
    OsPid = peer:call(Peer, os, getpid, []),
    Ref = erlang:monitor(process, Peer),
    _ = os:cmd("kill -9 " ++ OsPid),
    receive {'DOWN', Ref, process, Peer, _} -> ok after 5000 -> error(not_killed) end.

stop_all(Peers) ->
    [catch peer:stop(P) || {P, _} <- Peers],
    ok.

%% Polls every node's connections, printing the matrix whenever it changes,
%% until the goal holds. Returns the time it first held.
watch(Peers, T0, Goal) ->
    watch(Peers, T0, Goal, now_ms() + ?DEADLINE_MS, undefined).

watch(Peers, T0, Goal, Deadline, Last) ->
    Nodes = [N || {_, N} <- Peers],
    View = [{N, lists:sort(catch peer:call(P, erlang, nodes, []))} || {P, N} <- Peers],
    Now = now_ms(),
    View =/= Last andalso print_matrix(Nodes, View, Now - T0),
    case reached(Goal, Nodes, View) of
        true -> {ok, Now};
        false when Now > Deadline -> error({goal_not_reached, Goal});
        false -> timer:sleep(20), watch(Peers, T0, Goal, Deadline, View)
    end.

reached(full, Nodes, View) ->
    lists:all(fun({N, Seen}) -> Seen =:= lists:sort(Nodes -- [N]) end, View);
reached({without, Gone}, _Nodes, View) ->
    lists:all(fun({_, Seen}) -> not lists:member(Gone, Seen) end, View).

print_matrix(Nodes, View, Ms) ->
    Short = fun(N) -> lists:last(string:split(hd(string:split(atom_to_list(N), "@")), "_", trailing)) end,
    io:format("   ~6b ms   ~s~n", [Ms, string:join([Short(N) || N <- Nodes], " ")]),
    [io:format("             ~s: ~s~n",
               [Short(N), string:join([cell(N, M, Seen) || M <- Nodes], " ")])
     || {N, Seen} <- View].

cell(N, N, _) -> "-";
cell(_, M, Seen) when is_list(Seen) ->
    case lists:member(M, Seen) of true -> "#"; false -> "." end;
cell(_, _, _) -> "?".

%% Events each node's barnacle reported about the victim.
print_events(Peers, T0) ->
    io:format("~n-- barnacle events about node 3~n"),
    {_, Victim} = lists:nth(?VICTIM, Peers),
    _ = [[io:format("   ~6b  on ~s: ~0p~n", [T - T0, short(N), E])
          || {T, E} <- peer:call(P, ?MODULE, events, []), mentions(E, Victim)]
         || {P, N} <- Peers, N =/= Victim],
    ok.

%% Runs in a peer: the events its recorder kept.
events() ->
    barnacle_demo_recorder ! {get, self()},
    receive {events, E} -> E after 5000 -> [] end.

mentions({node_connected, V}, V) -> true;
mentions({node_disconnected, V, _}, V) -> true;
mentions({connect_failed, V, _}, V) -> true;
mentions(_, _) -> false.

short(N) -> hd(string:split(atom_to_list(N), "@")).

%% Runs in each peer: keeps barnacle's events with their time.
recorder() ->
    register(barnacle_demo_recorder, self()),
    recorder_loop([]).

recorder_loop(Acc) ->
    receive
        {get, From} -> From ! {events, lists:reverse(Acc)}, recorder_loop(Acc);
        Event -> recorder_loop([{now_ms(), Event} | Acc])
    end.

now_ms() -> erlang:system_time(millisecond).
