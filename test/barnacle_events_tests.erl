%% Event delivery to every listener kind, and listeners that misbehave.
-module(barnacle_events_tests).
-include_lib("eunit/include/eunit.hrl").

-define(EV, {node_connected, 'a@h'}).

pid_listener_test() ->
    barnacle_events:notify([self()], undefined, ?EV),
    ?assertEqual(?EV, recv()).

gleam_subject_listener_test() ->
    %% Gleam: process.Subject(Event) at runtime is {subject, Owner, Tag};
    %% process.send delivers {Tag, Event}.
    Tag = make_ref(),
    barnacle_events:notify([{subject, self(), Tag}], undefined, ?EV),
    ?assertEqual({Tag, ?EV}, recv()).

gleam_named_subject_listener_test() ->
    %% Gleam: a named subject is {named_subject, Name}; delivers {Name, Event}.
    Name = barnacle_events_tests_listener,
    register(Name, self()),
    barnacle_events:notify([{named_subject, Name}], undefined, ?EV),
    ?assertEqual({Name, ?EV}, recv()),
    unregister(Name),
    %% Unregistered: nothing happens, nothing raises.
    ?assertEqual(ok, barnacle_events:notify([{named_subject, Name}], undefined, ?EV)).

dead_pid_listener_test() ->
    {Pid, Ref} = spawn_monitor(fun() -> ok end),
    receive {'DOWN', Ref, _, _, _} -> ok end,
    ?assertEqual(ok, barnacle_events:notify([Pid, self()], undefined, ?EV)),
    ?assertEqual(?EV, recv()).

fun_listener_and_crashing_fun_test() ->
    Me = self(),
    Crash = fun(_) -> error(boom) end,
    Good = fun(E) -> Me ! {got, E} end,
    Notifier = barnacle_events:start_notifier([Crash, Good]),
    ?assert(is_pid(Notifier)),
    barnacle_events:notify([Crash, Good], Notifier, ?EV),
    barnacle_events:notify([Crash, Good], Notifier, {pause_response, nil}),
    ?assertEqual({got, ?EV}, recv()),
    ?assertEqual({got, {pause_response, nil}}, recv()),
    ?assert(is_process_alive(Notifier)),
    barnacle_events:stop_notifier(Notifier).

hanging_fun_queue_is_bounded_test() ->
    Hang = fun(_) -> receive never -> ok end end,
    Notifier = barnacle_events:start_notifier([Hang]),
    [barnacle_events:notify([Hang], Notifier, ?EV) || _ <- lists:seq(1, 30000)],
    {message_queue_len, Q} = erlang:process_info(Notifier, message_queue_len),
    ?assert(Q =< 10000),
    barnacle_events:stop_notifier(Notifier).

no_notifier_without_funs_test() ->
    ?assertEqual(undefined, barnacle_events:start_notifier([self(), {named_subject, x}])).

is_listener_test_() ->
    [?_assert(barnacle_events:is_listener(L))
     || L <- [self(), {subject, self(), t}, {named_subject, n}, fun(_) -> ok end]] ++
    [?_assertNot(barnacle_events:is_listener(L))
     || L <- [x, {subject, x, t}, {named_subject, "n"}, fun() -> ok end, {self(), t}]].

recv() ->
    receive M -> M after 2000 -> timeout end.
