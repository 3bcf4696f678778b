%%% @doc Strategy `{gossip, Opts}': zero-configuration clustering on one
%%% network segment by UDP multicast (or broadcast).
%%%
%%% Every node announces itself every `interval' ms; a node that hears a
%%% valid announcement connects to the sender at once, without waiting for
%%% a poll. Discovery (for `prune') lists the nodes heard within the last
%%% three intervals.
%%%
%%% The socket is the cluster process's (opened in `start/1', closed in
%%% `terminate/1'); packets are encoded, authenticated and decoded in the
%%% native core (`barnacle_native:gossip_*').
%%%
%%% Options: `port' (45892), `multicast_addr' (`{239,255,43,21}', in the
%%% administratively scoped range), `multicast_if' and `if_addr' (the
%%% interface address to join on and bind to, default `{0,0,0,0}'), `ttl'
%%% (1), `broadcast_only' (`false'; `true' sends to `broadcast_addr',
%%% default `{255,255,255,255}'), `interval' (5000 ms), `secret' (a binary
%%% or string; none by default), `window' (30000 ms: how old or how far in
%%% the future an authenticated packet may be), `max_nodes' (256: distinct
%%% names ever tracked), `connect_rate' (20 connection attempts started per
%%% second at most).
%%%
%%% With a `secret' every packet carries an HMAC-SHA256 under a key derived
%%% from it, a cluster tag, a timestamp and a nonce; forged, stale, future
%%% and replayed packets are dropped and counted, and a name becomes an atom
%%% only after the MAC verifies and the name is valid. Without a secret any
%%% host on the segment can make this node try connections: barnacle warns
%%% once at start, still validates names, bounds the names it tracks and
%%% rate-limits connection attempts. The Erlang cookie is never sent; the
%%% secret is never logged (only the derived key is kept, inside the NIF).
-module(barnacle_gossip).
-behaviour(barnacle_strategy).

-export([init/1, start/1, discover/1, handle_info/2, terminate/1, info/1]).

-define(ACTIVE_N, 64).

%% @doc Validates the options. The secret is turned into a key at once and
%% not kept.
-spec init(map()) -> {ok, map()} | {error, term()}.
init(Opts) when is_map(Opts) ->
    Defaults = #{port => 45892, multicast_addr => {239, 255, 43, 21},
                 multicast_if => {0, 0, 0, 0}, if_addr => {0, 0, 0, 0}, ttl => 1,
                 broadcast_only => false, broadcast_addr => {255, 255, 255, 255},
                 interval => 5000, secret => none, window => 30000, max_nodes => 256,
                 connect_rate => 20},
    case barnacle_opts:validate(Opts, Defaults, fun check/2) of
        {ok, O} ->
            Secret = case maps:get(secret, O) of
                         none -> nil;
                         S -> barnacle_opts:to_binary(S)
                     end,
            Key = barnacle_native:gossip_new(Secret, maps:get(window, O), 4096),
            {ok, (maps:remove(secret, O))#{key => Key, authenticated => Secret =/= nil,
                                            socket => undefined, heard => #{},
                                            dropped => #{}, tokens => maps:get(connect_rate, O),
                                            refilled => 0}};
        {error, {invalid_option, secret, _}} ->
            %% Never echo a secret, even a malformed one.
            {error, {invalid_option, secret, redacted}};
        Error ->
            Error
    end;
init(Opts) ->
    {error, {invalid_options, Opts}}.

check(port, P) -> is_integer(P) andalso P > 0 andalso P < 65536;
check(K, A) when K =:= multicast_addr; K =:= multicast_if; K =:= if_addr; K =:= broadcast_addr ->
    is_tuple(A) andalso tuple_size(A) =:= 4 andalso inet:is_ipv4_address(A);
check(ttl, T) -> is_integer(T) andalso T >= 0 andalso T =< 255;
check(broadcast_only, B) -> is_boolean(B);
check(interval, I) -> barnacle_opts:is_timeout(I) andalso I >= 50;
check(window, W) -> barnacle_opts:is_timeout(W);
check(secret, none) -> true;
check(secret, S) -> barnacle_opts:is_text(S) andalso iolist_size(S) >= 8;
check(max_nodes, N) -> is_integer(N) andalso N > 0 andalso N =< 100000;
check(connect_rate, N) -> is_integer(N) andalso N > 0;
check(_, _) -> false.

%% @doc Opens the socket in the cluster process and announces at once.
-spec start(map()) -> {ok, map()} | {error, term()}.
start(#{port := Port, if_addr := If, multicast_if := MIf, multicast_addr := Group,
        ttl := Ttl, broadcast_only := Bcast, authenticated := Auth} = S) ->
    Membership = case Bcast of
                     true -> [{broadcast, true}];
                     false -> [{add_membership, {Group, MIf}}, {multicast_if, MIf},
                               {multicast_ttl, Ttl}, {multicast_loop, true}]
                 end,
    %% reuseaddr lets several barnacles (or VMs) on one host share the port.
    %% A larger receive buffer absorbs bursts; past it the kernel drops.
    case gen_udp:open(Port, [binary, {active, ?ACTIVE_N}, {reuseaddr, true}, {ip, If},
                             {recbuf, 1024 * 1024} | Membership]) of
        {ok, Sock} ->
            Auth orelse
                barnacle_log:warning(#{what => insecure, cluster => self(),
                                       text => "gossip without a secret: any host on this "
                                               "network segment can make this node try "
                                               "connections; set `secret'"}),
            S1 = S#{socket := Sock},
            announce(S1),
            {ok, S1};
        {error, Reason} ->
            {error, {gossip_socket, Reason}}
    end.

%% @doc The nodes heard within the last three intervals.
-spec discover(map()) -> {ok, [binary()], map()}.
discover(#{heard := Heard, interval := I} = S) ->
    Since = erlang:monotonic_time(millisecond) - 3 * I,
    {ok, [N || {N, T} <- maps:to_list(Heard), T >= Since], S}.

%% @doc Packets, the announce timer and socket flow control.
-spec handle_info(term(), map()) -> {ok, map()} | {connect, [binary()], map()}.
handle_info({udp, Sock, _Ip, _Port, Packet}, #{socket := Sock, key := Key} = S) ->
    case barnacle_native:gossip_decode(Key, Packet, erlang:system_time(millisecond)) of
        {ok, Name} -> heard(Name, S);
        {error, Reason} -> {ok, drop(Reason, S)}
    end;
handle_info({udp_passive, Sock}, #{socket := Sock} = S) ->
    %% At most ?ACTIVE_N packets wait in the mailbox at a time: a flood
    %% cannot grow the cluster process's queue without bound.
    ok = inet:setopts(Sock, [{active, ?ACTIVE_N}]),
    {ok, S};
handle_info({barnacle_gossip, announce, Sock}, #{socket := Sock} = S) ->
    announce(S),
    {ok, forget_silent(S)};
handle_info(_, S) ->
    {ok, S}.

heard(Name, S) ->
    case atom_to_binary(node(), utf8) of
        Name -> {ok, S};
        _ -> track(Name, S)
    end.

%% Names not heard for three intervals are forgotten, so that nodes that
%% left (or names a flood made up) do not hold places for ever.
forget_silent(#{heard := Heard, interval := I} = S) ->
    Since = erlang:monotonic_time(millisecond) - 3 * I,
    S#{heard := maps:filter(fun(_, T) -> T >= Since end, Heard)}.

track(Name, #{max_nodes := Max} = S0) ->
    Now = erlang:monotonic_time(millisecond),
    #{heard := Heard} = S = case map_size(maps:get(heard, S0)) >= Max of
                                true -> forget_silent(S0);
                                false -> S0
                            end,
    case is_map_key(Name, Heard) of
        true ->
            %% Known: refresh; barnacle already connects or retries it.
            {ok, S#{heard := Heard#{Name => Now}}};
        false when map_size(Heard) >= Max ->
            {ok, drop(too_many_names, S)};
        false ->
            S1 = S#{heard := Heard#{Name => Now}},
            case take_token(S1) of
                {ok, S2} -> {connect, [Name], S2};
                {limited, S2} -> {ok, drop(rate_limited, S2)}
            end
    end.

%% A token bucket refilled each second to `connect_rate'.
take_token(#{tokens := T, refilled := R, connect_rate := Rate} = S) ->
    Now = erlang:monotonic_time(millisecond),
    {T1, R1} = case Now - R >= 1000 of
                   true -> {Rate, Now};
                   false -> {T, R}
               end,
    case T1 > 0 of
        true -> {ok, S#{tokens := T1 - 1, refilled := R1}};
        false -> {limited, S#{tokens := 0, refilled := R1}}
    end.

drop(Reason, #{dropped := D} = S) ->
    S#{dropped := D#{Reason => maps:get(Reason, D, 0) + 1}}.

announce(#{socket := Sock, key := Key, interval := I, port := Port} = S) ->
    %% A send that fails (no route yet) is retried at the next interval.
    _ = case barnacle_native:gossip_encode(Key, atom_to_binary(node(), utf8),
                                           erlang:system_time(millisecond)) of
            {ok, Packet} -> gen_udp:send(Sock, destination(S), Port, Packet);
            {error, _} -> ok
        end,
    _ = erlang:send_after(I, self(), {barnacle_gossip, announce, Sock}),
    ok.

destination(#{broadcast_only := true, broadcast_addr := B}) -> B;
destination(#{multicast_addr := G}) -> G.

%% @doc Closes the socket.
-spec terminate(map()) -> ok.
terminate(#{socket := undefined}) -> ok;
terminate(#{socket := Sock}) -> _ = gen_udp:close(Sock), ok.

%% @doc Counters: packets dropped by reason, names tracked, whether
%% packets are authenticated.
-spec info(map()) -> map().
info(#{dropped := D, heard := H, authenticated := A}) ->
    #{dropped => D, tracked => map_size(H), authenticated => A}.
