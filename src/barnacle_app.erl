%%% @private
%%% The barnacle application: starts the clusters listed in its `clusters'
%%% environment key (`{barnacle, [{clusters, [Config]}]}' in sys.config).
-module(barnacle_app).
-behaviour(application).

-export([start/2, stop/1]).

-spec start(application:start_type(), term()) -> {ok, pid()} | {error, term()}.
start(_Type, _Args) ->
    barnacle_sup:start_link(application:get_env(barnacle, clusters, [])).

-spec stop(term()) -> ok.
stop(_State) ->
    ok.
