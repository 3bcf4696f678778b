%% Config validation: every key, every bad value, each named in the error.
-module(barnacle_config_tests).
-include_lib("eunit/include/eunit.hrl").

ok_strategy() -> {epmd, []}.

valid(C) -> barnacle_config:validate(C).

defaults_test() ->
    {ok, C} = valid(#{strategy => ok_strategy()}),
    ?assertMatch(#{poll_interval := 5000, connect_timeout := 5000,
                   discover_timeout := 10000, prune := false, listeners := [],
                   backoff := #{min := 200, max := 5000}, max_nodes := 1024,
                   name := undefined, strategy := {barnacle_epmd, []},
                   ops := #{distributed := true}}, C).

not_a_map_test() ->
    ?assertEqual({error, {invalid_config, config, [a]}}, valid([a])).

missing_strategy_test() ->
    ?assertEqual({error, {invalid_config, strategy, missing}}, valid(#{})).

unknown_key_test() ->
    ?assertEqual({error, {invalid_config, polling_interval, 10}},
                 valid(#{strategy => ok_strategy(), polling_interval => 10})).

bad_values_test_() ->
    Bad = [{poll_interval, 0}, {poll_interval, -5}, {poll_interval, 1.5},
           {poll_interval, infinity}, {connect_timeout, 0}, {connect_timeout, "5"},
           {discover_timeout, 0}, {prune, yes}, {max_nodes, 0}, {max_nodes, 1000001},
           {backoff, #{min => 0}}, {backoff, #{min => 10, max => 5}},
           {backoff, #{min => 10, step => 2}}, {backoff, 100},
           {name, 42}, {name, ""}, {listeners, self()},
           {max_parallel_connects, 0}, {max_parallel_connects, many}],
    [?_assertEqual({error, {invalid_config, K, V}},
                   valid(#{strategy => ok_strategy(), K => V})) || {K, V} <- Bad].

bad_listener_test() ->
    ?assertEqual({error, {invalid_config, listeners, {invalid_listener, {subject, x, t}}}},
                 valid(#{strategy => ok_strategy(), listeners => [self(), {subject, x, t}]})).

good_values_test() ->
    F = fun(_) -> ok end,
    {ok, C} = valid(#{strategy => ok_strategy(), name => <<"my_barnacle">>,
                      poll_interval => 15000, backoff => #{max => 100000},
                      listeners => [self(), {subject, self(), make_ref()},
                                    {named_subject, some_name}, F],
                      prune => true}),
    ?assertMatch(#{name := my_barnacle, backoff := #{min := 200, max := 100000}}, C).

strategy_errors_test_() ->
    [?_assertEqual({error, {invalid_config, strategy, {unknown_strategy, nope}}},
                   valid(#{strategy => nope})),
     ?_assertMatch({error, {invalid_config, strategy, {{unknown_strategy, no_such_module_x}, _}}},
                   valid(#{strategy => {no_such_module_x, #{}}})),
     ?_assertMatch({error, {invalid_config, strategy, {{not_a_strategy, lists}, _}}},
                   valid(#{strategy => {lists, []}})),
     ?_assertEqual({error, {invalid_config, strategy, {invalid_node, <<"nohost">>, no_at}}},
                   valid(#{strategy => {epmd, [<<"nohost">>]}})),
     ?_assertEqual({error, {invalid_config, strategy, {invalid_node, 42, not_a_name}}},
                   valid(#{strategy => {epmd, [42]}})),
     ?_assertEqual({error, {invalid_config, strategy, {invalid_option, timeout, 0}}},
                   valid(#{strategy => {local_epmd, #{timeout => 0}}})),
     ?_assertEqual({error, {invalid_config, strategy, {invalid_option, colour, red}}},
                   valid(#{strategy => {local_epmd, #{colour => red}}})),
     ?_assertEqual({error, {invalid_config, strategy, {invalid_option, discover, x}}},
                   valid(#{strategy => {custom, #{discover => x}}})),
     ?_assertMatch({error, {invalid_config, strategy, {invalid_option, connect, _}}},
                   valid(#{strategy => {custom, #{discover => fun() -> [] end,
                                                  connect => fun() -> ok end}}}))].

epmd_list_is_canonical_test() ->
    {ok, #{strategy := {barnacle_epmd, Nodes}}} =
        valid(#{strategy => {epmd, ['a@FD00::1', "b@h", <<"c@10.0.0.1">>]}}),
    ?assertEqual([<<"a@fd00::1">>, <<"b@h">>, <<"c@10.0.0.1">>], Nodes).

custom_ops_test() ->
    Conn = fun(_) -> true end,
    ?assertEqual({error, {invalid_config, strategy, {missing_option, list_nodes}}},
                 valid(#{strategy => {custom, #{discover => fun() -> [] end,
                                                connect => Conn}}})),
    {ok, #{ops := Ops}} = valid(#{strategy => {custom, #{discover => fun() -> [] end,
                                                         connect => Conn,
                                                         list_nodes => fun() -> [] end}}}),
    ?assertMatch(#{connect := Conn, distributed := false}, Ops),
    {ok, #{ops := Ops2}} = valid(#{strategy => {custom, #{discover => fun() -> [] end}}}),
    ?assertMatch(#{distributed := true}, Ops2).

not_alive_test() ->
    %% EUnit runs on a node that is not distributed.
    false = is_alive(),
    ?assertEqual({error, not_alive}, barnacle_cluster:start(#{strategy => local_epmd})),
    ?assertEqual({error, not_alive}, barnacle_cluster:run_once(#{strategy => local_epmd})).

start_rejects_bad_config_without_crashing_caller_test() ->
    ?assertEqual({error, {invalid_config, prune, maybe}},
                 barnacle_cluster:start_link(#{strategy => local_epmd, prune => maybe})),
    ?assert(is_process_alive(self())).

child_spec_test() ->
    ?assertMatch(#{id := {barnacle_cluster, x}, restart := transient,
                   start := {barnacle_cluster, start_link, [#{name := x}]}},
                 barnacle_cluster:child_spec(#{strategy => local_epmd, name => x})).

app_env_rejects_bad_cluster_test() ->
    ?assertEqual({error, {cluster, 2, {invalid_config, poll_interval, 0}}},
                 barnacle_sup:start_link([#{strategy => local_epmd},
                                          #{strategy => local_epmd, poll_interval => 0}])).
