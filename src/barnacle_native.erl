%%% @doc The native core, loaded as NIFs from `priv/libbarnacle_nif.so'.
%%%
%%% Erlang and Elixir users may call these functions directly
%%% (`:barnacle_native.epmd_names("127.0.0.1", 4369, 1000, 100)' in Elixir).
%%% Every function runs on a dirty scheduler, keeps a deadline on its I/O
%%% and returns plain terms: node names are binaries, never atoms.
%%%
%%% If the library is missing or fails to load, the module still loads and
%%% every function raises `{barnacle_nif_not_loaded, Info}', where `Info'
%%% names the path that was tried, the loader's reason and the command
%%% that builds the library.
-module(barnacle_native).

-export([epmd_names/4, diff_nodes/1, normalize_node_name/1, discover_dns/2,
         discover_kubernetes/1, gossip_new/3, gossip_encode/3, gossip_decode/3]).
-export([load_error/0]).

-on_load(init/0).

-define(BUILD_COMMAND, "sh native/build.sh (or: make native)").

-type name() :: binary().
-type diff_input() :: #{discovered := [binary()], connected := [binary()],
                        owned := [binary()], self_name := binary(),
                        prune := boolean(), max_nodes := non_neg_integer()}.
-type diff_output() :: #{wanted := [name()], connect := [name()],
                         disconnect := [name()], invalid := [{binary(), atom()}],
                         invalid_count := non_neg_integer(),
                         over_limit := non_neg_integer()}.
-type dns_opts() :: #{kind => a | srv,
                      families => both | inet | inet6,
                      nameservers => [{inet:ip_address(), inet:port_number()}],
                      timeout => pos_integer(),
                      max_records => pos_integer()}.
-type srv_record() :: {Priority :: 0..65535, Weight :: 0..65535,
                       Port :: inet:port_number(), Target :: binary()}.
-type dns_answer() :: #{records := [inet:ip_address()] | [srv_record()],
                        truncated := non_neg_integer(),
                        rejected := non_neg_integer()}.
-export_type([name/0, diff_input/0, diff_output/0, dns_opts/0, srv_record/0, dns_answer/0]).

%% @doc Asks the EPMD at `Host:Port' for its registered names within
%% `TimeoutMs' milliseconds (lookup, connect and reply together). Returns
%% the valid names with their distribution ports and how many lines named
%% invalid basenames. More than `MaxNames' names is `{error, too_large}'.
-spec epmd_names(Host, Port, TimeoutMs, MaxNames) ->
          {ok, {[{name(), inet:port_number()}], Rejected :: non_neg_integer()}}
        | {error, atom()}
              when Host :: iodata(), Port :: inet:port_number(),
                   TimeoutMs :: non_neg_integer(), MaxNames :: non_neg_integer().
epmd_names(Host, Port, TimeoutMs, MaxNames) ->
    epmd_names_nif(iolist_to_binary(Host), Port, TimeoutMs, MaxNames).

%% @doc A DNS lookup through hickory-resolver: A and AAAA records (queried
%% concurrently; one family having none is not an error) or SRV records.
%% Without `nameservers' the system configuration is used (resolv.conf,
%% search domains, ndots). `timeout' (default 5000 ms) bounds the whole
%% lookup; at most `max_records' (default 1024) records come back and the
%% rest are counted as `truncated'. SRV targets that are not valid host
%% names are dropped and counted as `rejected'. Errors: `nxdomain',
%% `no_records', `timeout', `servfail', `refused', `bad_name',
%% `bad_response', `unreachable', `no_config', `bad_nameserver',
%% `resolver_error'.
-spec discover_dns(Name :: iodata(), Opts :: dns_opts()) ->
          {ok, dns_answer()} | {error, atom()}.
discover_dns(Name, Opts) ->
    Full = maps:merge(#{kind => a, families => both, nameservers => [],
                        timeout => 5000, max_records => 1024}, Opts),
    Servers = [{list_to_binary(inet:ntoa(Ip)), Port}
               || {Ip, Port} <- maps:get(nameservers, Full)],
    discover_dns_nif(iolist_to_binary(Name), Full#{nameservers := Servers}).

%% @doc Reads ready pods (or a Service's ready EndpointSlice endpoints) from
%% the Kubernetes API and builds node names (`mode': `ip', `dns' or
%% `hostname'). The server is verified against `ca_path' unless
%% `insecure_skip_tls_verify' is true; the bearer token is read from
%% `token_path' at each call and never returned. Errors: `timeout',
%% `unreachable', `tls', `unauthorized', `forbidden', `not_found',
%% `{http_status, Code}', `bad_response', `too_large', `no_token', `no_ca',
%% `bad_request'.
-spec discover_kubernetes(Opts :: map()) ->
          {ok, #{nodes := [binary()], rejected := non_neg_integer(),
                 truncated := non_neg_integer()}}
        | {error, atom() | {http_status, pos_integer()}}.
discover_kubernetes(Opts) ->
    discover_kubernetes_nif(Opts).

%% @doc A gossip group's state: the key derived from `Secret' (or none,
%% with `nil'), the replay window and the most nonces remembered. The
%% result is an opaque reference; the secret itself is not kept.
-spec gossip_new(Secret :: binary() | nil, WindowMs :: pos_integer(),
                 ReplayCapacity :: pos_integer()) -> reference().
gossip_new(Secret, WindowMs, Capacity) ->
    gossip_new_nif(Secret, WindowMs, Capacity).

%% @doc An announcement packet for `Name', authenticated when the state
%% has a key.
-spec gossip_encode(State :: reference(), Name :: binary(), NowMs :: non_neg_integer()) ->
          {ok, binary()} | {error, bad_name}.
gossip_encode(State, Name, NowMs) ->
    gossip_encode_nif(State, Name, NowMs).

%% @doc Verifies and decodes a packet: `{ok, NodeName}' (a validated
%% binary) or `{error, Reason}' with `Reason' one of `too_short',
%% `too_long', `bad_magic', `bad_version', `wrong_cluster', `bad_length',
%% `unauthenticated', `bad_mac', `future', `expired', `replayed', `bad_name'.
-spec gossip_decode(State :: reference(), Packet :: binary(), NowMs :: non_neg_integer()) ->
          {ok, binary()} | {error, atom()}.
gossip_decode(State, Packet, NowMs) ->
    gossip_decode_nif(State, Packet, NowMs).

%% @doc The membership diff: what to connect and what to disconnect, given
%% the discovered, connected and owned names (see `barnacle_cluster').
-spec diff_nodes(Input :: diff_input()) -> diff_output().
diff_nodes(_Input) ->
    erlang:nif_error(not_loaded_error()).

%% @doc Validates a node name and writes it canonically (IPv6 hosts as
%% `inet:ntoa/1' writes them).
-spec normalize_node_name(Name :: binary()) -> {ok, name()} | {error, atom()}.
normalize_node_name(_Name) ->
    erlang:nif_error(not_loaded_error()).

%% @doc Why the native library did not load, or `ok' when it did.
-spec load_error() -> ok | {error, map()}.
load_error() ->
    case persistent_term:get({?MODULE, load_error}, undefined) of
        undefined -> ok;
        Info -> {error, Info}
    end.

%% Internal

%% Each stub calls erlang:nif_error/1 itself: Dialyzer knows that a
%% function doing so is replaced by a NIF and trusts its spec.
epmd_names_nif(_Host, _Port, _TimeoutMs, _MaxNames) ->
    erlang:nif_error(not_loaded_error()).

discover_dns_nif(_Name, _Opts) ->
    erlang:nif_error(not_loaded_error()).

discover_kubernetes_nif(_Opts) ->
    erlang:nif_error(not_loaded_error()).

gossip_new_nif(_Secret, _WindowMs, _Capacity) ->
    erlang:nif_error(not_loaded_error()).

gossip_encode_nif(_State, _Name, _NowMs) ->
    erlang:nif_error(not_loaded_error()).

gossip_decode_nif(_State, _Packet, _NowMs) ->
    erlang:nif_error(not_loaded_error()).

not_loaded_error() ->
    {barnacle_nif_not_loaded,
     persistent_term:get({?MODULE, load_error}, #{build => ?BUILD_COMMAND})}.

init() ->
    Path = filename:join(priv_dir(), "libbarnacle_nif"),
    case erlang:load_nif(Path, 0) of
        ok ->
            persistent_term:erase({?MODULE, load_error}),
            ok;
        {error, {reload, _}} ->
            ok;
        {error, {Reason, Text}} ->
            Info = #{path => Path ++ ".so", reason => Reason,
                     detail => Text, build => ?BUILD_COMMAND},
            persistent_term:put({?MODULE, load_error}, Info),
            logger:error(#{what => nif_not_loaded, info => Info},
                         #{domain => [barnacle],
                           report_cb => fun barnacle_log:report_cb/1}),
            %% The module stays loaded so that callers get the error above,
            %% not `undef'.
            ok
    end.

priv_dir() ->
    case code:priv_dir(barnacle) of
        {error, bad_name} ->
            Ebin = filename:dirname(code:which(?MODULE)),
            filename:join(filename:dirname(Ebin), "priv");
        Dir ->
            Dir
    end.
