%%% @doc The cluster configuration: one map, validated once, up front.
%%%
%%% Keys (only `strategy' is required):
%%% <ul>
%%% <li>`strategy': see `barnacle_strategy:spec()'.</li>
%%% <li>`name': register the cluster process under this atom (a binary or
%%% string is made an atom: it is the user's own configuration).</li>
%%% <li>`poll_interval': ms between discovery passes, default 5000.</li>
%%% <li>`connect_timeout': ms one connection attempt may take, default 5000.</li>
%%% <li>`discover_timeout': ms one discovery may take, default 10000.</li>
%%% <li>`backoff': `#{min => Ms, max => Ms}', retry delays for lost or
%%% unreachable nodes, default `#{min => 200, max => 5000}'.</li>
%%% <li>`prune': disconnect nodes this cluster connected once a successful
%%% discovery no longer lists them, default `false'.</li>
%%% <li>`listeners': event listeners (`barnacle_events:listener()'), default `[]'.</li>
%%% <li>`max_nodes': most nodes one discovery may yield, default 1024.</li>
%%% <li>`max_parallel_connects': most connection attempts in flight at
%%% once, default `infinity' (1 makes them serial, as other libraries do).</li>
%%% </ul>
%%% Errors are `{invalid_config, Key, Value}' naming the first bad key.
-module(barnacle_config).

-export([validate/1, defaults/0]).

-type ops() :: #{connect := fun((node()) -> term()),
                 disconnect := fun((node()) -> term()),
                 list_nodes := fun(() -> term()),
                 distributed := boolean()}.
-type t() :: #{strategy := {module(), term()},
               name := atom() | undefined,
               poll_interval := pos_integer(),
               connect_timeout := pos_integer(),
               discover_timeout := pos_integer(),
               backoff := #{min := pos_integer(), max := pos_integer()},
               prune := boolean(),
               listeners := [barnacle_events:listener()],
               max_nodes := pos_integer(),
               max_parallel_connects := pos_integer() | infinity,
               ops := ops()}.
-export_type([t/0, ops/0]).

-define(KEYS, [strategy, name, poll_interval, connect_timeout, discover_timeout,
               backoff, prune, listeners, max_nodes, max_parallel_connects]).

%% @doc The default value of every optional key.
-spec defaults() -> map().
defaults() ->
    #{name => undefined,
      poll_interval => 5000,
      connect_timeout => 5000,
      discover_timeout => 10000,
      backoff => #{min => 200, max => 5000},
      prune => false,
      listeners => [],
      max_nodes => 1024,
      max_parallel_connects => infinity}.

%% @doc Validates a config map. On success the strategy is resolved and
%% initialised (`{Module, State}') and the connection functions are chosen.
-spec validate(Config :: term()) -> {ok, t()} | {error, {invalid_config, atom(), term()}}.
validate(Config) when is_map(Config) ->
    Unknown = [{K, V} || {K, V} <- lists:sort(maps:to_list(Config)),
                         not lists:member(K, ?KEYS)],
    case {Unknown, Config} of
        {[{K, V} | _], _} ->
            {error, {invalid_config, K, V}};
        {[], #{strategy := _}} ->
            check_all(maps:merge(defaults(), Config));
        {[], _} ->
            {error, {invalid_config, strategy, missing}}
    end;
validate(Config) ->
    {error, {invalid_config, config, Config}}.

check_all(C) ->
    Checks = [name, poll_interval, connect_timeout, discover_timeout, backoff,
              prune, listeners, max_nodes, max_parallel_connects, strategy],
    check(Checks, C).

check([], C) ->
    {ok, C#{ops => ops(C)}};
check([K | Rest], C) ->
    V = maps:get(K, C),
    case value(K, V) of
        {ok, V1} -> check(Rest, C#{K := V1});
        error -> {error, {invalid_config, K, V}};
        {error, Reason} -> {error, {invalid_config, K, Reason}}
    end.

value(name, undefined) -> {ok, undefined};
value(name, A) when is_atom(A) -> {ok, A};
value(name, B) when is_binary(B), byte_size(B) > 0, byte_size(B) < 256 ->
    {ok, binary_to_atom(B, utf8)};
value(name, L) when is_list(L) ->
    case barnacle_opts:is_text(L) andalso L =/= [] andalso length(L) < 256 of
        true -> {ok, list_to_atom(L)};
        false -> error
    end;
value(K, V) when K =:= poll_interval; K =:= connect_timeout; K =:= discover_timeout ->
    ok_if(barnacle_opts:is_timeout(V), V);
value(backoff, B) when is_map(B) ->
    case maps:merge(#{min => 200, max => 5000}, B) of
        #{min := Min, max := Max} = M when map_size(M) =:= 2, is_integer(Min), Min > 0,
                                            is_integer(Max), Max >= Min, Max =< 3600000 ->
            {ok, M};
        _ -> error
    end;
value(prune, V) -> ok_if(is_boolean(V), V);
value(max_nodes, V) -> ok_if(is_integer(V) andalso V > 0 andalso V =< 100000, V);
value(max_parallel_connects, infinity) -> {ok, infinity};
value(max_parallel_connects, V) -> ok_if(is_integer(V) andalso V > 0, V);
value(listeners, L) when is_list(L) ->
    case [X || X <- L, not barnacle_events:is_listener(X)] of
        [] -> {ok, L};
        [Bad | _] -> {error, {invalid_listener, Bad}}
    end;
value(strategy, Spec) ->
    case barnacle_strategy:resolve(Spec) of
        {ok, Mod, Opts} ->
            case barnacle_strategy:init(Mod, Opts) of
                {ok, State} -> {ok, {Mod, State}};
                {error, Reason} -> {error, Reason}
            end;
        {error, Reason} ->
            {error, {Reason, Spec}}
    end;
value(_, _) -> error.

ok_if(true, V) -> {ok, V};
ok_if(false, _) -> error.

%% Distributed Erlang unless a custom strategy supplies its own functions.
ops(#{strategy := {barnacle_custom, Funs}}) ->
    Default = default_ops(),
    Custom = maps:with([connect, disconnect, list_nodes], Funs),
    (maps:merge(Default, Custom))#{distributed => map_size(Custom) =:= 0};
ops(_) ->
    default_ops().

default_ops() ->
    #{connect => fun net_kernel:connect_node/1,
      disconnect => fun erlang:disconnect_node/1,
      list_nodes => fun erlang:nodes/0,
      distributed => true}.
