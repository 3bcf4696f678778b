%%% @doc A cluster process ("a barnacle") and the Erlang API.
%%%
%%% One process per cluster. It asks its strategy which nodes should be
%%% connected, connects the missing ones in parallel, optionally prunes the
%%% ones it connected that are no longer discovered, and heals connections
%%% that break. See `barnacle_config' for the configuration and
%%% `barnacle_events' for the events.
%%%
%%% ```
%%% {ok, Pid} = barnacle_cluster:start_link(#{strategy => local_epmd,
%%%                                           name => my_cluster,
%%%                                           listeners => [self()]}),
%%% {ok, Nodes} = barnacle_cluster:await_members(my_cluster, 2, 10000).
%%% '''
%%%
%%% == How a pass works (for maintainers) ==
%%% A pass runs `discover/1' in a short-lived process under
%%% `discover_timeout', hands the answer to the native `diff_nodes', and
%%% starts one short-lived process per missing node, each killed after
%%% `connect_timeout'. The cluster process only ever waits for messages, so
%%% it answers calls while a pass runs, and a pass with many dead entries
%%% costs about one `connect_timeout'.
%%%
%%% Healing does not wait for the next poll: with Distributed Erlang the
%%% process monitors nodes, and a wanted node that goes down is retried at
%%% once, then with `barnacle_backoff' delays. Since OTP 25, `global' itself
%%% may disconnect nodes to prevent overlapping partitions while a cluster
%%% heals; that is a nodedown like any other and is retried the same way.
%%%
%%% Ownership: the process records the nodes it connected itself and never
%%% disconnects any other. A failed discovery never counts as "no nodes".
-module(barnacle_cluster).
-behaviour(gen_server).

%% API
-export([start_link/1, start/1, child_spec/1, run_once/1,
         refresh/2, pause/2, resume/2, shutdown/2, members/1, members/2,
         await_members/3, strategy_info/1]).

%% gen_server callbacks
-export([init/1, handle_call/3, handle_cast/2, handle_info/2, terminate/2]).

-type cluster() :: pid() | atom().
-type call_error() :: timeout | not_running.
-type status() :: connected
                | {connecting, Failures :: non_neg_integer()}
                | {retrying, Failures :: pos_integer(), NextAttemptMs :: integer()}.
%% `{member, Node, Status, Owned, SinceMs}': the Gleam value `barnacle.Member'.
%% `SinceMs' and `NextAttemptMs' are `erlang:system_time(millisecond)'.
-type member() :: {member, node(), status(), Owned :: boolean(), SinceMs :: integer()}.
-type refresh_result() :: {ok, [node()]} | {error, barnacle_events:refresh_error()}.
-export_type([cluster/0, call_error/0, status/0, member/0, refresh_result/0]).

-record(member, {
    %% connected, connecting (an attempt is in flight) or retrying (waiting
    %% for the retry timer).
    status :: connected | connecting | retrying,
    %% When the status last changed (system time, ms).
    since :: integer(),
    %% Failed attempts since the node was last connected.
    failures = 0 :: non_neg_integer(),
    %% When the next retry fires (system time, ms), while retrying.
    next_attempt :: integer() | undefined,
    retry_timer :: reference() | undefined,
    %% Monitor reference of the attempt in flight.
    attempt :: reference() | undefined
}).

-record(pass, {
    %% discover: waiting for the strategy; connect: waiting for attempts.
    stage = discover :: discover | connect,
    %% The discovery process and its monitor.
    worker :: reference() | undefined,
    worker_pid :: pid() | undefined,
    timer :: reference() | undefined,
    waiters = [] :: [gen_server:from()],
    pending = #{} :: #{node() => true},
    failed = [] :: [{node(), atom()}],
    disconnect_errors = [] :: [{node(), atom()}],
    error :: term(),
    %% The strategy state handed to discover/1. A push strategy's
    %% handle_info/2 may change the live state while discovery runs; when
    %% discovery hands this same state back, the live one is kept.
    snapshot :: term()
}).

-record(state, {
    %% Registered name, or undefined; `id' is what reports call us.
    name :: atom() | undefined,
    id :: atom() | pid(),
    mod :: module(),
    sstate :: term(),
    ops :: barnacle_config:ops(),
    poll_interval :: pos_integer(),
    connect_timeout :: pos_integer(),
    discover_timeout :: pos_integer(),
    backoff :: barnacle_backoff:backoff(),
    prune :: boolean(),
    max_nodes :: pos_integer(),
    listeners :: [barnacle_events:listener()],
    notifier :: pid() | undefined,
    %% run_once: no timer, no first pass, no retries.
    once = false :: boolean(),
    paused = false :: boolean(),
    poll_timer :: reference() | undefined,
    pass :: #pass{} | undefined,
    %% Callers of refresh/2 that arrived while a pass ran: they get the next.
    next_waiters = [] :: [gen_server:from()],
    again = false :: boolean(),
    %% The nodes of the last successful discovery (and pushed ones).
    wanted = #{} :: #{node() => #member{}},
    %% Nodes this process connected itself and that are still connected.
    owned = #{} :: #{node() => true},
    %% Attempts in flight: monitor ref -> {Node, Pid, TimeoutTimer}.
    attempts = #{} :: #{reference() => {node(), pid(), reference()}},
    %% At most this many attempts in flight; the rest wait in `queue'.
    max_parallel = infinity :: pos_integer() | infinity,
    queue = [] :: [node()],
    %% await_members/3 callers: {From, Count, Timer}.
    barriers = [] :: [{gen_server:from(), pos_integer(), reference()}]
}).

-define(CALL_MARGIN, 1000).

%% Discovery and connection workers hand their result back as their exit
%% reason (seen in the 'DOWN' message), so their funs never return.
-dialyzer({nowarn_function, [start_pass/2, launch_attempt/2]}).

%%% API

%% @doc Starts a cluster process linked to the caller. The configuration is
%% validated first: a bad one returns `{error, {invalid_config, Key, Value}}'
%% and starts nothing. Returns at once; the first pass runs right after.
-spec start_link(Config :: map()) -> {ok, pid()} | {error, term()}.
start_link(Config) ->
    start(Config, link).

%% @doc As `start_link/1', not linked.
-spec start(Config :: map()) -> {ok, pid()} | {error, term()}.
start(Config) ->
    start(Config, nolink).

%% @doc A supervisor child spec. The child is `transient': `shutdown/2'
%% stops it for good, a crash restarts it.
-spec child_spec(Config :: map()) -> supervisor:child_spec().
child_spec(Config) ->
    Id = case Config of
             #{name := Name} -> {?MODULE, Name};
             _ -> {?MODULE, erlang:phash2(Config)}
         end,
    #{id => Id,
      start => {?MODULE, start_link, [Config]},
      restart => transient,
      shutdown => 5000,
      type => worker,
      modules => [?MODULE]}.

%% @doc One discovery and connect pass, with no process left behind. Most
%% of the configuration applies (timeouts, listeners, max_nodes); there is
%% no polling, no retrying and no registered name.
-spec run_once(Config :: map()) -> refresh_result() | {error, term()}.
run_once(Config) ->
    case prepare(maps:remove(name, Config)) of
        {ok, C} ->
            case gen_server:start(?MODULE, {C, true}, []) of
                {ok, Pid} ->
                    #{discover_timeout := D, connect_timeout := T} = C,
                    Result = refresh(Pid, D + T + ?CALL_MARGIN),
                    stop_quietly(Pid),
                    Result;
                {error, _} = E ->
                    E
            end;
        {error, _} = E ->
            E
    end.

%% @doc Runs a pass now and returns its result; the poll timer restarts
%% from the end of this pass. If a pass is already running, a new one runs
%% after it, so the answer always reflects discovery made after the call.
-spec refresh(cluster(), timeout()) -> refresh_result() | {error, call_error()}.
refresh(Cluster, Timeout) ->
    call(Cluster, refresh, Timeout).

%% @doc Stops passes and retries until `resume/2'.
-spec pause(cluster(), timeout()) -> ok | {error, call_error()}.
pause(Cluster, Timeout) ->
    call(Cluster, pause, Timeout).

%% @doc Restarts passes and retries, with a pass at once.
-spec resume(cluster(), timeout()) -> ok | {error, call_error()}.
resume(Cluster, Timeout) ->
    call(Cluster, resume, Timeout).

%% @doc Stops the cluster process for good (a supervisor does not restart
%% it). Connections stay as they are.
-spec shutdown(cluster(), timeout()) -> ok | {error, call_error()}.
shutdown(Cluster, Timeout) ->
    call(Cluster, shutdown, Timeout).

%% @doc Every node the cluster wants, with its state.
-spec members(cluster()) -> {ok, [member()]} | {error, call_error()}.
members(Cluster) ->
    members(Cluster, 5000).

%% @doc As `members/1' with a timeout.
-spec members(cluster(), timeout()) -> {ok, [member()]} | {error, call_error()}.
members(Cluster, Timeout) ->
    call(Cluster, members, Timeout).

%% @doc Waits until at least `Count' other nodes wanted by this cluster are
%% connected, and returns them: a start-up barrier.
-spec await_members(cluster(), non_neg_integer(), timeout()) ->
          {ok, [node()]} | {error, call_error()}.
await_members(Cluster, Count, Timeout) when is_integer(Count), Count >= 0 ->
    call(Cluster, {await_members, Count, Timeout}, Timeout).

%% @doc What the strategy reports about itself (gossip: packets dropped by
%% reason, names tracked).
-spec strategy_info(cluster()) -> {ok, map()} | {error, call_error()}.
strategy_info(Cluster) ->
    call(Cluster, strategy_info, 5000).

%%% Internal: starting

start(Config, Link) ->
    case prepare(Config) of
        {ok, #{name := Name} = C} ->
            Args = {C, false},
            case {Link, Name} of
                {link, undefined} -> gen_server:start_link(?MODULE, Args, []);
                {link, _} -> gen_server:start_link({local, Name}, ?MODULE, Args, []);
                {nolink, undefined} -> gen_server:start(?MODULE, Args, []);
                {nolink, _} -> gen_server:start({local, Name}, ?MODULE, Args, [])
            end;
        {error, _} = E ->
            E
    end.

prepare(Config) ->
    case barnacle_config:validate(Config) of
        {ok, #{ops := #{distributed := true}} = C} ->
            case is_alive() of
                true -> {ok, C};
                false -> {error, not_alive}
            end;
        Other ->
            Other
    end.

call(Cluster, Request, Timeout) ->
    Wait = case Timeout of
               infinity -> infinity;
               T -> T + ?CALL_MARGIN
           end,
    try gen_server:call(Cluster, {Request, Timeout}, Wait)
    catch
        exit:{timeout, _} -> {error, timeout};
        exit:{noproc, _} -> {error, not_running};
        exit:{normal, _} -> {error, not_running};
        exit:{shutdown, _} -> {error, not_running};
        exit:{{nodedown, _}, _} -> {error, not_running}
    end.

stop_quietly(Pid) ->
    try gen_server:stop(Pid, normal, 5000) catch exit:_ -> ok end.

%%% gen_server callbacks

%% @private
-spec init({barnacle_config:t(), boolean()}) -> {ok, #state{}} | {stop, term()}.
init({C, Once}) ->
    process_flag(trap_exit, true),
    #{strategy := {Mod, SState}, ops := Ops} = C,
    case barnacle_strategy:start(Mod, SState) of
        {ok, SState1} ->
            case Ops of
                #{distributed := true} -> ok = net_kernel:monitor_nodes(true, [nodedown_reason]);
                #{} -> ok
            end,
            Name = maps:get(name, C),
            S = #state{name = Name,
                       id = case Name of undefined -> self(); _ -> Name end,
                       mod = Mod, sstate = SState1, ops = Ops,
                       poll_interval = maps:get(poll_interval, C),
                       connect_timeout = maps:get(connect_timeout, C),
                       discover_timeout = maps:get(discover_timeout, C),
                       backoff = maps:get(backoff, C),
                       prune = maps:get(prune, C),
                       max_nodes = maps:get(max_nodes, C),
                       max_parallel = maps:get(max_parallel_connects, C),
                       listeners = maps:get(listeners, C),
                       notifier = barnacle_events:start_notifier(maps:get(listeners, C)),
                       once = Once},
            %% The first pass runs now, not one interval later; init returns
            %% first so that start_link never waits for discovery.
            case Once of
                true -> ok;
                false -> self() ! poll
            end,
            {ok, S};
        {error, Reason} ->
            {stop, {strategy_start_failed, Reason}}
    end.

%% @private
-spec handle_call(term(), gen_server:from(), #state{}) ->
          {reply, term(), #state{}} | {noreply, #state{}} | {stop, normal, ok, #state{}}.
handle_call({refresh, _}, From, S) ->
    {noreply, request_pass([From], S)};
handle_call({pause, _}, _From, S) ->
    S1 = cancel_retries(cancel_poll(S#state{paused = true})),
    emit({pause_response, nil}, S1),
    {reply, ok, S1};
handle_call({resume, _}, _From, #state{paused = false} = S) ->
    emit({resume_response, nil}, S),
    {reply, ok, S};
handle_call({resume, _}, _From, S) ->
    S1 = S#state{paused = false},
    emit({resume_response, nil}, S1),
    {reply, ok, request_pass([], S1)};
handle_call({shutdown, _}, _From, S) ->
    emit({shutdown_response, nil}, S),
    {stop, normal, ok, S};
handle_call({strategy_info, _}, _From, #state{mod = Mod, sstate = SS} = S) ->
    {reply, {ok, barnacle_strategy:info(Mod, SS)}, S};
handle_call({members, _}, _From, S) ->
    {reply, {ok, member_list(S)}, S};
handle_call({{await_members, Count, Timeout}, _}, From, S) ->
    Timer = case Timeout of
                infinity -> undefined;
                _ -> erlang:start_timer(Timeout, self(), {barrier_timeout, From})
            end,
    {noreply, check_barriers(S#state{barriers = [{From, Count, Timer} | S#state.barriers]})};
handle_call(_Request, _From, S) ->
    {reply, {error, unknown_call}, S}.

%% @private
-spec handle_cast(term(), #state{}) -> {noreply, #state{}}.
handle_cast(_Msg, S) ->
    {noreply, S}.

%% @private
-spec handle_info(term(), #state{}) -> {noreply, #state{}} | {stop, term(), #state{}}.
handle_info(Msg, S) ->
    %% Any message may change who is connected: start-up barriers are
    %% checked after each one.
    case info(Msg, S) of
        {noreply, S1} -> {noreply, check_barriers(S1)};
        Stop -> Stop
    end.

info(poll, #state{paused = true} = S) ->
    {noreply, S};
info(poll, S) ->
    {noreply, request_pass([], S#state{poll_timer = undefined})};
info({'DOWN', Ref, process, _, Reason}, #state{pass = #pass{worker = Ref}} = S) ->
    {noreply, discovered(discovery_result(Reason, S), S)};
info({timeout, Timer, discover_timeout},
            #state{pass = #pass{timer = Timer, worker = Ref}} = S) ->
    %% The strategy hangs: kill its process; its state stays as it was.
    erlang:demonitor(Ref, [flush]),
    exit(S#state.pass#pass.worker_pid, kill),
    {noreply, discovered({error, timeout, S#state.sstate}, S)};
info({'DOWN', Ref, process, _, Reason}, #state{attempts = A} = S)
  when is_map_key(Ref, A) ->
    {Node, _Pid, Timer} = maps:get(Ref, A),
    _ = erlang:cancel_timer(Timer),
    Result = case Reason of
                 {barnacle_attempt, R} -> R;
                 _ -> {error, crashed}
             end,
    S1 = attempt_done(Node, Result, S#state{attempts = maps:remove(Ref, A)}),
    {noreply, maybe_finish(dequeue(S1))};
info({timeout, _, {attempt_timeout, Ref}}, #state{attempts = A} = S)
  when is_map_key(Ref, A) ->
    {Node, Pid, _} = maps:get(Ref, A),
    erlang:demonitor(Ref, [flush]),
    exit(Pid, kill),
    {noreply, maybe_finish(dequeue(attempt_done(Node, {error, timeout},
                                                S#state{attempts = maps:remove(Ref, A)})))};
info({retry, Node}, S) ->
    {noreply, retry(Node, S)};
info({nodeup, Node, _Info}, S) ->
    {noreply, nodeup(Node, S)};
info({nodedown, Node, Info}, S) ->
    {noreply, nodedown(Node, down_reason(Info), S)};
info({timeout, Timer, {barrier_timeout, From}}, #state{barriers = B} = S) ->
    case lists:keytake(From, 1, B) of
        {value, {From, _, Timer}, Rest} ->
            gen_server:reply(From, {error, timeout}),
            {noreply, S#state{barriers = Rest}};
        _ ->
            {noreply, S}
    end;
info({'EXIT', Pid, Reason}, #state{notifier = Pid} = S) ->
    %% The notifier died (it should not: it catches listener crashes).
    barnacle_log:error(#{what => callback_crashed, cluster => S#state.id,
                         callback => notifier, class => exit, reason => Reason}),
    {noreply, S#state{notifier = barnacle_events:start_notifier(S#state.listeners)}};
info({'EXIT', _Pid, Reason}, S) when Reason =/= normal ->
    %% Our parent (or a linked process) is going: stop with it.
    {stop, Reason, S};
info(Msg, #state{mod = Mod, sstate = SS} = S) ->
    case barnacle_strategy:handle_info(Mod, Msg, SS) of
        {ok, SS1} -> {noreply, S#state{sstate = SS1}};
        {connect, Nodes, SS1} -> {noreply, push(Nodes, S#state{sstate = SS1})};
        unknown -> {noreply, S}
    end.

%% @private
-spec terminate(term(), #state{}) -> ok.
terminate(_Reason, #state{mod = Mod, sstate = SS, notifier = N, attempts = A, pass = P}) ->
    _ = [exit(Pid, kill) || {_, Pid, _} <- maps:values(A)],
    case P of
        #pass{worker = Ref, worker_pid = Pid} when Ref =/= undefined -> exit(Pid, kill);
        _ -> ok
    end,
    barnacle_strategy:terminate(Mod, SS),
    barnacle_events:stop_notifier(N).

%%% Internal: passes

request_pass(Waiters, #state{pass = undefined} = S) ->
    start_pass(Waiters, S);
request_pass(Waiters, #state{next_waiters = W} = S) ->
    S#state{again = true, next_waiters = W ++ Waiters}.

start_pass(Waiters, #state{mod = Mod, sstate = SS} = S0) ->
    S = cancel_poll(S0),
    {Pid, Ref} = spawn_monitor(fun() ->
                                   exit({barnacle_discovered,
                                         barnacle_strategy:discover(Mod, SS)})
                               end),
    Timer = erlang:start_timer(S#state.discover_timeout, self(), discover_timeout),
    S#state{pass = #pass{worker = Ref, worker_pid = Pid, timer = Timer, waiters = Waiters,
                         snapshot = SS}}.

discovery_result({barnacle_discovered, Result}, _S) -> Result;
discovery_result(Reason, S) -> {error, {crashed, exit, Reason}, S#state.sstate}.

discovered(Result0, #state{pass = P} = S0) ->
    Result = keep_live_state(Result0, P#pass.snapshot, S0#state.sstate),
    _ = erlang:cancel_timer(P#pass.timer),
    P1 = P#pass{worker = undefined, worker_pid = undefined, timer = undefined, stage = connect},
    case Result of
        {error, Reason, SS} ->
            barnacle_log:warning(#{what => strategy_error, cluster => S0#state.id,
                                   reason => Reason}),
            finish_pass(S0#state{sstate = SS, pass = P1#pass{error = Reason}});
        {ok, Nodes, SS} ->
            S = S0#state{sstate = SS, pass = P1},
            maybe_finish(apply_discovery(Nodes, S#state.prune, S));
        {partial, Nodes, Reason, SS} ->
            %% Part of the source failed: connect what was found, prune
            %% nothing, and report the failure at the end of the pass.
            barnacle_log:warning(#{what => strategy_error, cluster => S0#state.id,
                                   reason => Reason}),
            S = S0#state{sstate = SS, pass = P1#pass{error = Reason}},
            maybe_finish(apply_discovery(Nodes, false, S))
    end.

keep_live_state(Result, Snapshot, Live) when element(tuple_size(Result), Result) =:= Snapshot ->
    setelement(tuple_size(Result), Result, Live);
keep_live_state(Result, _Snapshot, _Live) ->
    Result.

apply_discovery(Nodes, Prune, #state{ops = #{list_nodes := List}} = S) ->
    Connected = list_nodes(List),
    Out = diff(Nodes, Connected, Prune, S),
    %% Only validated names, at most max_nodes of them, become atoms.
    Wanted = [binary_to_atom(B, utf8) || B <- maps:get(wanted, Out)],
    ConnectedSet = maps:from_list([{N, true} || N <- Connected]),
    Now = now_ms(),
    Old = S#state.wanted,
    Gone = maps:without(Wanted, Old),
    _ = [cancel_timer(M#member.retry_timer) || M <- maps:values(Gone)],
    Kept = maps:with(Wanted, Old),
    New = maps:from_list(
            [{N, #member{status = case is_map_key(N, ConnectedSet) of
                                      true -> connected;
                                      false -> connecting
                                  end, since = Now}}
             || N <- Wanted, not is_map_key(N, Old)]),
    %% A kept node that got connected by someone else since: say so.
    Kept1 = maps:map(fun(N, #member{status = St} = M) when St =/= connected ->
                             case is_map_key(N, ConnectedSet) of
                                 true -> M#member{status = connected, since = Now, failures = 0};
                                 false -> M
                             end;
                        (_, M) -> M
                     end, Kept),
    S1 = S#state{wanted = maps:merge(Kept1, New)},
    S2 = disconnect_all([binary_to_existing_atom(B, utf8) || B <- maps:get(disconnect, Out)], S1),
    ToConnect = [binary_to_atom(B, utf8) || B <- maps:get(connect, Out)],
    lists:foldl(fun pass_connect/2, S2, ToConnect).

%% Every attempt of a pass is waited for; an attempt already in flight
%% (a retry) counts too.
pass_connect(Node, #state{pass = P, wanted = W} = S) ->
    S1 = S#state{pass = P#pass{pending = (P#pass.pending)#{Node => true}}},
    case maps:get(Node, W) of
        #member{attempt = undefined} -> start_attempt(Node, S1);
        #member{} -> S1
    end.

disconnect_all(Nodes, #state{ops = #{disconnect := Disconnect}} = S) ->
    lists:foldl(
      fun(Node, #state{owned = O, pass = P} = Acc) ->
              Acc1 = Acc#state{owned = maps:remove(Node, O)},
              case call_op(Disconnect, Node) of
                  ok ->
                      barnacle_log:info(#{what => pruned, cluster => S#state.id, node => Node}),
                      Acc1;
                  {error, R} ->
                      Acc1#state{pass = P#pass{disconnect_errors =
                                                   [{Node, R} | P#pass.disconnect_errors]}}
              end
      end, S, Nodes).

maybe_finish(#state{pass = #pass{stage = connect, pending = Pending}} = S)
  when map_size(Pending) =:= 0 ->
    finish_pass(S);
maybe_finish(S) ->
    S.

finish_pass(#state{pass = P} = S) ->
    Result = case P of
                 #pass{error = E} when E =/= undefined ->
                     {error, {strategy_error, E}};
                 #pass{failed = [_ | _] = F} ->
                     {error, {connect_error, lists:reverse(F)}};
                 #pass{disconnect_errors = [_ | _] = D} ->
                     {error, {disconnect_error, lists:reverse(D)}};
                 _ ->
                     {ok, connected_members(S)}
             end,
    emit({refresh_response, Result}, S),
    _ = [gen_server:reply(W, Result) || W <- P#pass.waiters],
    S1 = schedule_poll(S#state{pass = undefined}),
    case S1#state.again of
        true ->
            start_pass(S1#state.next_waiters, S1#state{again = false, next_waiters = []});
        false ->
            S1
    end.

schedule_poll(#state{once = true} = S) -> S;
schedule_poll(#state{paused = true} = S) -> S;
schedule_poll(#state{poll_interval = I} = S0) ->
    S = cancel_poll(S0),
    S#state{poll_timer = erlang:send_after(I, self(), poll)}.

cancel_poll(#state{poll_timer = undefined} = S) -> S;
cancel_poll(#state{poll_timer = T} = S) ->
    _ = erlang:cancel_timer(T),
    %% A poll message may already be queued; a stale one only starts a pass
    %% a little early, which is harmless.
    S#state{poll_timer = undefined}.

%% Pushed nodes (a gossip announcement): wanted from now on, and connected
%% now if they are not already; nothing is pruned.
push(Nodes, #state{ops = #{list_nodes := List}, wanted = W0} = S) ->
    Connected = list_nodes(List),
    Out = diff(Nodes, Connected, false, S),
    Now = now_ms(),
    Room = max(0, S#state.max_nodes - map_size(W0)),
    New = lists:sublist([N || N <- [binary_to_atom(B, utf8) || B <- maps:get(wanted, Out)],
                              not is_map_key(N, W0)], Room),
    ToConnect = [N || N <- [binary_to_atom(B, utf8) || B <- maps:get(connect, Out)],
                      lists:member(N, New)],
    Status = fun(N) -> case lists:member(N, ToConnect) of
                           true -> connecting;
                           false -> connected
                       end end,
    W = maps:merge(maps:from_list([{N, #member{status = Status(N), since = Now}} || N <- New]), W0),
    _ = [emit({node_connected, N}, S) || N <- New, Status(N) =:= connected],
    case S#state.paused of
        true -> S#state{wanted = W};
        false -> lists:foldl(fun start_attempt/2, S#state{wanted = W}, ToConnect)
    end.

diff(Nodes, Connected, Prune, S) ->
    Out = barnacle_native:diff_nodes(
            #{discovered => [name_bin(N) || N <- Nodes],
              connected => [atom_to_binary(N, utf8) || N <- Connected],
              owned => [atom_to_binary(N, utf8) || N <- maps:keys(S#state.owned)],
              self_name => atom_to_binary(node(), utf8),
              prune => Prune,
              max_nodes => S#state.max_nodes}),
    case Out of
        #{invalid_count := 0, over_limit := 0} -> ok;
        #{invalid_count := IC, invalid := Sample, over_limit := OL} ->
            IC > 0 andalso
                barnacle_log:warning(#{what => invalid_names, cluster => S#state.id,
                                       count => IC, sample => lists:sublist(Sample, 3)}),
            OL > 0 andalso
                barnacle_log:warning(#{what => over_limit, cluster => S#state.id,
                                       count => OL, max_nodes => S#state.max_nodes})
    end,
    Out.

name_bin(A) when is_atom(A) -> atom_to_binary(A, utf8);
name_bin(B) when is_binary(B) -> B;
name_bin(L) when is_list(L) ->
    try barnacle_opts:to_binary(L) catch error:badarg -> <<"?">> end;
name_bin(_) -> <<"?">>.

list_nodes(List) ->
    try List() of
        L when is_list(L) -> [N || N <- L, is_atom(N)];
        {ok, L} when is_list(L) -> [N || N <- L, is_atom(N)];
        _ -> []
    catch _:_ -> []
    end.

%%% Internal: attempts, retries and node events

%% Starts an attempt now, or queues it while `max_parallel_connects'
%% attempts are in flight. A node already queued keeps its place (and is
%% not also started now).
start_attempt(Node, #state{max_parallel = Max, attempts = A, queue = Q} = S) ->
    case lists:member(Node, Q) of
        true -> S;
        false when Max =/= infinity, map_size(A) >= Max -> S#state{queue = Q ++ [Node]};
        false -> launch_attempt(Node, S)
    end.

%% Starts queued attempts while there is room; a queued node that is no
%% longer wanted, already connected or already attempted is skipped.
dequeue(#state{queue = []} = S) ->
    S;
dequeue(#state{max_parallel = Max, attempts = A} = S) when Max =/= infinity, map_size(A) >= Max ->
    S;
dequeue(#state{queue = [Node | Rest], wanted = W} = S0) ->
    S = S0#state{queue = Rest},
    case W of
        #{Node := #member{status = St, attempt = undefined}} when St =/= connected ->
            dequeue(launch_attempt(Node, S));
        _ ->
            dequeue(S)
    end.

launch_attempt(Node, #state{ops = #{connect := Connect}, wanted = W} = S) ->
    {Pid, Ref} = spawn_monitor(fun() -> exit({barnacle_attempt, call_op(Connect, Node)}) end),
    Timer = erlang:start_timer(S#state.connect_timeout, self(), {attempt_timeout, Ref}),
    W1 = case W of
             #{Node := M} ->
                 cancel_timer(M#member.retry_timer),
                 W#{Node := M#member{status = connecting, attempt = Ref,
                                     retry_timer = undefined, next_attempt = undefined}};
             _ -> W
         end,
    S#state{wanted = W1, attempts = (S#state.attempts)#{Ref => {Node, Pid, Timer}}}.

call_op(Op, Node) ->
    try Op(Node) of
        true -> ok;
        ok -> ok;
        {ok, _} -> ok;
        false -> {error, failed};
        ignored -> {error, not_alive};
        {error, R} when is_atom(R) -> {error, R};
        _ -> {error, failed}
    catch
        _:_ -> {error, crashed}
    end.

attempt_done(Node, Result0, #state{wanted = W} = S0) ->
    %% A connection can be made and lost again (global may drop it while a
    %% cluster heals) before the attempt reports: trust only what is there.
    %% (Distributed Erlang only: a custom transport's connect is trusted.)
    #{distributed := Dist, list_nodes := List} = S0#state.ops,
    Result = case Result0 =:= ok andalso Dist andalso
                     not lists:member(Node, list_nodes(List)) of
                 true -> {error, disconnected};
                 false -> Result0
             end,
    S = pass_attempt_done(Node, Result, S0),
    case {W, Result} of
        {#{Node := #member{status = connected} = M}, _} ->
            %% nodeup got here first (or someone else connected it).
            S#state{wanted = W#{Node := M#member{attempt = undefined}},
                    owned = own(Node, Result, S#state.owned)};
        {#{Node := M}, ok} ->
            emit({node_connected, Node}, S),
            barnacle_log:debug(#{what => node_connected, cluster => S#state.id, node => Node}),
            S#state{wanted = W#{Node := M#member{status = connected, since = now_ms(),
                                                 failures = 0, attempt = undefined}},
                    owned = (S#state.owned)#{Node => true}};
        {#{Node := M}, {error, Reason}} ->
            F = M#member.failures + 1,
            emit({connect_failed, Node, Reason}, S),
            barnacle_log:debug(#{what => connect_failed, cluster => S#state.id, node => Node,
                                 reason => Reason, failures => F}),
            schedule_retry(Node, M#member{failures = F, attempt = undefined}, S);
        {_, ok} ->
            %% No longer wanted, but we did connect it: it is ours to prune.
            S#state{owned = (S#state.owned)#{Node => true}};
        {_, {error, _}} ->
            S
    end.

own(Node, ok, Owned) -> Owned#{Node => true};
own(_, _, Owned) -> Owned.

pass_attempt_done(Node, Result, #state{pass = #pass{stage = connect, pending = Pend} = P} = S)
  when is_map_key(Node, Pend) ->
    Failed = case Result of
                 ok -> P#pass.failed;
                 {error, R} -> [{Node, R} | P#pass.failed]
             end,
    %% The caller finishes the pass (maybe_finish/1) once this attempt's
    %% own events are out, so refresh_response comes last.
    S#state{pass = P#pass{pending = maps:remove(Node, Pend), failed = Failed}};
pass_attempt_done(_, _, S) ->
    S.

schedule_retry(Node, M, #state{once = true, wanted = W} = S) ->
    S#state{wanted = W#{Node := M#member{status = retrying, since = now_ms()}}};
schedule_retry(Node, M, #state{paused = true, wanted = W} = S) ->
    S#state{wanted = W#{Node := M#member{status = retrying, since = now_ms()}}};
schedule_retry(Node, #member{failures = F} = M, #state{wanted = W} = S) ->
    Delay = barnacle_backoff:delay(F, S#state.backoff),
    Timer = erlang:send_after(Delay, self(), {retry, Node}),
    Now = now_ms(),
    S#state{wanted = W#{Node := M#member{status = retrying, since = Now,
                                         retry_timer = Timer,
                                         next_attempt = Now + Delay}}}.

retry(_Node, #state{paused = true} = S) ->
    S;
retry(Node, #state{wanted = W} = S) ->
    case W of
        #{Node := #member{status = retrying, attempt = undefined} = M} ->
            start_attempt(Node, S#state{wanted = W#{Node := M#member{retry_timer = undefined}}});
        _ ->
            S
    end.

nodeup(Node, #state{wanted = W} = S) ->
    case W of
        #{Node := #member{status = connected}} ->
            S;
        #{Node := M} ->
            cancel_timer(M#member.retry_timer),
            emit({node_connected, Node}, S),
            S#state{wanted = W#{Node := M#member{status = connected, since = now_ms(),
                                                 failures = 0, retry_timer = undefined,
                                                 next_attempt = undefined}}};
        _ ->
            S
    end.

nodedown(Node, Reason, #state{wanted = W} = S0) ->
    S = S0#state{owned = maps:remove(Node, S0#state.owned)},
    case W of
        #{Node := #member{status = connected} = M} ->
            emit({node_disconnected, Node, Reason}, S),
            barnacle_log:info(#{what => node_disconnected, cluster => S#state.id,
                                node => Node, reason => Reason}),
            %% Retried at once (failures = 0 gives no delay), then backoff.
            schedule_retry(Node, M#member{failures = 0}, S);
        _ ->
            S
    end.

down_reason(Info) ->
    case lists:keyfind(nodedown_reason, 1, Info) of
        {nodedown_reason, R} when is_atom(R) -> R;
        {nodedown_reason, _} -> other;
        false -> unknown
    end.

cancel_retries(#state{wanted = W} = S) ->
    S#state{wanted = maps:map(fun(_, #member{retry_timer = T} = M) ->
                                      cancel_timer(T),
                                      M#member{retry_timer = undefined,
                                               next_attempt = undefined}
                              end, W)}.

cancel_timer(undefined) -> ok;
cancel_timer(T) -> _ = erlang:cancel_timer(T), ok.

%%% Internal: views

connected_members(#state{wanted = W}) ->
    lists:sort([N || {N, #member{status = connected}} <- maps:to_list(W)]).

member_list(#state{wanted = W, owned = O}) ->
    [{member, N, status(M), is_map_key(N, O), M#member.since}
     || {N, M} <- lists:sort(maps:to_list(W))].

status(#member{status = connected}) -> connected;
status(#member{status = connecting, failures = F}) -> {connecting, F};
status(#member{status = retrying, failures = F, next_attempt = undefined}) ->
    {retrying, F, undefined_next()};
status(#member{status = retrying, failures = F, next_attempt = T}) -> {retrying, F, T}.

%% Paused or run_once: no retry is scheduled; report "never" as 0.
undefined_next() -> 0.

check_barriers(#state{barriers = []} = S) ->
    S;
check_barriers(#state{barriers = B} = S) ->
    Connected = connected_members(S),
    N = length(Connected),
    {Done, Rest} = lists:partition(fun({_, Count, _}) -> N >= Count end, B),
    _ = [begin cancel_timer(T), gen_server:reply(From, {ok, Connected}) end
         || {From, _, T} <- Done],
    S#state{barriers = Rest}.

emit(Event, #state{listeners = L, notifier = N}) ->
    barnacle_events:notify(L, N, Event).

now_ms() ->
    erlang:system_time(millisecond).
