%%% @doc Strategy `{epmd, Nodes}': a fixed list of node names.
%%%
%%% Each name may be an atom, a binary or a string; every one is validated
%%% when the cluster starts, so a typo fails `start_link' instead of being
%%% retried forever.
-module(barnacle_epmd).
-behaviour(barnacle_strategy).

-export([init/1, discover/1, default_port/0]).

%% @doc Validates the list.
-spec init(term()) -> {ok, [binary()]} | {error, term()}.
init(Nodes) when is_list(Nodes) ->
    try
        {ok, [check(N) || N <- Nodes]}
    catch
        throw:{invalid_node, _, _} = E -> {error, E}
    end;
init(Other) ->
    {error, {not_a_list, Other}}.

check(N) ->
    Bin = try barnacle_opts:to_binary(N)
          catch error:badarg -> throw({invalid_node, N, not_a_name})
          end,
    case barnacle_native:normalize_node_name(Bin) of
        {ok, Canonical} -> Canonical;
        {error, Reason} -> throw({invalid_node, N, Reason})
    end.

%% @doc Returns the list.
-spec discover([binary()]) -> {ok, [binary()], [binary()]}.
discover(Nodes) ->
    {ok, Nodes, Nodes}.

%% @doc EPMD's port on this machine: `ERL_EPMD_PORT' if set, else 4369.
-spec default_port() -> inet:port_number().
default_port() ->
    case os:getenv("ERL_EPMD_PORT") of
        false -> 4369;
        Text ->
            case string:to_integer(Text) of
                {P, ""} when P > 0, P < 65536 -> P;
                _ -> 4369
            end
    end.
