%%% @doc Strategy `local_epmd': every node registered with the EPMD on this
%%% node's own machine.
%%%
%%% Options (all optional): `port' (EPMD's port; default `ERL_EPMD_PORT' or
%%% 4369), `address' (where to reach it; default `"localhost"', every
%%% address it resolves to is tried), `timeout' (ms, default 2000),
%%% `basenames' (only names in this list of binaries). The names are asked
%%% through the native `epmd_names', and each becomes `Name@Host' with this
%%% node's host.
-module(barnacle_local_epmd).
-behaviour(barnacle_strategy).

-export([init/1, discover/1]).

-define(DEFAULT_TIMEOUT, 2000).
-define(MAX_NAMES, 4096).

%% @doc Validates the options.
-spec init(map()) -> {ok, map()} | {error, term()}.
init(Opts) when is_map(Opts) ->
    Defaults = #{port => barnacle_epmd:default_port(), address => <<"localhost">>,
                 timeout => ?DEFAULT_TIMEOUT, basenames => any},
    barnacle_opts:validate(Opts, Defaults, fun check/2);
init(Opts) ->
    {error, {invalid_options, Opts}}.

check(port, P) -> is_integer(P) andalso P > 0 andalso P < 65536;
check(address, A) -> barnacle_opts:is_text(A);
check(timeout, T) -> barnacle_opts:is_timeout(T);
check(basenames, any) -> true;
check(basenames, L) -> is_list(L) andalso lists:all(fun barnacle_opts:is_basename/1, L);
check(_, _) -> false.

%% @doc Asks the local EPMD for its names.
-spec discover(map()) -> {ok, [binary()], map()} | {error, term(), map()}.
discover(#{port := Port, address := Addr, timeout := T, basenames := Filter} = S) ->
    case node() of
        nonode@nohost ->
            {error, not_alive, S};
        Self ->
            [_, Host] = binary:split(atom_to_binary(Self, utf8), <<"@">>),
            case barnacle_native:epmd_names(Addr, Port, T, ?MAX_NAMES) of
                {ok, {Entries, _Rejected}} ->
                    Keep = case Filter of
                               any -> fun(_) -> true end;
                               L -> Bins = [barnacle_opts:to_binary(B) || B <- L],
                                    fun(N) -> lists:member(N, Bins) end
                           end,
                    {ok, [<<Name/binary, $@, Host/binary>> || {Name, _} <- Entries, Keep(Name)], S};
                {error, Reason} ->
                    {error, {epmd, Reason}, S}
            end
    end.
