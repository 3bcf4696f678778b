%%% @doc Strategy `{kubernetes, Opts}': nodes from the Kubernetes API.
%%%
%%% Reads the ready pods matching `selector' (`source => pods', the
%%% default) or the ready endpoints of `service''s EndpointSlices
%%% (`source => endpointslices'), with the pod's service account, in the
%%% native core (ureq, rustls, serde_json) on a dirty IO scheduler.
%%%
%%% Options:
%%% <ul>
%%% <li>`basename' (required): the node basename.</li>
%%% <li>`selector': a label selector (`"app=my-app"'), required for pods.</li>
%%% <li>`service': the Service name, required for endpointslices and for
%%% `mode => hostname'.</li>
%%% <li>`mode': `ip' (`app@10.1.2.3', default), `dns'
%%% (`app@10-1-2-3.ns.pod.cluster.local') or `hostname'
%%% (`app@pod-name.service.ns.svc.cluster.local').</li>
%%% <li>`namespace': default the service account's namespace file.</li>
%%% <li>`api_server': default `https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT'.</li>
%%% <li>`token_path', `ca_path', `namespace_path': default the standard
%%% service-account files under `/var/run/secrets/kubernetes.io/serviceaccount/'.</li>
%%% <li>`insecure_skip_tls_verify': `false' (default) verifies the server
%%% against `ca_path'.</li>
%%% <li>`cluster_domain' (default `"cluster.local"'), `timeout' (ms, 5000),
%%% `max_nodes' (1024).</li>
%%% </ul>
%%% Only ready pods count; pods being deleted do not. Errors are
%%% `{strategy_error, {kubernetes, Reason}}' and prune nothing; the token
%%% never appears in an error, event or log line.
-module(barnacle_kubernetes).
-behaviour(barnacle_strategy).

-export([init/1, discover/1]).

-define(SA, "/var/run/secrets/kubernetes.io/serviceaccount/").

%% @doc Validates the options and resolves the defaults from the pod's
%% environment and service-account files.
-spec init(map()) -> {ok, map()} | {error, term()}.
init(Opts) when is_map(Opts) ->
    Defaults = #{basename => required, selector => undefined, service => undefined,
                 mode => ip, source => pods, namespace => undefined,
                 api_server => undefined, token_path => ?SA "token",
                 ca_path => ?SA "ca.crt", namespace_path => ?SA "namespace",
                 insecure_skip_tls_verify => false, cluster_domain => <<"cluster.local">>,
                 timeout => 5000, max_nodes => 1024},
    case barnacle_opts:validate(Opts, Defaults, fun check/2) of
        {ok, O} -> resolve(O);
        Error -> Error
    end;
init(Opts) ->
    {error, {invalid_options, Opts}}.

check(basename, B) -> barnacle_opts:is_basename(B);
check(K, undefined) when K =:= selector; K =:= service; K =:= namespace; K =:= api_server -> true;
check(K, V) when K =:= selector; K =:= api_server; K =:= token_path; K =:= ca_path;
                 K =:= namespace_path; K =:= cluster_domain ->
    barnacle_opts:is_text(V);
check(K, V) when K =:= service; K =:= namespace ->
    barnacle_opts:is_text(V) andalso is_label(barnacle_opts:to_binary(V));
check(mode, M) -> lists:member(M, [ip, dns, hostname]);
check(source, S) -> lists:member(S, [pods, endpointslices]);
check(insecure_skip_tls_verify, B) -> is_boolean(B);
check(timeout, T) -> barnacle_opts:is_timeout(T);
check(max_nodes, N) -> is_integer(N) andalso N > 0 andalso N =< 100000;
check(_, _) -> false.

is_label(B) ->
    byte_size(B) > 0 andalso byte_size(B) =< 63 andalso binary:match(B, <<".">>) =:= nomatch
        andalso barnacle_opts:is_host(B).

resolve(#{source := pods, selector := undefined}) ->
    {error, {missing_option, selector}};
resolve(#{source := endpointslices, service := undefined}) ->
    {error, {missing_option, service}};
resolve(#{mode := hostname, service := undefined}) ->
    {error, {missing_option, service}};
resolve(O) ->
    case {namespace(O), api_server(O)} of
        {{error, E}, _} -> {error, E};
        {_, {error, E}} -> {error, E};
        {{ok, Ns}, {ok, Api}} ->
            Bin = fun(undefined) -> nil; (V) -> barnacle_opts:to_binary(V) end,
            {ok, #{api_server => Api, namespace => Ns,
                   token_path => Bin(maps:get(token_path, O)),
                   ca_path => Bin(maps:get(ca_path, O)),
                   insecure_skip_tls_verify => maps:get(insecure_skip_tls_verify, O),
                   selector => case maps:get(selector, O) of
                                   undefined -> <<>>;
                                   S -> barnacle_opts:to_binary(S)
                               end,
                   service => Bin(maps:get(service, O)),
                   source => maps:get(source, O), mode => maps:get(mode, O),
                   basename => barnacle_opts:to_binary(maps:get(basename, O)),
                   cluster_domain => barnacle_opts:to_binary(maps:get(cluster_domain, O)),
                   timeout => maps:get(timeout, O), max_nodes => maps:get(max_nodes, O)}}
    end.

namespace(#{namespace := undefined, namespace_path := Path}) ->
    case file:read_file(Path) of
        {ok, Text} ->
            Ns = string:trim(Text),
            case is_label(Ns) of
                true -> {ok, Ns};
                false -> {error, {invalid_option, namespace_path, Path}}
            end;
        {error, _} ->
            {error, {missing_option, namespace}}
    end;
namespace(#{namespace := Ns}) ->
    {ok, barnacle_opts:to_binary(Ns)}.

api_server(#{api_server := undefined}) ->
    case {os:getenv("KUBERNETES_SERVICE_HOST"), os:getenv("KUBERNETES_SERVICE_PORT")} of
        {Host, Port} when is_list(Host), is_list(Port) ->
            H = case inet:parse_ipv6strict_address(Host) of
                    {ok, _} -> "[" ++ Host ++ "]";
                    _ -> Host
                end,
            {ok, iolist_to_binary(["https://", H, ":", Port])};
        _ ->
            {error, {missing_option, api_server}}
    end;
api_server(#{api_server := Url}) ->
    {ok, barnacle_opts:to_binary(Url)}.

%% @doc Asks the API server.
-spec discover(map()) -> {ok, [binary()], map()} | {error, term(), map()}.
discover(S) ->
    case barnacle_native:discover_kubernetes(S) of
        {ok, #{nodes := Nodes, truncated := Tr, rejected := Rej}} ->
            Tr > 0 andalso barnacle_log:warning(#{what => over_limit, cluster => self(),
                                                  count => Tr,
                                                  max_nodes => maps:get(max_nodes, S)}),
            Rej > 0 andalso barnacle_log:warning(#{what => invalid_names, cluster => self(),
                                                   count => Rej, sample => [kubernetes_entry]}),
            {ok, Nodes, S};
        {error, Reason} ->
            {error, {kubernetes, Reason}, S}
    end.
