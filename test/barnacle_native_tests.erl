%% The NIFs from Erlang: names written as inet:ntoa/1 writes them (checked
%% against OTP itself with PropEr), the diff's rules, bad input.
-module(barnacle_native_tests).
-include_lib("eunit/include/eunit.hrl").

loaded_test() ->
    ?assertEqual(ok, barnacle_native:load_error()).

bad_names_test_() ->
    [?_assertEqual({error, R}, barnacle_native:normalize_node_name(N))
     || {N, R} <- [{<<"x">>, no_at}, {<<"@h">>, empty_basename}, {<<"a@">>, empty_host},
                   {<<"a b@h">>, bad_basename}, {<<"a@h h">>, bad_host},
                   {binary:copy(<<"a">>, 300), too_long},
                   {<<"a@", 255, 0>>, bad_host}]].

diff(D, C, O, Prune) ->
    barnacle_native:diff_nodes(#{discovered => D, connected => C, owned => O,
                                 self_name => <<"me@h">>, prune => Prune, max_nodes => 100}).

diff_test() ->
    ?assertMatch(#{wanted := [<<"a@h">>, <<"b@h">>], connect := [<<"a@h">>],
                   disconnect := [<<"old@h">>], invalid := [{<<"junk">>, no_at}],
                   invalid_count := 1, over_limit := 0},
                 diff([<<"a@h">>, <<"me@h">>, <<"b@h">>, <<"junk">>],
                      [<<"b@h">>, <<"old@h">>, <<"user@h">>], [<<"old@h">>], true)),
    ?assertMatch(#{disconnect := []},
                 diff([], [<<"old@h">>], [<<"old@h">>], false)).

diff_rejects_non_binaries_test() ->
    ?assertError(_, barnacle_native:diff_nodes(#{discovered => [a]})),
    ?assertError(_, diff([foo], [], [], false)).

epmd_names_errors_test() ->
    {ok, L} = gen_tcp:listen(0, []),
    {ok, Port} = inet:port(L),
    ok = gen_tcp:close(L),
    ?assertEqual({error, econnrefused}, barnacle_native:epmd_names("127.0.0.1", Port, 1000, 10)),
    ?assertEqual({error, nxdomain}, barnacle_native:epmd_names("no such host!", Port, 1000, 10)).

epmd_names_timeout_test() ->
    %% A listener that accepts and never answers.
    {ok, L} = gen_tcp:listen(0, [{ip, {127, 0, 0, 1}}]),
    {ok, Port} = inet:port(L),
    T0 = erlang:monotonic_time(millisecond),
    ?assertEqual({error, timeout}, barnacle_native:epmd_names(<<"127.0.0.1">>, Port, 300, 10)),
    ?assert(erlang:monotonic_time(millisecond) - T0 < 2000),
    gen_tcp:close(L).
