%%% @doc Strategy `{custom, Funs}': discovery, and optionally the transport,
%%% supplied as funs.
%%%
%%% `Funs' is a map: `discover' (required, arity 0) returns `{ok, Nodes}',
%%% `{error, Reason}' or a plain list of nodes; `connect' and `disconnect'
%%% (arity 1, a node atom) return `true', `ok' or `{ok, _}' on success and
%%% anything else on failure; `list_nodes' (arity 0) returns the connected
%%% nodes as a list or `{ok, List}'. The last three replace Distributed
%%% Erlang for this cluster (an alternative distribution layer such as
%%% Partisan); a custom `connect' needs a custom `list_nodes'. The Gleam API
%%% builds this map.
-module(barnacle_custom).
-behaviour(barnacle_strategy).

-export([init/1, discover/1]).

%% @doc Validates the funs.
-spec init(term()) -> {ok, map()} | {error, term()}.
init(#{discover := D} = Funs) when is_function(D, 0) ->
    Arity = #{discover => 0, connect => 1, disconnect => 1, list_nodes => 0},
    Bad = [{K, V} || {K, V} <- maps:to_list(Funs),
                     not (is_map_key(K, Arity) andalso is_function(V, map_get(K, Arity)))],
    case {Bad, Funs} of
        {[{K, V} | _], _} -> {error, {invalid_option, K, V}};
        %% barnacle checks each connection it makes against list_nodes;
        %% Distributed Erlang's nodes() knows nothing of another transport.
        {[], #{connect := _}} when not is_map_key(list_nodes, Funs) ->
            {error, {missing_option, list_nodes}};
        {[], _} -> {ok, Funs}
    end;
init(#{discover := D}) ->
    {error, {invalid_option, discover, D}};
init(Other) ->
    {error, {invalid_option, discover, {missing, Other}}}.

%% @doc Calls the discover fun.
-spec discover(map()) -> {ok, list(), map()} | {error, term(), map()}.
discover(#{discover := D} = Funs) ->
    case D() of
        {ok, Nodes} when is_list(Nodes) -> {ok, Nodes, Funs};
        {error, Reason} -> {error, Reason, Funs};
        Nodes when is_list(Nodes) -> {ok, Nodes, Funs};
        Other -> {error, {bad_return, Other}, Funs}
    end.
