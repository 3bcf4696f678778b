%% A plain supervisor for tests that put a cluster under supervision.
-module(barnacle_test_sup).
-behaviour(supervisor).
-export([init/1]).

init(Specs) ->
    {ok, {#{strategy => one_for_one, intensity => 5, period => 10}, Specs}}.
