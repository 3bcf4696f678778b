%%% @doc Option checking shared by the config and the strategies: one
%%% clause per key, unknown keys rejected, the bad key named.
-module(barnacle_opts).

-export([validate/3, is_text/1, is_timeout/1, is_pos_int/1, is_basename/1, is_host/1,
         to_binary/1]).

%% @doc Checks every key of `Opts' with `Check(Key, Value)' and fills in
%% `Defaults'. A key missing from `Defaults' is unknown; a default of
%% `required' must be given. Errors are `{invalid_option, Key, Value}' or
%% `{missing_option, Key}'.
-spec validate(Opts, Defaults, Check) -> {ok, map()} | {error, term()}
              when Opts :: map(), Defaults :: map(),
                   Check :: fun((atom(), term()) -> boolean()).
validate(Opts, Defaults, Check) when is_map(Opts) ->
    Bad = [{K, V} || {K, V} <- lists:sort(maps:to_list(Opts)),
                     not (is_map_key(K, Defaults) andalso Check(K, V))],
    Merged = maps:merge(Defaults, Opts),
    Missing = [K || {K, required} <- lists:sort(maps:to_list(Merged))],
    case {Bad, Missing} of
        {[{K, V} | _], _} -> {error, {invalid_option, K, V}};
        {[], [K | _]} -> {error, {missing_option, K}};
        {[], []} -> {ok, Merged}
    end;
validate(Opts, _Defaults, _Check) ->
    {error, {invalid_options, Opts}}.

%% @doc A binary or a flat string of characters.
-spec is_text(term()) -> boolean().
is_text(B) when is_binary(B) -> true;
is_text(L) when is_list(L) -> io_lib:printable_unicode_list(L);
is_text(_) -> false.

%% @doc A timeout in milliseconds: a positive integer up to an hour.
-spec is_timeout(term()) -> boolean().
is_timeout(T) -> is_integer(T) andalso T > 0 andalso T =< 3600000.

%% @doc A valid node basename (the part before `@'), as atom, binary or string.
-spec is_basename(term()) -> boolean().
is_basename(B) when is_atom(B); is_binary(B); is_list(B) ->
    try barnacle_opts:to_binary(B) of
        Bin -> element(1, barnacle_native:normalize_node_name(<<Bin/binary, "@h">>)) =:= ok
    catch
        error:badarg -> false
    end;
is_basename(_) ->
    false.

%% @doc A valid node-name host (a host name or an IP address), as a binary.
-spec is_host(binary()) -> boolean().
is_host(B) when is_binary(B) ->
    element(1, barnacle_native:normalize_node_name(<<"x@", B/binary>>)) =:= ok;
is_host(_) ->
    false.

%% @doc A positive integer.
-spec is_pos_int(term()) -> boolean().
is_pos_int(N) -> is_integer(N) andalso N > 0.

%% @doc An atom, binary or string as a binary; `badarg' otherwise.
-spec to_binary(term()) -> binary().
to_binary(A) when is_atom(A) -> atom_to_binary(A, utf8);
to_binary(B) when is_binary(B) -> B;
to_binary(L) when is_list(L) ->
    case unicode:characters_to_binary(L) of
        B when is_binary(B) -> B;
        _ -> erlang:error(badarg)
    end;
to_binary(_) -> erlang:error(badarg).
