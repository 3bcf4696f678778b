%% `make bench': formation, healing, pass latency with dead entries, native
%% against Erlang, scheduler stalls and idle cost, measured on this machine
%% with real BEAM nodes on loopback. Writes bench/results/latest.{md,json}
%% and bench/results/formation.svg, and prints the table.
%%
%% The controller is not distributed; it drives every node over the node's
%% standard I/O (OTP `peer'). Scenario 3 needs root (an iptables rule that
%% drops SYNs to 127.66.0.0/16, made and removed here); without it the
%% scenario is reported as skipped.
-module(barnacle_bench).

-export([main/0, watch/1, stalls/0, start_watch/0, cluster_cost/2]).

-define(OUT, "bench/results").

main() ->
    T0 = erlang:monotonic_time(millisecond),
    Cookie = "bench_" ++ integer_to_list(erlang:unique_integer([positive])),
    put(cookie, Cookie),
    io:format("barnacle bench on ~s (~b cores), OTP ~s~n",
              [hostname(), erlang:system_info(logical_processors), erlang:system_info(otp_release)]),
    R1 = step("1. formation", fun formation/0),
    R2 = step("2. healing", fun healing/0),
    start_watch(),
    R3 = step("3. pass latency with dead entries", fun pass_latency/0),
    R4 = step("4. native against Erlang", fun native_vs_erlang/0),
    Stalls = stalls(),
    R6 = step("6. idle cost", fun idle/0),
    Results = #{machine => list_to_binary(hostname()), cores => erlang:system_info(logical_processors),
                otp => list_to_binary(erlang:system_info(otp_release)),
                date => list_to_binary(calendar:system_time_to_rfc3339(erlang:system_time(second))),
                formation => R1, healing => R2, pass_latency => R3, native => R4,
                scheduler_stalls => Stalls, idle => R6,
                seconds => (erlang:monotonic_time(millisecond) - T0) div 1000},
    ok = filelib:ensure_dir(?OUT ++ "/x"),
    Md = markdown(Results),
    ok = file:write_file(?OUT ++ "/latest.md", Md),
    ok = file:write_file(?OUT ++ "/latest.json", json(Results)),
    ok = file:write_file(?OUT ++ "/formation.svg", svg(R1)),
    io:format("~n~s~nwritten: ~s/latest.md, latest.json, formation.svg (~b s)~n",
              [Md, ?OUT, maps:get(seconds, Results)]),
    halt(0).

step(Title, F) ->
    io:format("~s ...~n", [Title]),
    try F()
    catch C:E:St ->
            io:format("  ~s failed: ~p:~p~n  ~p~n", [Title, C, E, St]),
            #{error => list_to_binary(io_lib:format("~p:~p", [C, E]))}
    end.

hostname() ->
    {ok, H} = inet:gethostname(),
    H.

%%% Peers

ebins() ->
    lists:usort([filename:dirname(code:which(M)) || M <- [barnacle_cluster, ?MODULE]]).

start_peer(Name) -> start_peer(Name, 50).
start_peer(Name, Tries) ->
    Args = lists:append([["-pa", E] || E <- ebins()]) ++
        ["-setcookie", get(cookie), "-kernel", "logger_level", "error"],
    case peer:start(#{name => Name, host => "127.0.0.1", longnames => true,
                      connection => standard_io, args => Args}) of
        {ok, P, N} -> {P, N};
        _ when Tries > 0 -> timer:sleep(100), start_peer(Name, Tries - 1);
        Other -> error({peer, Name, Other})
    end.

stop_peers(Peers) -> [catch peer:stop(P) || {P, _} <- Peers], ok.

kill(P) ->
    OsPid = peer:call(P, os, getpid, []),
    Ref = erlang:monitor(process, P),
    unlink(P),
    _ = os:cmd("kill -9 " ++ OsPid),
    receive {'DOWN', Ref, process, P, _} -> ok after 10000 -> error(not_killed) end.

name(Prefix, I) -> list_to_atom(Prefix ++ "_" ++ integer_to_list(I)).

now_ms() -> erlang:monotonic_time(millisecond).

%% Waits until every peer sees all the others; returns when (ms).
await_mesh(Peers, Deadline) ->
    Nodes = [N || {_, N} <- Peers],
    Whole = lists:all(fun({P, N}) -> (Nodes -- [N]) -- peer:call(P, erlang, nodes, []) =:= [] end,
                      Peers),
    Now = now_ms(),
    if Whole -> Now;
       Now > Deadline -> error(mesh_not_formed);
       true -> timer:sleep(5), await_mesh(Peers, Deadline)
    end.

median(L) ->
    S = lists:sort(L),
    N = length(S),
    case N rem 2 of
        1 -> lists:nth(N div 2 + 1, S);
        0 -> (lists:nth(N div 2, S) + lists:nth(N div 2 + 1, S)) / 2
    end.

summary(L) ->
    #{median => median(L), min => lists:min(L), max => lists:max(L), runs => length(L)}.

%%% 1. Formation

formation() ->
    [begin
         Times = [formation_run(N, Rep) || Rep <- lists:seq(1, reps(N))],
         S = summary(Times),
         io:format("  N=~b: median ~p ms, max ~p ms~n", [N, maps:get(median, S), maps:get(max, S)]),
         S#{nodes => N}
     end || N <- [2, 4, 8, 16, 32]].

reps(N) when N =< 8 -> 5;
reps(16) -> 3;
reps(_) -> 2.

formation_run(N, Rep) ->
    Prefix = "bf" ++ integer_to_list(N) ++ "r" ++ integer_to_list(Rep),
    Peers = [start_peer(name(Prefix, I)) || I <- lists:seq(1, N)],
    Base = [atom_to_binary(name(Prefix, I), utf8) || I <- lists:seq(1, N)],
    Cfg = #{strategy => {local_epmd, #{basenames => Base}}, poll_interval => 5000, name => b},
    try
        [{ok, _} = peer:call(P, barnacle_cluster, start, [Cfg]) || {P, _} <- Peers],
        T0 = now_ms(),
        T1 = await_mesh(Peers, T0 + 60000),
        T1 - T0
    after
        stop_peers(Peers)
    end.

%%% 2. Healing

healing() ->
    [begin
         Times = healing_runs(Poll, WithBarnacle),
         S = summary(Times),
         io:format("  poll ~b ms, restarted node ~s barnacle: median ~p ms (~.4f of poll)~n",
                   [Poll, case WithBarnacle of true -> "with"; false -> "without" end,
                    maps:get(median, S), maps:get(median, S) / Poll]),
         S#{poll_interval => Poll, restarted_runs_barnacle => WithBarnacle,
            fraction_of_poll => maps:get(median, S) / Poll}
     end || Poll <- [5000, 60000], WithBarnacle <- [true, false]].

healing_runs(Poll, WithBarnacle) ->
    Prefix = "bh" ++ integer_to_list(Poll div 1000) ++ atom_to_list(WithBarnacle),
    Idx = lists:seq(1, 8),
    Base = [atom_to_binary(name(Prefix, I), utf8) || I <- Idx],
    Cfg = #{strategy => {local_epmd, #{basenames => Base}}, poll_interval => Poll, name => b},
    Peers0 = [start_peer(name(Prefix, I)) || I <- Idx],
    [{ok, _} = peer:call(P, barnacle_cluster, start, [Cfg]) || {P, _} <- Peers0],
    _ = await_mesh(Peers0, now_ms() + 60000),
    {Times, Peers} =
        lists:foldl(
          fun(_, {Acc, Ps}) ->
                  %% Wait a little past the others' first quick retries, so
                  %% the measurement includes their backoff, not only the
                  %% immediate retry.
                  {Victim, VN} = lists:last(Ps),
                  kill(Victim),
                  Rest = lists:droplast(Ps),
                  _ = await_gone(Rest, VN, now_ms() + 30000),
                  timer:sleep(1500),
                  New = {NP, _} = start_peer(name(Prefix, 8)),
                  T0 = now_ms(),    % the node is registered with epmd
                  case WithBarnacle of
                      true -> {ok, _} = peer:call(NP, barnacle_cluster, start, [Cfg]);
                      false -> ok
                  end,
                  All = Rest ++ [New],
                  T1 = await_mesh(All, T0 + 120000),
                  {[T1 - T0 | Acc], All}
          end, {[], Peers0}, lists:seq(1, 3)),
    stop_peers(Peers),
    Times.

await_gone(Peers, Node, Deadline) ->
    case lists:any(fun({P, _}) -> lists:member(Node, peer:call(P, erlang, nodes, [])) end, Peers) of
        false -> ok;
        true ->
            case now_ms() > Deadline of
                true -> error(not_gone);
                false -> timer:sleep(5), await_gone(Peers, Node, Deadline)
            end
    end.

%%% 3. Pass latency with black-holed entries

pass_latency() ->
    case {string:trim(os:cmd("id -u")), os:find_executable("iptables")} of
        {"0", Ipt} when Ipt =/= false ->
            Rule = "INPUT -d 127.66.0.0/16 -p tcp --syn -j DROP",
            _ = os:cmd("iptables -D " ++ Rule ++ " 2>/dev/null"),
            "" = os:cmd("iptables -A " ++ Rule),
            Runner = start_peer(bench_runner),
            Live = start_peer(bench_live),
            try pass_latency(Runner, Live)
            after
                _ = os:cmd("iptables -D " ++ Rule),
                stop_peers([Runner, Live])
            end;
        _ ->
            io:format("  skipped: needs root and iptables to black-hole addresses~n"),
            #{skipped => <<"needs root and iptables">>}
    end.

pass_latency({P, _}, {_, LiveNode}) ->
    ok = peer:call(P, ?MODULE, start_watch, []),
    Timeout = 500,
    Rows = [begin
                Ghosts = [list_to_atom("ghost" ++ integer_to_list(I) ++ "@127.66.0." ++ integer_to_list(I))
                          || I <- lists:seq(1, K)],
                Cfg = #{strategy => {epmd, [LiveNode | Ghosts]}, connect_timeout => Timeout},
                Run = fun(Max, Reps) ->
                              [begin
                                   {Us, _} = peer:call(P, timer, tc,
                                                       [barnacle_cluster, run_once,
                                                        [Cfg#{max_parallel_connects => Max}]], 120000),
                                   Us / 1000
                               end || _ <- lists:seq(1, Reps)]
                      end,
                Par = median(Run(infinity, 3)),
                Ser = median(Run(1, case K of 16 -> 1; _ -> 2 end)),
                io:format("  K=~b: parallel ~.1f ms, serial ~.1f ms, serial/parallel ~.1f~n",
                          [K, float(Par), float(Ser), Ser / Par]),
                #{dead_entries => K, parallel_ms => Par, serial_ms => Ser, ratio => Ser / Par,
                  connect_timeout => Timeout}
            end || K <- [0, 1, 4, 16]],
    put(peer_stalls, peer:call(P, ?MODULE, stalls, [])),
    Rows.

%%% 4. Native against Erlang

native_vs_erlang() ->
    %% dnsmasq changes to / when it starts: every path it gets is absolute.
    Dir = filename:absname(filename:join(?OUT, "dnsmasq")),
    ok = filelib:ensure_dir(filename:join(Dir, "x")),
    {Port, Stop} = dnsmasq(Dir),
    try
        NS = [{{127, 0, 0, 1}, Port}],
        Dns = [dns_row(Label, Name, Kind, NS)
               || {Label, Name, Kind} <- [{"A+AAAA, 1 record each", "one.test", a},
                                         {"A+AAAA, 100 records", "r100.test", a},
                                         {"A+AAAA, 1000 records", "r1000.test", a},
                                         {"SRV, 1 record", "_s1._tcp.test", srv},
                                         {"SRV, 100 records", "_s100._tcp.test", srv},
                                         {"SRV, 1000 records", "_s1000._tcp.test", srv}]],
        Epmd = epmd_row(),
        Diff = [diff_row(N) || N <- [10, 1000, 100000]],
        Dns ++ [Epmd | Diff]
    after
        Stop()
    end.

dnsmasq(Dir) ->
    {ok, S} = gen_udp:open(0, [{ip, {127, 0, 0, 1}}]),
    {ok, Port} = inet:port(S),
    gen_udp:close(S),
    Hosts = ["10.0.0.1 one.test\nfd00::1 one.test\n",
             [io_lib:format("10.1.~b.~b r100.test~nfd01::~.16b r100.test~n", [I div 250, I rem 250 + 1, I + 1])
              || I <- lists:seq(0, 99)],
             [io_lib:format("10.2.~b.~b r1000.test~nfd02::~.16b r1000.test~n", [I div 250, I rem 250 + 1, I + 1])
              || I <- lists:seq(0, 999)]],
    ok = file:write_file(filename:join(Dir, "hosts"), Hosts),
    Srv = [[io_lib:format("srv-host=_s~b._tcp.test,t~b.test,~b~n", [N, I, 4000 + I])
            || I <- lists:seq(1, N)] || N <- [1, 100, 1000]],
    ok = file:write_file(filename:join(Dir, "srv.conf"), Srv),
    Pid = filename:join(Dir, "pid"),
    "" = os:cmd(lists:flatten(
                  ["dnsmasq --no-resolv --no-hosts --conf-file=", filename:join(Dir, "srv.conf"),
                   " --bind-interfaces --listen-address=127.0.0.1 --port=", integer_to_list(Port),
                   " --local=/test/ --log-facility=/dev/null --pid-file=", Pid,
                   " --addn-hosts=", filename:join(Dir, "hosts"),
                   case os:cmd("id -u") of "0\n" -> " --user=root"; _ -> "" end])),
    timer:sleep(300),
    {Port, fun() -> {ok, P} = file:read_file(Pid),
                    os:cmd("kill " ++ string:trim(binary_to_list(P))) end}.

%% Latency (median over runs) and the calling process's reductions.
measure(F, Runs) ->
    _ = F(),
    Samples = [begin
                   {reductions, R0} = process_info(self(), reductions),
                   {Us, _} = timer:tc(F),
                   {reductions, R1} = process_info(self(), reductions),
                   {Us, R1 - R0}
               end || _ <- lists:seq(1, Runs)],
    {median([U || {U, _} <- Samples]), median([R || {_, R} <- Samples])}.

row(Label, Native, Erlang) ->
    {NUs, NRed} = Native,
    {EUs, ERed} = Erlang,
    io:format("  ~s: native ~.1f us / ~p reds, Erlang ~.1f us / ~p reds, Erlang/native time ~.2f~n",
              [Label, float(NUs), NRed, float(EUs), ERed, EUs / NUs]),
    #{case_name => list_to_binary(Label), native_us => NUs, native_reductions => NRed,
      erlang_us => EUs, erlang_reductions => ERed, time_ratio => EUs / NUs,
      reductions_ratio => ERed / max(1, NRed)}.

dns_row(Label, Name, Kind, NS) ->
    Runs = 15,
    Native = fun() -> {ok, _} = barnacle_native:discover_dns(Name, #{kind => Kind, nameservers => NS,
                                                                     max_records => 5000}) end,
    Opts = [{nameservers, NS}, {timeout, 5000}],
    Erl = case Kind of
              a -> fun() -> A = inet_res:resolve(Name, in, a, Opts),
                            B = inet_res:resolve(Name, in, aaaa, Opts),
                            {ok, _} = A, {ok, _} = B end;
              srv -> fun() -> {ok, _} = inet_res:resolve(Name, in, srv, Opts) end
          end,
    row(Label, measure(Native, Runs), measure(Erl, Runs)).

epmd_row() ->
    Peers = [start_peer(name("be", I)) || I <- lists:seq(1, 8)],
    try
        Native = fun() -> {ok, _} = barnacle_native:epmd_names("127.0.0.1", 4369, 2000, 1000) end,
        Erl = fun() -> {ok, _} = erl_epmd:names({127, 0, 0, 1}) end,
        row("EPMD names, ~10 nodes", measure(Native, 50), measure(Erl, 50))
    after
        stop_peers(Peers)
    end.

diff_row(N) ->
    Disc = [<<"n", (integer_to_binary(I))/binary, "@10.0.0.1">> || I <- lists:seq(1, N)],
    Conn = [<<"n", (integer_to_binary(I))/binary, "@10.0.0.1">> || I <- lists:seq(1, N, 2)],
    Owned = lists:sublist(Conn, max(1, N div 4)),
    In = #{discovered => Disc, connected => Conn, owned => Owned, self_name => <<"me@h">>,
           prune => true, max_nodes => N + 1},
    Native = fun() -> barnacle_native:diff_nodes(In) end,
    Erl = fun() -> erlang_diff(Disc, Conn, Owned, <<"me@h">>) end,
    Runs = case N of 100000 -> 5; _ -> 30 end,
    row("diff, N=" ++ integer_to_list(N), measure(Native, Runs), measure(Erl, Runs)).

%% The same diff with Erlang sets (no name validation: the native one also
%% validates every name, so this comparison favours Erlang).
erlang_diff(Disc, Conn, Owned, Self) ->
    Wanted = sets:del_element(Self, sets:from_list(Disc, [{version, 2}])),
    C = sets:from_list(Conn, [{version, 2}]),
    {sets:to_list(sets:subtract(Wanted, C)),
     [O || O <- Owned, sets:is_element(O, C), not sets:is_element(O, Wanted)]}.

%%% 5. Scheduler stalls (long_schedule over 1 ms) attributable to barnacle

start_watch() ->
    Pid = spawn(fun() -> watch([]) end),
    _ = erlang:system_monitor(Pid, [{long_schedule, 1}]),
    register(barnacle_bench_watch, Pid),
    ok.

watch(Acc) ->
    receive
        {monitor, _, long_schedule, Info} -> watch([Info | Acc]);
        {get, From} -> From ! {stalls, Acc}, watch(Acc)
    end.

stalls() ->
    barnacle_bench_watch ! {get, self()},
    All = receive {stalls, S} -> S after 5000 -> [] end,
    _ = application:load(barnacle),
    {ok, Mods} = application:get_key(barnacle, modules),
    Mine = [I || I <- All, lists:any(fun({K, {M, _, _}}) when K =:= in; K =:= out ->
                                             lists:member(M, Mods);
                                        (_) -> false
                                     end, I)],
    Result = #{total => length(All), barnacle => length(Mine)},
    case get(peer_stalls) of
        undefined -> Result;
        #{total := T, barnacle := B} ->
            R = Result#{total := T + length(All), barnacle := B + length(Mine)},
            io:format("5. scheduler stalls over 1 ms during 3 and 4: ~b in all, ~b in barnacle code~n",
                      [maps:get(total, R), maps:get(barnacle, R)]),
            erase(peer_stalls),
            R
    end.

%%% 6. Idle cost

idle() ->
    Polls = 60,
    Poll = 1000,
    Members = [start_peer(name("bi", I)) || I <- lists:seq(1, 16)],
    With = start_peer(bi_with),
    Without = start_peer(bi_without),
    try
        Nodes = [N || {_, N} <- Members],
        {PW, _} = With,
        {PO, _} = Without,
        {ok, _} = peer:call(PW, barnacle_cluster, start,
                            [#{strategy => {epmd, Nodes}, poll_interval => Poll, name => b}]),
        {ok, _} = peer:call(PW, barnacle_cluster, await_members, [b, 16, 30000], 35000),
        [true = peer:call(PO, net_kernel, connect_node, [N]) || N <- Nodes],
        Pid = peer:call(PW, erlang, whereis, [b]),
        Self = self(),
        spawn(fun() -> Self ! {without, peer:call(PO, ?MODULE, cluster_cost, [undefined, Polls * Poll],
                                                 Polls * Poll + 30000)} end),
        With1 = peer:call(PW, ?MODULE, cluster_cost, [Pid, Polls * Poll], Polls * Poll + 30000),
        Without1 = receive {without, W} -> W after Polls * Poll + 60000 -> error(no_control) end,
        #{reductions := Reds, memory := Mem, cpu_ms := CpuW} = With1,
        #{cpu_ms := CpuO} = Without1,
        R = #{polls => Polls, poll_interval => Poll, connected_nodes => 16,
              reductions_per_poll => Reds / Polls, cluster_process_memory => Mem,
              node_cpu_ms_with => CpuW, node_cpu_ms_without => CpuO,
              cpu_ms_per_poll_over_control => (CpuW - CpuO) / Polls},
        io:format("  ~p reductions per poll, ~b bytes of process memory; node CPU ~b ms with barnacle, ~b ms without, over ~b s~n",
                  [Reds / Polls, Mem, CpuW, CpuO, Polls * Poll div 1000]),
        R
    after
        stop_peers([With, Without | Members])
    end.

%% Runs in a peer: the cluster process's reductions and memory, and the
%% whole node's CPU time, over Ms.
cluster_cost(Pid, Ms) ->
    R0 = case Pid of undefined -> 0; _ -> element(2, process_info(Pid, reductions)) end,
    {Cpu0, _} = statistics(runtime),
    timer:sleep(Ms),
    {Cpu1, _} = statistics(runtime),
    {R1, Mem} = case Pid of
                    undefined -> {0, 0};
                    _ -> {element(2, process_info(Pid, reductions)),
                          element(2, process_info(Pid, memory))}
                end,
    #{reductions => R1 - R0, memory => Mem, cpu_ms => Cpu1 - Cpu0}.

%%% Output

fmt(X) when is_float(X) -> io_lib:format("~.1f", [X]);
fmt(X) -> io_lib:format("~p", [X]).

markdown(R) ->
    F = fun(K) -> maps:get(K, R) end,
    [io_lib:format("## barnacle bench: ~s, ~b cores, OTP ~s, ~s~n~n",
                   [F(machine), F(cores), F(otp), F(date)]),
     "### 1. Formation (local_epmd, poll 5 s): last node started -> full mesh\n\n",
     "| nodes | median ms | max ms | runs |\n|---|---|---|---|\n",
     rows(F(formation), fun(#{nodes := N, median := M, max := X, runs := Rn}) ->
                                [fmt(N), fmt(M), fmt(X), fmt(Rn)] end),
     "\n### 2. Healing (8 nodes, one SIGKILLed and restarted): registered with epmd -> full mesh\n\n",
     "| poll ms | restarted node runs barnacle | median ms | max ms | median / poll |\n|---|---|---|---|---|\n",
     rows(F(healing), fun(#{poll_interval := P, restarted_runs_barnacle := W, median := M, max := X,
                             fraction_of_poll := Fr}) ->
                              [fmt(P), fmt(W), fmt(M), fmt(X), io_lib:format("~.4f", [Fr])] end),
     "\n### 3. Pass latency, one live node + K black-holed entries (connect_timeout 500 ms)\n\n",
     "| K | parallel ms | serial ms | serial / parallel |\n|---|---|---|---|\n",
     rows(F(pass_latency), fun(#{dead_entries := K, parallel_ms := P, serial_ms := S, ratio := Ra}) ->
                                   [fmt(K), fmt(P), fmt(S), fmt(Ra)] end),
     "\n### 4. Native against Erlang (median latency, calling process's reductions)\n\n",
     "| case | native us | native reds | Erlang us | Erlang reds | Erlang/native time |\n|---|---|---|---|---|---|\n",
     rows(F(native), fun(#{case_name := C, native_us := NU, native_reductions := NR, erlang_us := EU,
                            erlang_reductions := ER, time_ratio := T}) ->
                             [C, fmt(NU), fmt(NR), fmt(EU), fmt(ER), io_lib:format("~.2f", [T])] end),
     io_lib:format("~n### 5. Normal-scheduler stalls over 1 ms during 3 and 4~n~n"
                   "~p in all, ~p in barnacle code~n",
                   [maps:get(total, F(scheduler_stalls), '-'), maps:get(barnacle, F(scheduler_stalls), '-')]),
     "\n### 6. Idle cost (16 connected nodes, 60 polls of 1 s)\n\n",
     case F(idle) of
         #{reductions_per_poll := Rp, cluster_process_memory := M, node_cpu_ms_with := W,
           node_cpu_ms_without := O, cpu_ms_per_poll_over_control := D} ->
             io_lib:format("| reductions per poll | process memory bytes | node CPU ms with | without | extra CPU ms per poll |~n"
                           "|---|---|---|---|---|~n| ~s | ~s | ~s | ~s | ~s |~n",
                           [fmt(Rp), fmt(M), fmt(W), fmt(O), fmt(D)]);
         Other -> io_lib:format("~p~n", [Other])
     end].

rows(L, F) when is_list(L) ->
    [["| ", lists:join(" | ", F(X)), " |\n"] || X <- L, is_map(X), not is_map_key(error, X)];
rows(Other, _) ->
    io_lib:format("(~p)~n", [Other]).

json(T) when is_map(T) ->
    ["{", lists:join(",", [[json(K), ":", json(V)] || {K, V} <- lists:sort(maps:to_list(T))]), "}"];
json(L) when is_list(L) -> ["[", lists:join(",", [json(X) || X <- L]), "]"];
json(B) when is_binary(B) -> [$", escape(B), $"];
json(true) -> "true";
json(false) -> "false";
json(A) when is_atom(A) -> [$", atom_to_list(A), $"];
json(N) when is_integer(N) -> integer_to_list(N);
json(F) when is_float(F) -> io_lib:format("~.3f", [F]).

escape(B) -> binary:replace(binary:replace(B, <<"\\">>, <<"\\\\">>, [global]), <<"\"">>, <<"\\\"">>, [global]).

%% Formation time against cluster size: median and max, log-scaled N.
svg(Rows) when is_list(Rows) ->
    Pts = [{N, M, X} || #{nodes := N, median := M, max := X} <- Rows],
    W = 480, H = 300, Pad = 50,
    MaxY = max(1, lists:max([X || {_, _, X} <- Pts])),
    Xs = fun(N) -> Pad + (math:log2(N) - 1) / 4 * (W - 2 * Pad) end,
    Ys = fun(V) -> H - Pad - V / MaxY * (H - 2 * Pad) end,
    Line = fun(Sel, Colour) ->
                   io_lib:format("<polyline fill='none' stroke='~s' stroke-width='2' points='~s'/>",
                                 [Colour, [io_lib:format("~.1f,~.1f ", [Xs(N), Ys(Sel(P))])
                                           || {N, _, _} = P <- Pts]])
           end,
    ["<svg xmlns='http://www.w3.org/2000/svg' width='", integer_to_list(W), "' height='",
     integer_to_list(H), "' font-family='sans-serif' font-size='12'>",
     "<text x='", integer_to_list(Pad), "' y='20'>barnacle: formation time (ms) against nodes</text>",
     io_lib:format("<line x1='~b' y1='~b' x2='~b' y2='~b' stroke='black'/>", [Pad, H - Pad, W - Pad, H - Pad]),
     io_lib:format("<line x1='~b' y1='~b' x2='~b' y2='~b' stroke='black'/>", [Pad, Pad, Pad, H - Pad]),
     [io_lib:format("<text x='~.1f' y='~b' text-anchor='middle'>~b</text>", [Xs(N), H - Pad + 16, N])
      || {N, _, _} <- Pts],
     io_lib:format("<text x='~b' y='~.1f' text-anchor='end'>~b</text>", [Pad - 4, Ys(MaxY) + 4, round(MaxY)]),
     io_lib:format("<text x='~b' y='~b' text-anchor='end'>0</text>", [Pad - 4, H - Pad + 4]),
     Line(fun({_, M, _}) -> M end, "steelblue"), Line(fun({_, _, X}) -> X end, "tomato"),
     "<text x='300' y='40' fill='steelblue'>median</text><text x='360' y='40' fill='tomato'>max</text>",
     "</svg>\n"];
svg(_) ->
    "<svg xmlns='http://www.w3.org/2000/svg'/>\n".
