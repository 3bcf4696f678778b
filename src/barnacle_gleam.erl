%%% @doc The Erlang side of the Gleam API (`src/barnacle.gleam'): the few
%%% conversions that cannot be pure Gleam. Every function here is called
%%% through a private `@external' of the Gleam module; the comments name
%%% the Gleam type each term represents.
-module(barnacle_gleam).

-export([strategy/2, dns_opts/2, empty_opts/0, kubernetes_opts/2, kubernetes_service_opts/2,
         new_strategy/1, with_fun/3, custom/1,
         set/3, set_strategy_opt/3, set_nameservers/2,
         start/1, run_once/1, refresh/2, pause/2, resume/2, shutdown/2,
         members/1, await_members/3, node_basename/1, dns_error/1,
         kubernetes_error/1]).

%% barnacle.Barnacle: at runtime the cluster config map itself.
-type barnacle() :: map().
%% barnacle.Strategy(error): the custom strategy's funs.
-type strategy() :: #{discover := fun(() -> {ok, [atom()]} | {error, term()}),
                      atom() => fun()}.
%% barnacle.Cluster: a pid (started) or a registered name.
-type cluster() :: pid() | atom().
%% barnacle.CallError: Timeout | NotRunning.
-type call_error() :: timeout | not_running.
%% barnacle.RefreshError.
-type refresh_error() :: barnacle_events:refresh_error()
                       | {call_failed, call_error()}
                       | {invalid_config, binary()}
                       | not_alive.

%% @doc A config with a built-in strategy: `local_epmd()', `epmd(nodes)',
%% `dns(basename, query)', ... (`Name' is the strategy atom).
-spec strategy(atom(), term()) -> barnacle().
strategy(local_epmd, _) -> #{strategy => local_epmd};
strategy(Name, Opts) -> #{strategy => {Name, Opts}}.

%% @doc The options of `dns(basename:, query:)' and `dns_srv(...)'.
-spec dns_opts(binary(), binary()) -> map().
dns_opts(Basename, Query) -> #{basename => Basename, query => Query}.

%% @doc The options of `kubernetes(basename:, selector:)'.
-spec kubernetes_opts(binary(), binary()) -> map().
kubernetes_opts(Basename, Selector) -> #{basename => Basename, selector => Selector}.

%% @doc The options of `kubernetes_endpoints(basename:, service:)'.
-spec kubernetes_service_opts(binary(), binary()) -> map().
kubernetes_service_opts(Basename, Service) ->
    #{basename => Basename, service => Service, source => endpointslices}.

%% @doc No options (yet): `hosts_file()'.
-spec empty_opts() -> map().
empty_opts() -> #{}.

%% @doc `new_strategy(discover)': a Strategy(error) with only discovery.
-spec new_strategy(fun(() -> {ok, [atom()]} | {error, term()})) -> strategy().
new_strategy(Discover) -> #{discover => Discover}.

%% @doc `with_connect_nodes_function' and friends: `Key' is `connect',
%% `disconnect' or `list_nodes'. Gleam's Bool is `true'/`false', which the
%% engine reads as success/failure.
-spec with_fun(strategy(), connect | disconnect | list_nodes, fun()) -> strategy().
with_fun(Strategy, Key, Fun) -> Strategy#{Key => Fun}.

%% @doc `custom(strategy)'.
-spec custom(strategy()) -> barnacle().
custom(Strategy) -> #{strategy => {custom, Strategy}}.

%% @doc `with_poll_interval', `with_name', `with_listener', ...: sets a
%% config key. Listeners accumulate; a name String becomes an atom (it is
%% the user's own configuration).
-spec set(barnacle(), atom(), term()) -> barnacle().
set(Config, listener, Subject) ->
    Config#{listeners => maps:get(listeners, Config, []) ++ [Subject]};
set(Config, name, Name) when is_binary(Name) ->
    Config#{name => binary_to_atom(Name, utf8)};
set(Config, backoff, {Min, Max}) ->
    Config#{backoff => #{min => Min, max => Max}};
set(Config, Key, Value) ->
    Config#{Key => Value}.

%% @doc Sets an option of the config's strategy (`with_dns_timeout', ...).
%% On a strategy without options it is kept and reported at start as
%% `{invalid_config, strategy, ...}'.
-spec set_strategy_opt(barnacle(), atom(), term()) -> barnacle().
set_strategy_opt(#{strategy := {Name, Opts}} = Config, Key, Value) when is_map(Opts) ->
    Config#{strategy := {Name, Opts#{Key => Value}}};
set_strategy_opt(#{strategy := local_epmd} = Config, Key, Value) ->
    Config#{strategy := {local_epmd, #{Key => Value}}};
set_strategy_opt(Config, Key, Value) ->
    Config#{strategy := {invalid_option_for_strategy, Key, Value}}.

%% @doc `with_nameservers(config, [#("10.0.0.2", 53)])': IP strings are
%% parsed here; a bad one is left as is and fails validation at start,
%% naming the `nameservers' option.
-spec set_nameservers(barnacle(), [{binary(), integer()}]) -> barnacle().
set_nameservers(Config, Servers) ->
    Parsed = [case inet:parse_address(binary_to_list(Ip)) of
                  {ok, Addr} -> {Addr, Port};
                  {error, _} -> {Ip, Port}
              end || {Ip, Port} <- Servers],
    set_strategy_opt(Config, nameservers, Parsed).

%% @doc `start(config) -> Result(actor.Started(Cluster), actor.StartError)'.
%% `actor.Started(data)' is `{started, Pid, Data}'; `actor.StartError' here
%% is `{init_failed, String}' with the reason written out.
-spec start(barnacle()) -> {ok, {started, pid(), cluster()}} | {error, {init_failed, binary()}}.
start(Config) ->
    case barnacle_cluster:start_link(Config) of
        {ok, Pid} ->
            Handle = case Config of
                         #{name := Name} when is_atom(Name), Name =/= undefined -> Name;
                         _ -> Pid
                     end,
            {ok, {started, Pid, Handle}};
        {error, Reason} ->
            {error, {init_failed, describe(Reason)}}
    end.

%% @doc `run_once(config) -> Result(List(Atom), RefreshError)'.
-spec run_once(barnacle()) -> {ok, [node()]} | {error, refresh_error()}.
run_once(Config) ->
    refresh_result(barnacle_cluster:run_once(Config)).

%% @doc `refresh(cluster, timeout) -> Result(List(Atom), RefreshError)'.
-spec refresh(cluster(), non_neg_integer()) -> {ok, [node()]} | {error, refresh_error()}.
refresh(Cluster, Timeout) ->
    refresh_result(barnacle_cluster:refresh(Cluster, Timeout)).

refresh_result({ok, Nodes}) -> {ok, Nodes};
refresh_result({error, timeout}) -> {error, {call_failed, timeout}};
refresh_result({error, not_running}) -> {error, {call_failed, not_running}};
refresh_result({error, not_alive}) -> {error, not_alive};
refresh_result({error, {invalid_config, _, _} = E}) -> {error, {invalid_config, describe(E)}};
refresh_result({error, E}) -> {error, E}.

%% @doc `pause(cluster, timeout) -> Result(Nil, CallError)'.
-spec pause(cluster(), non_neg_integer()) -> {ok, nil} | {error, call_error()}.
pause(Cluster, Timeout) -> nil_result(barnacle_cluster:pause(Cluster, Timeout)).

%% @doc `resume(cluster, timeout) -> Result(Nil, CallError)'.
-spec resume(cluster(), non_neg_integer()) -> {ok, nil} | {error, call_error()}.
resume(Cluster, Timeout) -> nil_result(barnacle_cluster:resume(Cluster, Timeout)).

%% @doc `shutdown(cluster, timeout) -> Result(Nil, CallError)'.
-spec shutdown(cluster(), non_neg_integer()) -> {ok, nil} | {error, call_error()}.
shutdown(Cluster, Timeout) -> nil_result(barnacle_cluster:shutdown(Cluster, Timeout)).

nil_result(ok) -> {ok, nil};
nil_result({error, E}) -> {error, E}.

%% @doc `members(cluster) -> Result(List(Member), CallError)'. The member
%% tuples already have the shape of `barnacle.Member'.
-spec members(cluster()) -> {ok, [barnacle_cluster:member()]} | {error, call_error()}.
members(Cluster) -> barnacle_cluster:members(Cluster).

%% @doc `await_members(cluster, count, timeout) -> Result(List(Atom), CallError)'.
-spec await_members(cluster(), non_neg_integer(), non_neg_integer()) ->
          {ok, [node()]} | {error, call_error()}.
await_members(Cluster, Count, Timeout) ->
    barnacle_cluster:await_members(Cluster, Count, Timeout).

%% @doc `get_node_basename(node) -> Result(String, Nil)'.
-spec node_basename(node()) -> {ok, binary()} | {error, nil}.
node_basename(Node) ->
    case barnacle_dns:node_basename(Node) of
        {ok, Base} -> {ok, Base};
        {error, _} -> {error, nil}
    end.

%% @doc `barnacle/dns.from_strategy_error(Dynamic) -> Result(DnsError, Nil)'.
-spec dns_error(term()) -> {ok, atom()} | {error, nil}.
dns_error({dns, Reason}) ->
    known(Reason, [nxdomain, no_records, timeout, servfail, refused, bad_name, bad_response,
                   unreachable, no_config, bad_nameserver, resolver_error]);
dns_error(_) ->
    {error, nil}.

%% @doc `barnacle/kubernetes.from_strategy_error(Dynamic) -> Result(KubernetesError, Nil)'.
-spec kubernetes_error(term()) -> {ok, term()} | {error, nil}.
kubernetes_error({kubernetes, {http_status, Code}}) when is_integer(Code) ->
    {ok, {http_status, Code}};
kubernetes_error({kubernetes, Reason}) ->
    known(Reason, [timeout, unreachable, tls, unauthorized, forbidden, not_found, bad_response,
                   too_large, no_token, no_ca]);
kubernetes_error(_) ->
    {error, nil}.

%% A reason a Gleam error type has a constructor for, or Error(Nil).
known(Reason, Known) ->
    case lists:member(Reason, Known) of
        true -> {ok, Reason};
        false -> {error, nil}
    end.

describe(Reason) ->
    unicode:characters_to_binary(io_lib:format("~0tp", [Reason])).
