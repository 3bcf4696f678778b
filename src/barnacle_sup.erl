%%% @private
%%% The application's supervisor: one child per configured cluster. Every
%%% configuration is validated before anything starts, so a bad one fails
%%% the application start with the reason, naming the cluster and the key.
-module(barnacle_sup).
-behaviour(supervisor).

-export([start_link/1, init/1]).

-spec start_link([map()]) -> {ok, pid()} | {error, term()}.
start_link(Clusters) when is_list(Clusters) ->
    Indexed = lists:zip(lists:seq(1, length(Clusters)), Clusters),
    case [{I, E} || {I, C} <- Indexed, {error, E} <- [barnacle_config:validate(C)]] of
        [] -> supervisor:start_link({local, ?MODULE}, ?MODULE, Indexed);
        [{I, E} | _] -> {error, {cluster, I, E}}
    end;
start_link(Other) ->
    {error, {invalid_config, clusters, Other}}.

-spec init([{pos_integer(), map()}]) ->
          {ok, {supervisor:sup_flags(), [supervisor:child_spec()]}}.
init(Indexed) ->
    Children = [(barnacle_cluster:child_spec(C))#{id => {barnacle_cluster, I}}
                || {I, C} <- Indexed],
    {ok, {#{strategy => one_for_one, intensity => 10, period => 10}, Children}}.
