%% The cluster process with real BEAM nodes: formation, healing, pruning,
%% ownership, pause/resume, events, bad strategies, parallel connects, and
%% no normal-scheduler stalls from barnacle.
-module(barnacle_cluster_SUITE).
-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

-export([all/0, suite/0, init_per_testcase/2, end_per_testcase/2]).
-export([full_mesh_local_epmd/1, heals_sigkilled_node_before_next_poll/1,
         prune_drops_removed_node_keeps_manual/1, epmd_list_forms_cluster/1,
         two_barnacles_leave_each_other_alone/1, pause_and_resume/1,
         events_reach_every_listener_kind/1, bad_discover_funs_are_strategy_errors/1,
         connects_run_in_parallel_and_bounded/1, await_members_times_out/1,
         run_once_leaves_no_process/1, shutdown_is_final_under_supervisor/1,
         app_env_starts_clusters/1, nifs_never_hold_a_normal_scheduler/1,
         missing_nif_names_path_and_build_command/1,
         no_long_schedules_in_peers/1]).

-import(barnacle_test_peers, [call/4, call/5]).

suite() ->
    [{timetrap, {seconds, 120}}].

all() ->
    [full_mesh_local_epmd, heals_sigkilled_node_before_next_poll,
     prune_drops_removed_node_keeps_manual, epmd_list_forms_cluster,
     two_barnacles_leave_each_other_alone, pause_and_resume,
     events_reach_every_listener_kind, bad_discover_funs_are_strategy_errors,
     connects_run_in_parallel_and_bounded, await_members_times_out,
     run_once_leaves_no_process, shutdown_is_final_under_supervisor,
     app_env_starts_clusters, nifs_never_hold_a_normal_scheduler,
     missing_nif_names_path_and_build_command,
     no_long_schedules_in_peers].

init_per_testcase(Case, Config) ->
    [{prefix, Case}, {peers, ets:new(peers, [public, bag])} | Config].

end_per_testcase(_Case, Config) ->
    %% Every peer must have seen no long schedule in barnacle code.
    barnacle_test_peers:stop_all(?config(peers, Config)).

%% Starts N peers named after the test case.
peers(Config, Indexes) ->
    peers(Config, Indexes, #{}).
peers(Config, Indexes, Opts) ->
    [peer1(Config, I, Opts) || I <- Indexes].
peer1(Config, I, Opts) ->
    {P, N} = barnacle_test_peers:start(?config(prefix, Config), I, Opts),
    ets:insert(?config(peers, Config), {I, P}),
    {P, N}.

basenames(Config, Indexes) ->
    [atom_to_binary(barnacle_test_peers:node_name(?config(prefix, Config), I), utf8)
     || I <- Indexes].

start_cluster(P, Config) ->
    {ok, Pid} = call(P, barnacle_cluster, start, [Config]),
    Pid.

await_event(P, Match, Timeout) ->
    call(P, barnacle_test_peers, await, [Match, Timeout], Timeout + 5000).

listener(P) -> call(P, barnacle_test_peers, listener, []).

%%% Cases

full_mesh_local_epmd(Config) ->
    ct:comment("five nodes, local_epmd, full mesh"),
    Idx = lists:seq(1, 5),
    Peers = peers(Config, Idx),
    Names = basenames(Config, Idx),
    [start_cluster(P, #{strategy => {local_epmd, #{basenames => Names}}, name => mesh})
     || {P, _} <- Peers],
    ok = barnacle_test_peers:assert_full_mesh(Peers, mesh, 20000),
    All = [N || {_, N} <- Peers],
    [?assertEqual(lists:sort(All -- [N]), lists:sort(call(P, erlang, nodes, []))) || {P, N} <- Peers].

heals_sigkilled_node_before_next_poll(Config) ->
    ct:comment("a SIGKILLed node that comes back is reconnected by retry, not by the next poll"),
    [{PA, _}, {PB, _}, {PC, NC}] = peers(Config, [1, 2, 3]),
    Names = basenames(Config, [1, 2, 3]),
    Cfg = #{strategy => {local_epmd, #{basenames => Names}}, name => heal,
            poll_interval => 60000, backoff => #{min => 100, max => 1000},
            listeners => [listener(PA)]},
    [start_cluster(P, Cfg#{listeners => [listener(P)]}) || P <- [PA, PB]],
    {ok, _} = call(PA, barnacle_cluster, await_members, [heal, 2, 20000], 25000),
    {ok, _} = call(PB, barnacle_cluster, await_members, [heal, 2, 20000], 25000),
    barnacle_test_peers:kill(PC),
    ets:match_delete(?config(peers, Config), {3, '_'}),
    {ok, _} = await_event(PA, fun({_, {node_disconnected, N, _}}) -> N =:= NC; (_) -> false end,
                          10000),
    %% The restarted node runs no barnacle: only A and B's retries can
    %% bring it back, and their next poll is a minute away.
    TBefore = call(PA, erlang, monotonic_time, [millisecond]),
    {PC2, NC} = peer1(Config, 3, #{}),
    TUp = call(PA, erlang, monotonic_time, [millisecond]),
    {ok, {T1, _}} = await_event(PA, fun({T, {node_connected, N}}) -> N =:= NC andalso T >= TBefore;
                                       (_) -> false end, 20000),
    ct:pal("healed ~b ms after the restarted node was up (restart took ~b ms; "
           "poll interval 60000 ms)", [max(0, T1 - TUp), TUp - TBefore]),
    ?assert(T1 - TBefore < 15000),
    {ok, _} = call(PB, barnacle_cluster, await_members, [heal, 2, 15000], 20000),
    ?assert(lists:member(NC, call(PA, erlang, nodes, []))),
    {ok, Members} = call(PA, barnacle_cluster, members, [heal]),
    ?assertMatch([{member, _, connected, _, _}, {member, _, connected, _, _}], Members),
    _ = PC2.

prune_drops_removed_node_keeps_manual(Config) ->
    ct:comment("prune disconnects only nodes barnacle connected and no longer discovers"),
    [{PA, _}, {_, NB}, {_, NC}, {_, ND}] = peers(Config, [1, 2, 3, 4]),
    %% The discovered list lives in a persistent term on A, so the test can
    %% change it between passes as a changing discovery source would.
    ok = call(PA, persistent_term, put, [prune_list, [NB, NC]]),
    Discover = fun() -> case persistent_term:get(prune_list) of
                            L when is_list(L) -> {ok, L};
                            Error -> Error
                        end
               end,
    start_cluster(PA, #{strategy => {custom, #{discover => Discover}}, name => pr,
                        prune => true, poll_interval => 60000}),
    {ok, [NB, NC]} = call(PA, barnacle_cluster, await_members, [pr, 2, 20000], 25000),
    true = call(PA, net_kernel, connect_node, [ND]),
    ok = call(PA, persistent_term, put, [prune_list, [NB]]),
    {ok, [NB]} = call(PA, barnacle_cluster, refresh, [pr, 10000], 15000),
    Nodes = call(PA, erlang, nodes, []),
    ?assert(lists:member(ND, Nodes)),
    ?assertNot(lists:member(NC, Nodes)),
    ?assert(lists:member(NB, Nodes)),
    %% No longer discovered, so no longer a member, and not retried.
    {ok, [{member, NB, connected, true, _}]} = call(PA, barnacle_cluster, members, [pr]),
    %% A failed discovery prunes nothing.
    ok = call(PA, persistent_term, put, [prune_list, {error, unreachable}]),
    {error, {strategy_error, unreachable}} = call(PA, barnacle_cluster, refresh, [pr, 10000]),
    ?assert(lists:member(NB, call(PA, erlang, nodes, []))),
    %% A successful discovery that lists nothing prunes what barnacle owns.
    ok = call(PA, persistent_term, put, [prune_list, []]),
    {ok, []} = call(PA, barnacle_cluster, refresh, [pr, 10000], 15000),
    Nodes2 = call(PA, erlang, nodes, []),
    ?assertNot(lists:member(NB, Nodes2)),
    ?assert(lists:member(ND, Nodes2)).

epmd_list_forms_cluster(Config) ->
    ct:comment("{epmd, List} connects the listed nodes and keeps them through a failed pass"),
    [{PA, _}, {_, NB}, {_, NC}] = peers(Config, [1, 2, 3]),
    Dead = <<"nobody@127.0.0.1">>,
    start_cluster(PA, #{strategy => {epmd, [NB, atom_to_list(NC), Dead]}, name => el,
                        prune => true, connect_timeout => 2000, listeners => [listener(PA)]}),
    {ok, _} = call(PA, barnacle_cluster, await_members, [el, 2, 20000], 25000),
    {error, {connect_error, [{'nobody@127.0.0.1', _}]}} =
        call(PA, barnacle_cluster, refresh, [el, 10000], 15000),
    {ok, Members} = call(PA, barnacle_cluster, members, [el]),
    ?assertMatch({member, 'nobody@127.0.0.1', {_, F, _}, false, _} when F >= 1,
                 lists:keyfind('nobody@127.0.0.1', 2, Members)),
    {ok, _} = await_event(PA, fun({_, {connect_failed, 'nobody@127.0.0.1', _}}) -> true;
                                 (_) -> false end, 5000).

two_barnacles_leave_each_other_alone(Config) ->
    ct:comment("two pruning barnacles with different strategies on one node"),
    [{PA, _}, {_, NB}, {_, NC}] = peers(Config, [1, 2, 3]),
    start_cluster(PA, #{strategy => {epmd, [NB]}, name => x, prune => true, poll_interval => 100}),
    start_cluster(PA, #{strategy => {custom, #{discover => fun() -> {ok, [NC]} end}},
                        name => y, prune => true, poll_interval => 100}),
    {ok, [NB]} = call(PA, barnacle_cluster, await_members, [x, 1, 20000], 25000),
    {ok, [NC]} = call(PA, barnacle_cluster, await_members, [y, 1, 20000], 25000),
    %% Several passes of each, then both connections are still there.
    [begin
         {ok, [NB]} = call(PA, barnacle_cluster, refresh, [x, 5000]),
         {ok, [NC]} = call(PA, barnacle_cluster, refresh, [y, 5000])
     end || _ <- lists:seq(1, 5)],
    ?assertEqual(lists:sort([NB, NC]), lists:sort(call(PA, erlang, nodes, []))).

pause_and_resume(Config) ->
    ct:comment("pause stops passes, resume restarts them at once"),
    [{PA, _}, _] = peers(Config, [1, 2]),
    Names = basenames(Config, [1, 2]),
    start_cluster(PA, #{strategy => {local_epmd, #{basenames => Names}}, name => pz,
                        poll_interval => 100, listeners => [listener(PA)]}),
    {ok, _} = await_event(PA, fun({_, {refresh_response, _}}) -> true; (_) -> false end, 10000),
    ok = call(PA, barnacle_cluster, pause, [pz, 5000]),
    {ok, {TP, _}} = await_event(PA, fun({_, {pause_response, nil}}) -> true; (_) -> false end, 5000),
    %% While paused, ten poll intervals pass without a single pass. Only
    %% the passage of time can show an absence; the bound is loose.
    timer:sleep(1000),
    Events = call(PA, barnacle_test_peers, events, [all]),
    ?assertEqual([], [E || {T, {refresh_response, _}} = E <- Events, T > TP]),
    ok = call(PA, barnacle_cluster, resume, [pz, 5000]),
    {ok, _} = await_event(PA, fun({_, {resume_response, nil}}) -> true; (_) -> false end, 5000),
    {ok, _} = await_event(PA, fun({T, {refresh_response, _}}) -> T > TP; (_) -> false end, 5000).

events_reach_every_listener_kind(Config) ->
    ct:comment("pid, Gleam subject, Gleam named subject, fun; dead listeners are harmless"),
    [{PA, _}, {_, NB}] = peers(Config, [1, 2]),
    Collector = listener(PA),
    Dead = call(PA, erlang, spawn, [fun() -> ok end]),
    true = call(PA, barnacle_test_peers, forwarder, [gleam_named, Collector]),
    Fun = fun(E) -> Collector ! {from_fun, E} end,
    Crashing = fun(_) -> error(listener_bug) end,
    Listeners = [Dead, Collector, {subject, Collector, gleam_tag}, {named_subject, gleam_named},
                 {named_subject, not_registered}, Crashing, Fun],
    Pid = start_cluster(PA, #{strategy => {epmd, [NB]}, name => ev, listeners => Listeners}),
    Expect = {refresh_response, {ok, [NB]}},
    [{ok, _} = await_event(PA, fun({_, E}) -> E =:= Want; (_) -> false end, 10000)
     || Want <- [Expect, {gleam_tag, Expect}, {gleam_named, Expect}, {from_fun, Expect},
                 {node_connected, NB}, {gleam_tag, {node_connected, NB}},
                 {from_fun, {node_connected, NB}}]],
    ok = call(PA, barnacle_cluster, pause, [ev, 5000]),
    {ok, _} = await_event(PA, fun({_, {gleam_tag, {pause_response, nil}}}) -> true;
                                 (_) -> false end, 5000),
    ?assert(call(PA, erlang, is_process_alive, [Pid])),
    ok = call(PA, barnacle_cluster, shutdown, [ev, 5000]),
    {ok, _} = await_event(PA, fun({_, {from_fun, {shutdown_response, nil}}}) -> true;
                                 (_) -> false end, 5000).

bad_discover_funs_are_strategy_errors(Config) ->
    ct:comment("raising, hanging and garbage-returning discover funs"),
    [{PA, _}] = peers(Config, [1]),
    Cases = [{fun() -> error(boom) end, {crashed, error, boom}},
             {fun() -> throw(oops) end, {crashed, throw, oops}},
             {fun() -> timer:sleep(infinity) end, timeout},
             {fun() -> {error, no_route} end, no_route},
             {fun() -> not_a_list end, {bad_return, not_a_list}},
             {fun() -> exit(self(), kill) end, {crashed, exit, killed}}],
    [begin
         Name = list_to_atom("bad" ++ integer_to_list(I)),
         Pid = start_cluster(PA, #{strategy => {custom, #{discover => D}}, name => Name,
                                   discover_timeout => 300, listeners => [listener(PA)]}),
         Result = call(PA, barnacle_cluster, refresh, [Name, 5000]),
         ?assertEqual({error, {strategy_error, Want}}, Result),
         ?assert(call(PA, erlang, is_process_alive, [Pid]))
     end || {I, {D, Want}} <- lists:zip(lists:seq(1, length(Cases)), Cases)],
    %% Names that are not node names are dropped, not turned into atoms.
    Before = call(PA, erlang, system_info, [atom_count]),
    Junk = [<<"junk", (integer_to_binary(I))/binary>> || I <- lists:seq(1, 2000)] ++
           [<<"bad name ", (integer_to_binary(I))/binary, "@h">> || I <- lists:seq(1, 2000)] ++
           [42, {x}, "x y@z"],
    start_cluster(PA, #{strategy => {custom, #{discover => fun() -> {ok, Junk} end}},
                        name => junk}),
    {ok, []} = call(PA, barnacle_cluster, refresh, [junk, 5000]),
    After = call(PA, erlang, system_info, [atom_count]),
    ?assert(After - Before < 100).

connects_run_in_parallel_and_bounded(Config) ->
    ct:comment("a pass with ten hanging connects costs one connect_timeout; calls are answered meanwhile"),
    [{PA, _}] = peers(Config, [1]),
    Nodes = [list_to_atom("ghost" ++ integer_to_list(I) ++ "@10.255.255.1") || I <- lists:seq(1, 10)],
    Collector = listener(PA),
    Hang = fun(N) -> Collector ! {connecting, N}, timer:sleep(infinity) end,
    start_cluster(PA, #{strategy => {custom, #{discover => fun() -> {ok, Nodes} end,
                                               connect => Hang,
                                               list_nodes => fun() -> [] end}},
                        name => par, connect_timeout => 1000, poll_interval => 60000}),
    %% All ten attempts of the first pass are under way at once...
    [{ok, _} = await_event(PA, fun({_, E}) -> E =:= {connecting, N}; (_) -> false end, 5000)
     || N <- Nodes],
    %% ...and the process answers calls meanwhile.
    {ok, Members} = call(PA, barnacle_cluster, members, [par, 500]),
    ?assertEqual([{connecting, 0}], lists:usort([St || {member, _, St, _, _} <- Members])),
    ?assertEqual(10, length(Members)),
    T0 = erlang:monotonic_time(millisecond),
    {error, {connect_error, Failed}} = call(PA, barnacle_cluster, refresh, [par, 20000], 25000),
    Took = erlang:monotonic_time(millisecond) - T0,
    ct:pal("pass with 10 hanging connects took ~b ms (connect_timeout 1000 ms)", [Took]),
    ?assertEqual(lists:sort(Nodes), lists:sort([N || {N, timeout} <- Failed])),
    %% Serial connects would take ten seconds; parallel ones about one
    %% (up to two here: the refresh may queue behind the first pass).
    ?assert(Took < 5000),
    %% The same with max_parallel_connects => 1: one at a time, in order.
    start_cluster(PA, #{strategy => {custom, #{discover => fun() -> {ok, lists:sublist(Nodes, 3)} end,
                                               connect => Hang,
                                               list_nodes => fun() -> [] end}},
                        name => ser, connect_timeout => 300, poll_interval => 60000,
                        max_parallel_connects => 1}),
    T2 = erlang:monotonic_time(millisecond),
    {error, {connect_error, Failed3}} = call(PA, barnacle_cluster, refresh, [ser, 20000], 25000),
    Serial = erlang:monotonic_time(millisecond) - T2,
    ct:pal("serial pass with 3 hanging connects took ~b ms (connect_timeout 300 ms)", [Serial]),
    ?assertEqual(lists:sublist(Nodes, 3), [N || {N, timeout} <- Failed3]),
    ?assert(Serial >= 3 * 300).

await_members_times_out(Config) ->
    ct:comment("await_members returns {error, timeout} when too few nodes come"),
    [{PA, _}, {_, NB}] = peers(Config, [1, 2]),
    start_cluster(PA, #{strategy => {epmd, [NB]}, name => aw}),
    {ok, [NB]} = call(PA, barnacle_cluster, await_members, [aw, 1, 10000], 15000),
    ?assertEqual({error, timeout}, call(PA, barnacle_cluster, await_members, [aw, 2, 300])),
    ?assertEqual({error, not_running}, call(PA, barnacle_cluster, members, [no_such_cluster])).

run_once_leaves_no_process(Config) ->
    ct:comment("run_once: one pass, its result, no process left"),
    [{PA, _}, {_, NB}] = peers(Config, [1, 2]),
    ?assertEqual({ok, [NB]}, call(PA, barnacle_cluster, run_once, [#{strategy => {epmd, [NB]}}])),
    ?assert(lists:member(NB, call(PA, erlang, nodes, []))),
    ?assertEqual([], call(PA, barnacle_test_peers, barnacle_procs, [])),
    ?assertMatch({error, {strategy_error, _}},
                 call(PA, barnacle_cluster, run_once,
                      [#{strategy => {custom, #{discover => fun() -> error(x) end}}}])),
    ?assertEqual([], call(PA, barnacle_test_peers, barnacle_procs, [])).

shutdown_is_final_under_supervisor(Config) ->
    ct:comment("under a supervisor: shutdown stops for good, a crash restarts"),
    [{PA, _}, {_, NB}] = peers(Config, [1, 2]),
    Spec = barnacle_cluster:child_spec(#{strategy => {epmd, [NB]}, name => sup_b}),
    {ok, _Sup} = call(PA, barnacle_test_peers, start_sup, [test_sup, [Spec]]),
    {ok, _} = call(PA, barnacle_cluster, await_members, [sup_b, 1, 10000], 15000),
    P1 = call(PA, erlang, whereis, [sup_b]),
    call(PA, erlang, exit, [P1, kill]),
    {ok, [NB]} = call(PA, barnacle_test_peers, await_restart, [sup_b, P1]),
    ok = call(PA, barnacle_cluster, shutdown, [sup_b, 5000]),
    [{_, undefined, worker, _}] = call(PA, supervisor, which_children, [test_sup]).

app_env_starts_clusters(Config) ->
    ct:comment("clusters from the application env"),
    [{PA, _}, {_, NB}] = peers(Config, [1, 2]),
    ok = call(PA, application, load, [barnacle]),
    ok = call(PA, application, set_env, [barnacle, clusters,
                                         [#{strategy => {epmd, [NB]}, name => from_env}]]),
    {ok, _} = call(PA, application, ensure_all_started, [barnacle]),
    {ok, [NB]} = call(PA, barnacle_cluster, await_members, [from_env, 1, 10000], 15000).

nifs_never_hold_a_normal_scheduler(_Config) ->
    ct:comment("slow NIF calls run on dirty schedulers: no long_schedule on normal ones"),
    Self = self(),
    Watch = spawn(fun() -> watch_loop(Self, []) end),
    _ = erlang:system_monitor(Watch, [{long_schedule, 1}]),
    {ok, L} = gen_tcp:listen(0, [{ip, {127, 0, 0, 1}}]),
    {ok, Port} = inet:port(L),
    %% A silent EPMD: each call blocks 300 ms inside the NIF.
    Calls = [spawn_monitor(fun() ->
                                   {error, timeout} = barnacle_native:epmd_names(
                                                        "127.0.0.1", Port, 300, 10)
                           end) || _ <- lists:seq(1, 4)],
    Big = [integer_to_binary(I) || I <- lists:seq(1, 200000)],
    Names = [<<"n", B/binary, "@h">> || B <- Big],
    #{connect := C} = barnacle_native:diff_nodes(#{discovered => Names, connected => [],
                                                    owned => [], self_name => <<"me@h">>,
                                                    prune => false, max_nodes => 300000}),
    ?assertEqual(200000, length(C)),
    [receive {'DOWN', R, process, _, normal} -> ok after 5000 -> error(nif_call_stuck) end
     || {_, R} <- Calls],
    gen_tcp:close(L),
    _ = erlang:system_monitor(undefined),
    Watch ! {get, self()},
    Stalls = receive {stalls, S} -> S after 5000 -> error(no_watch) end,
    ?assertEqual([], [S || S <- Stalls, in_barnacle(S)]).

watch_loop(Parent, Acc) ->
    receive
        {monitor, _, long_schedule, Info} -> watch_loop(Parent, [Info | Acc]);
        {get, From} -> From ! {stalls, Acc}
    end.

in_barnacle(Info) ->
    barnacle_test_peers:barnacle_code(Info).

no_long_schedules_in_peers(Config) ->
    ct:comment("a busy peer with several clusters shows no long schedule in barnacle code"),
    Peers = peers(Config, [1, 2, 3]),
    Names = basenames(Config, [1, 2, 3]),
    [start_cluster(P, #{strategy => {local_epmd, #{basenames => Names}}, name => ls,
                        poll_interval => 50}) || {P, _} <- Peers],
    [{ok, _} = call(P, barnacle_cluster, await_members, [ls, 2, 20000], 25000) || {P, _} <- Peers],
    [[{ok, _} = call(P, barnacle_cluster, refresh, [ls, 5000]) || _ <- lists:seq(1, 20)]
     || {P, _} <- Peers],
    %% end_per_testcase fails the case if any peer saw one.
    [?assertEqual([], call(P, barnacle_test_peers, long_schedules, [N])) || {P, N} <- Peers].

missing_nif_names_path_and_build_command(Config) ->
    ct:comment("a node whose priv/ lacks the library: every NIF raises with the path and the build command"),
    Lib = filename:join(?config(priv_dir, Config), "lib/barnacle"),
    Ebin = filename:join(Lib, "ebin"),
    ok = filelib:ensure_dir(filename:join(Ebin, "x")),
    Src = filename:dirname(code:which(barnacle_native)),
    [{ok, _} = file:copy(F, filename:join(Ebin, filename:basename(F)))
     || F <- filelib:wildcard(filename:join(Src, "*"))],
    {ok, P, _} = peer:start(#{name => nif_missing, host => "127.0.0.1", longnames => true,
                              connection => standard_io, args => ["-pa", Ebin]}),
    try
        {error, Info} = peer:call(P, barnacle_native, load_error, []),
        #{path := Path, build := Build} = Info,
        ?assertEqual(filename:join([Lib, "priv", "libbarnacle_nif.so"]), Path),
        ?assertNotEqual(nomatch, string:find(Build, "native/build.sh")),
        %% Every NIF raises the error (peer:call re-raises it here).
        [?assertMatch({'EXIT', {{barnacle_nif_not_loaded, #{path := Path}}, _}},
                      catch peer:call(P, barnacle_native, F, A))
         || {F, A} <- [{diff_nodes, [#{}]}, {normalize_node_name, [<<"a@b">>]},
                       {discover_dns, ["x.test", #{}]}]]
    after
        peer:stop(P)
    end.
