%% The Kubernetes strategy against a fake API server (HTTPS with a test CA):
%% pods, errors, the token kept out of errors, events and logs; and a
%% cluster formed across real separate hosts from the API's pod list.
-module(barnacle_kubernetes_SUITE).
-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

-export([all/0, groups/0, suite/0, init_per_suite/1, end_per_suite/1,
         init_per_group/2, end_per_group/2, init_per_testcase/2, end_per_testcase/2]).
-export([pods_and_endpointslices/1, every_error_is_clear/1, config_errors/1,
         token_never_in_errors_events_or_logs/1, cluster_forms_from_api/1]).
-export([log/2]).

-import(barnacle_test_peers, [call/4]).

-define(TOKEN, "k8s-secret-token-1234567890").

suite() -> [{timetrap, {seconds, 120}}].

all() -> [{group, loopback}, {group, hosts}].

groups() ->
    [{loopback, [], [pods_and_endpointslices, every_error_is_clear, config_errors,
                     token_never_in_errors_events_or_logs]},
     {hosts, [], [cluster_forms_from_api]}].

init_per_suite(Config) ->
    case os:find_executable("openssl") of
        false -> {skip, "openssl is missing (it makes the test CA)"};
        _ ->
            Dir = ?config(priv_dir, Config),
            Pki = barnacle_k8s_fake:make_pki(filename:join(Dir, "pki")),
            Token = filename:join(Dir, "token"),
            ok = file:write_file(Token, ?TOKEN "\n"),
            [{pki, Pki}, {token, Token} | Config]
    end.

end_per_suite(_Config) -> ok.

init_per_group(loopback, Config) ->
    {Pid, Port} = barnacle_k8s_fake:start({127, 0, 0, 1}, ?config(pki, Config), api()),
    [{api, Pid}, {url, "https://127.0.0.1:" ++ integer_to_list(Port)} | Config];
init_per_group(hosts, Config) ->
    case barnacle_netns:available() of
        ok ->
            Net = barnacle_netns:setup({"k8s", 33}, 3),
            Pods = [{"app-" ++ integer_to_list(I), maps:get(ip4, barnacle_netns:host(Net, I))}
                    || I <- [1, 2, 3]],
            Handler = fun(_, Headers) -> authorized(Headers, barnacle_k8s_fake:pods_json(Pods)) end,
            {Pid, Port} = barnacle_k8s_fake:start({10, 77, 33, 1}, ?config(pki, Config), Handler),
            [{net, Net}, {api, Pid}, {url, "https://10.77.33.1:" ++ integer_to_list(Port)} | Config];
        {skip, Why} ->
            {skip, Why}
    end.

end_per_group(hosts, Config) ->
    barnacle_k8s_fake:stop(?config(api, Config)),
    barnacle_netns:teardown(?config(net, Config));
end_per_group(_, Config) ->
    barnacle_k8s_fake:stop(?config(api, Config)).

init_per_testcase(Case, Config) ->
    barnacle_k8s_fake:set_handler(?config(api, Config), default_handler(Config)),
    [{prefix, Case}, {peers, ets:new(peers, [public, bag])} | Config].

end_per_testcase(_Case, Config) ->
    barnacle_test_peers:stop_all(?config(peers, Config)).

default_handler(Config) ->
    case ?config(net, Config) of
        undefined -> api();
        Net ->
            Pods = [{"app-" ++ integer_to_list(I), maps:get(ip4, barnacle_netns:host(Net, I))}
                    || I <- [1, 2, 3]],
            fun(_, Headers) -> authorized(Headers, barnacle_k8s_fake:pods_json(Pods)) end
    end.

authorized(Headers, Body) ->
    Want = string:lowercase(<<"authorization: bearer " ?TOKEN>>),
    case lists:any(fun(H) -> string:lowercase(H) =:= Want end, Headers) of
        true -> {200, Body};
        false -> {401, <<"{\"kind\":\"Status\",\"code\":401}">>}
    end.

%% The API: pods of app=web in prod, slices of service web, RBAC on
%% namespace locked.
api() ->
    fun(Path, Headers) ->
            case Path of
                <<"/api/v1/namespaces/locked/", _/binary>> ->
                    {403, <<"{\"kind\":\"Status\",\"code\":403}">>};
                <<"/api/v1/namespaces/prod/pods?labelSelector=app%3Dweb">> ->
                    authorized(Headers, barnacle_k8s_fake:pods_json([{"web-1", "10.0.0.1"},
                                                                     {"web-2", "fd00::2"}]));
                <<"/apis/discovery.k8s.io/v1/namespaces/prod/endpointslices?", _/binary>> ->
                    authorized(Headers, <<"{\"items\":[{\"endpoints\":[{\"addresses\":[\"10.0.0.7\"],"
                                          "\"conditions\":{\"ready\":true},\"targetRef\":{\"name\":\"web-0\"}},"
                                          "{\"addresses\":[\"10.0.0.8\"],\"conditions\":{\"ready\":false}}]}]}">>);
                _ ->
                    {404, <<"{}">>}
            end
    end.

opts(Config, Extra) ->
    maps:merge(#{basename => app, selector => "app=web", namespace => "prod",
                 api_server => ?config(url, Config), token_path => ?config(token, Config),
                 ca_path => maps:get(ca, ?config(pki, Config)), timeout => 2000}, Extra).

discover(Opts) ->
    {ok, S} = barnacle_kubernetes:init(Opts),
    case barnacle_kubernetes:discover(S) of
        {ok, Nodes, _} -> {ok, Nodes};
        {error, R, _} -> {error, R}
    end.

pods_and_endpointslices(Config) ->
    ?assertEqual({ok, [<<"app@10.0.0.1">>, <<"app@fd00::2">>]}, discover(opts(Config, #{}))),
    ?assertEqual({ok, [<<"app@10-0-0-1.prod.pod.cluster.local">>,
                       <<"app@fd00--2.prod.pod.cluster.local">>]},
                 discover(opts(Config, #{mode => dns}))),
    ?assertEqual({ok, [<<"app@10.0.0.7">>]},
                 discover(opts(Config, #{source => endpointslices, service => "web"}))),
    ?assertEqual({ok, [<<"app@web-0.web.prod.svc.cluster.local">>]},
                 discover(opts(Config, #{source => endpointslices, service => "web",
                                         mode => hostname}))).

every_error_is_clear(Config) ->
    Api = ?config(api, Config),
    Set = fun(H) -> barnacle_k8s_fake:set_handler(Api, fun(_, _) -> H end) end,
    ?assertEqual({error, {kubernetes, forbidden}}, discover(opts(Config, #{namespace => "locked"}))),
    Set({500, <<"boom">>}),
    ?assertEqual({error, {kubernetes, {http_status, 500}}}, discover(opts(Config, #{}))),
    Set({200, <<"<html>">>}),
    ?assertEqual({error, {kubernetes, bad_response}}, discover(opts(Config, #{}))),
    Set({truncate, 200, <<"{\"items\":[">>, 4000}),
    ?assertEqual({error, {kubernetes, bad_response}}, discover(opts(Config, #{}))),
    Set({delay, 3000, 200, <<"{\"items\":[]}">>}),
    T0 = erlang:monotonic_time(millisecond),
    ?assertEqual({error, {kubernetes, timeout}}, discover(opts(Config, #{timeout => 500}))),
    ?assert(erlang:monotonic_time(millisecond) - T0 < 2000),
    Many = barnacle_k8s_fake:pods_json([{"p" ++ integer_to_list(I),
                                         io_lib:format("10.9.~b.~b", [I div 256, I rem 256])}
                                        || I <- lists:seq(1, 3000)]),
    Set({200, Many}),
    {ok, Bounded} = discover(opts(Config, #{max_nodes => 50})),
    ?assertEqual(50, length(Bounded)),
    barnacle_k8s_fake:set_handler(Api, api()),
    ?assertEqual({error, {kubernetes, tls}},
                 discover(opts(Config, #{ca_path => maps:get(other_ca, ?config(pki, Config))}))),
    ?assertMatch({ok, [_, _]},
                 discover(opts(Config, #{ca_path => maps:get(other_ca, ?config(pki, Config)),
                                         insecure_skip_tls_verify => true}))),
    ?assertEqual({error, {kubernetes, no_token}},
                 discover(opts(Config, #{token_path => "/nonexistent/token"}))).

config_errors(Config) ->
    ?assertEqual({error, {missing_option, basename}},
                 barnacle_kubernetes:init(maps:remove(basename, opts(Config, #{})))),
    ?assertEqual({error, {missing_option, selector}},
                 barnacle_kubernetes:init(maps:remove(selector, opts(Config, #{})))),
    ?assertEqual({error, {missing_option, service}},
                 barnacle_kubernetes:init(opts(Config, #{mode => hostname}))),
    ?assertEqual({error, {invalid_option, namespace, "../x"}},
                 barnacle_kubernetes:init(opts(Config, #{namespace => "../x"}))),
    ?assertEqual({error, {invalid_option, mode, pod}},
                 barnacle_kubernetes:init(opts(Config, #{mode => pod}))),
    ?assertEqual({error, {missing_option, namespace}},
                 barnacle_kubernetes:init(maps:remove(namespace,
                                                      opts(Config, #{namespace_path => "/nonexistent"})))).

token_never_in_errors_events_or_logs(Config) ->
    {P, _} = barnacle_test_peers:start(?config(prefix, Config), 1),
    ets:insert(?config(peers, Config), {1, P}),
    %% Every log event of the peer, formatted, goes to its collector.
    Collector = call(P, barnacle_test_peers, listener, []),
    ok = call(P, logger, add_handler, [capture, ?MODULE, #{config => Collector, level => all}]),
    ok = call(P, logger, set_primary_config, [level, all]),
    Wrong = filename:join(?config(priv_dir, Config), "wrong-token"),
    ok = file:write_file(Wrong, "not-the-token"),
    Api = ?config(api, Config),
    %% The server echoes the request headers (the bearer token among them)
    %% in a 401 body: none of it may reach an error.
    barnacle_k8s_fake:set_handler(Api, fun(_, Headers) -> {401, iolist_to_binary(Headers)} end),
    {ok, _} = call(P, barnacle_cluster, start,
                   [#{strategy => {kubernetes, opts(Config, #{})}, name => k8s,
                      listeners => [Collector]}]),
    {error, {strategy_error, {kubernetes, unauthorized}}} =
        call(P, barnacle_cluster, refresh, [k8s, 5000]),
    barnacle_k8s_fake:set_handler(Api, api()),
    {ok, _} = call(P, barnacle_cluster, start,
                   [#{strategy => {kubernetes, opts(Config, #{token_path => Wrong})}, name => k8s2,
                      listeners => [Collector]}]),
    {error, {strategy_error, {kubernetes, unauthorized}}} =
        call(P, barnacle_cluster, refresh, [k8s2, 5000]),
    Events = call(P, barnacle_test_peers, events, [all]),
    ?assert(length([L || {_, {log, L}} <- Events]) > 0),
    Text = iolist_to_binary(io_lib:format("~p", [Events])),
    ?assertEqual(nomatch, binary:match(Text, <<?TOKEN>>)).

%% logger handler callback: forwards each formatted event to the collector.
log(Event, #{config := Collector}) ->
    #{msg := Msg, meta := Meta} = Event,
    Text = case Msg of
               {report, R} ->
                   case Meta of
                       #{report_cb := Cb} when is_function(Cb, 1) ->
                           {F, A} = Cb(R), io_lib:format(F, A);
                       _ -> io_lib:format("~p", [R])
                   end;
               {string, S} -> S;
               {F, A} -> io_lib:format(F, A)
           end,
    Collector ! {log, iolist_to_binary(Text)}.

cluster_forms_from_api(Config) ->
    ct:comment("three hosts; the fake API lists their pod IPs; the cluster forms"),
    Peers = barnacle_netns:start_app_peers(?config(net, Config), [1, 2, 3], "app", [],
                                           ?config(peers, Config)),
    Cfg = #{strategy => {kubernetes, opts(Config, #{})}, name => k8s},
    [{ok, _} = call(P, barnacle_cluster, start, [Cfg]) || {P, _} <- Peers],
    ok = barnacle_test_peers:assert_full_mesh(Peers, k8s, 30000).
