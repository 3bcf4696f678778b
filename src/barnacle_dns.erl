%%% @doc Strategies `{dns, Opts}' and `{dns_srv, Opts}': nodes from DNS.
%%%
%%% `{dns, Opts}': every A/AAAA address of `query' becomes
%%% `Basename@Address', IPv6 written as `inet:ntoa/1' writes it (the name a
%%% node started with `-name app@fd00::1' has). `{dns_srv, Opts}': every SRV
%%% target becomes `Basename@Target' (Kubernetes StatefulSets behind a
%%% headless service: `app@app-0.app.ns.svc.cluster.local').
%%%
%%% Options: `basename' (required: binary, string or atom), `query'
%%% (required), `timeout' (ms, default 5000), `families' (`both' (default),
%%% `inet' or `inet6'; address lookups only), `nameservers' (a list of
%%% `{Ip, Port}' or `Ip'; default: the system's resolv.conf with its search
%%% domains), `max_nodes' (default 1024).
%%%
%%% A lookup that fails, or finds nothing, is a `strategy_error' with the
%%% DNS reason (`{dns, nxdomain}', `{dns, timeout}', ...): it never counts
%%% as "no nodes", so with `prune' a DNS outage disconnects nothing.
-module(barnacle_dns).
-behaviour(barnacle_strategy).

-export([init/1, discover/1, node_basename/1]).

%% @doc Validates the options. `{Kind, Opts}' with `Kind' `a' or `srv'.
-spec init({a | srv, map()}) -> {ok, map()} | {error, term()}.
init({Kind, Opts}) when is_map(Opts) ->
    Defaults = #{basename => required, query => required, timeout => 5000,
                 families => both, nameservers => [], max_nodes => 1024},
    case barnacle_opts:validate(Opts, Defaults, fun check/2) of
        {ok, O} ->
            Base = barnacle_opts:to_binary(maps:get(basename, O)),
            {ok, O#{kind => Kind, basename := Base,
                    query := barnacle_opts:to_binary(maps:get(query, O)),
                    nameservers := [server(S) || S <- maps:get(nameservers, O)]}};
        Error ->
            Error
    end;
init({_, Opts}) ->
    {error, {invalid_options, Opts}}.

check(basename, B) -> barnacle_opts:is_basename(B);
check(query, Q) -> barnacle_opts:is_text(Q) andalso Q =/= "" andalso Q =/= <<>>;
check(timeout, T) -> barnacle_opts:is_timeout(T);
check(families, F) -> lists:member(F, [both, inet, inet6]);
check(nameservers, L) -> is_list(L) andalso lists:all(fun is_server/1, L);
check(max_nodes, N) -> is_integer(N) andalso N > 0 andalso N =< 100000;
check(_, _) -> false.

is_server({Ip, Port}) -> is_ip(Ip) andalso is_integer(Port) andalso Port > 0 andalso Port < 65536;
is_server(Ip) -> is_ip(Ip).

is_ip(Ip) -> inet:is_ip_address(Ip).

server({Ip, Port}) -> {Ip, Port};
server(Ip) -> {Ip, 53}.

%% @doc Looks the name up and builds the node names.
-spec discover(map()) -> {ok, [binary()], map()} | {error, term(), map()}.
discover(#{kind := Kind, basename := Base, query := Query, timeout := T,
           families := F, nameservers := NS, max_nodes := Max} = S) ->
    Opts = #{kind => Kind, families => F, nameservers => NS, timeout => T,
             max_records => Max},
    case barnacle_native:discover_dns(Query, Opts) of
        {ok, #{records := Records, truncated := Tr, rejected := Rej}} ->
            Tr > 0 andalso barnacle_log:warning(#{what => over_limit, cluster => self(),
                                                  count => Tr, max_nodes => Max}),
            Rej > 0 andalso barnacle_log:warning(#{what => invalid_names, cluster => self(),
                                                   count => Rej, sample => [srv_target]}),
            {ok, names(Kind, Base, Records), S};
        {error, Reason} ->
            {error, {dns, Reason}, S}
    end.

names(a, Base, Addrs) ->
    [iolist_to_binary([Base, $@, inet:ntoa(Ip)]) || Ip <- Addrs];
names(srv, Base, Srvs) ->
    lists:usort([<<Base/binary, $@, Target/binary>> || {_, _, _, Target} <- Srvs]).

%% @doc The basename of a node name (`app' for `app@10.0.0.1'), to
%% configure a DNS strategy with this node's own basename.
-spec node_basename(node() | binary() | string()) ->
          {ok, binary()} | {error, not_alive | not_a_node_name}.
node_basename(nonode@nohost) ->
    {error, not_alive};
node_basename(Node) ->
    try barnacle_opts:to_binary(Node) of
        Bin ->
            case binary:split(Bin, <<"@">>) of
                [Base, Host] when Base =/= <<>>, Host =/= <<>> -> {ok, Base};
                _ -> {error, not_a_node_name}
            end
    catch
        error:badarg -> {error, not_a_node_name}
    end.
