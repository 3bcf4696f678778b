%%% @doc The strategy behaviour: how a cluster finds its nodes.
%%%
%%% Discovery is the whole contract. A strategy says which nodes should be
%%% in the cluster; the cluster process (`barnacle_cluster') does the rest:
%%% timers, the diff, parallel connects, pruning, backoff and events.
%%%
%%% Callbacks:
%%% <ul>
%%% <li>`init(Opts)': validates the options and builds the state. It runs in
%%% the caller of `barnacle_cluster:start_link/1', before any process is
%%% spawned, so it must have no side effects. `{error, Reason}' fails the
%%% start with `{invalid_config, strategy, Reason}'; name the bad option in
%%% `Reason', e.g. `{invalid_option, query, 42}'.</li>
%%% <li>`discover(State)': returns the nodes that should be connected. It
%%% runs in a short-lived process, under the cluster's `discover_timeout';
%%% a crash, a hang or a malformed return is a `strategy_error', never a
%%% dead cluster. Names may be atoms or binaries; barnacle validates them
%%% before any becomes an atom. `{partial, Nodes, Reason, State}' says part
%%% of the source failed: `Nodes' are connected, nothing is pruned, and the
%%% pass reports `{strategy_error, Reason}'.</li>
%%% <li>`start(State)' (optional): runs in the cluster process once it
%%% exists, to open what the strategy owns (a socket).</li>
%%% <li>`handle_info(Msg, State)' (optional): messages the cluster process
%%% does not know are offered here (push strategies such as gossip).
%%% `{connect, Nodes, State}' asks for those nodes to be connected now.</li>
%%% <li>`terminate(State)' (optional): the cluster process is stopping.</li>
%%% <li>`info(State)' (optional): counters and facts for
%%% `barnacle_cluster:strategy_info/1' (gossip: packets dropped by reason).</li>
%%% </ul>
%%%
%%% A strategy that lists the nodes in a file, as an example:
%%% ```
%%% -module(my_file_strategy).
%%% -behaviour(barnacle_strategy).
%%% -export([init/1, discover/1]).
%%%
%%% init(#{path := Path}) when is_list(Path) -> {ok, Path};
%%% init(Opts) -> {error, {invalid_option, path, Opts}}.
%%%
%%% discover(Path) ->
%%%     case file:consult(Path) of
%%%         {ok, Nodes} -> {ok, Nodes, Path};
%%%         {error, Reason} -> {error, Reason, Path}
%%%     end.
%%% '''
%%% and the cluster: `barnacle_cluster:start_link(#{strategy =>
%%% {my_file_strategy, #{path => "nodes.config"}}})'.
-module(barnacle_strategy).

-export([resolve/1, init/2, start/2, discover/2, handle_info/3, terminate/2, info/2]).

-type state() :: term().
%% Node names as atoms, binaries or strings. Anything else is counted as an
%% invalid name and reported; nothing from here becomes an atom unchecked.
-type nodes() :: [term()].
-type spec() :: local_epmd
              | {local_epmd, map()}
              | {epmd, [node() | binary() | string()]}
              | {custom, map()}
              | {dns, map()}
              | {dns_srv, map()}
              | {hosts_file, map()}
              | {kubernetes, map()}
              | {gossip, map()}
              | {module(), term()}.
-export_type([state/0, nodes/0, spec/0]).

-callback init(Opts :: term()) -> {ok, state()} | {error, Reason :: term()}.
-callback discover(State :: state()) ->
    {ok, nodes(), state()}
  | {partial, nodes(), Reason :: term(), state()}
  | {error, Reason :: term(), state()}.
-callback start(State :: state()) -> {ok, state()} | {error, Reason :: term()}.
-callback handle_info(Msg :: term(), State :: state()) ->
    {ok, state()} | {connect, nodes(), state()}.
-callback terminate(State :: state()) -> term().
-callback info(State :: state()) -> map().
-optional_callbacks([start/1, handle_info/2, terminate/1, info/1]).

%% @doc Maps a strategy spec to the module and options that implement it.
-spec resolve(Spec :: term()) -> {ok, module(), term()} | {error, term()}.
resolve(local_epmd) -> {ok, barnacle_local_epmd, #{}};
resolve({local_epmd, Opts}) -> {ok, barnacle_local_epmd, Opts};
resolve({epmd, Nodes}) -> {ok, barnacle_epmd, Nodes};
resolve({custom, Funs}) -> {ok, barnacle_custom, Funs};
resolve({dns, Opts}) -> {ok, barnacle_dns, {a, Opts}};
resolve({dns_srv, Opts}) -> {ok, barnacle_dns, {srv, Opts}};
resolve({hosts_file, Opts}) -> {ok, barnacle_hosts_file, Opts};
resolve({kubernetes, Opts}) -> {ok, barnacle_kubernetes, Opts};
resolve({gossip, Opts}) -> {ok, barnacle_gossip, Opts};
resolve({Module, Opts}) when is_atom(Module) ->
    case code:ensure_loaded(Module) of
        {module, Module} ->
            case erlang:function_exported(Module, init, 1)
                andalso erlang:function_exported(Module, discover, 1) of
                true -> {ok, Module, Opts};
                false -> {error, {not_a_strategy, Module}}
            end;
        {error, _} ->
            {error, {unknown_strategy, Module}}
    end;
resolve(_) ->
    {error, unknown_strategy}.

%% @doc Runs the strategy's `init/1', turning a crash into an error.
-spec init(module(), term()) -> {ok, state()} | {error, term()}.
init(Mod, Opts) ->
    try Mod:init(Opts) of
        {ok, State} -> {ok, State};
        {error, Reason} -> {error, Reason};
        Other -> {error, {bad_return, init, Other}}
    catch
        Class:Reason -> {error, {crashed, init, Class, Reason}}
    end.

%% @doc Runs the optional `start/1'.
-spec start(module(), state()) -> {ok, state()} | {error, term()}.
start(Mod, State) ->
    case erlang:function_exported(Mod, start, 1) of
        false -> {ok, State};
        true ->
            try Mod:start(State) of
                {ok, State1} -> {ok, State1};
                {error, Reason} -> {error, Reason};
                Other -> {error, {bad_return, start, Other}}
            catch
                Class:Reason -> {error, {crashed, start, Class, Reason}}
            end
    end.

%% @doc Runs `discover/1' in the calling process, turning crashes and
%% malformed returns into errors.
-spec discover(module(), state()) ->
          {ok, nodes(), state()} | {partial, nodes(), term(), state()} | {error, term(), state()}.
discover(Mod, State) ->
    try Mod:discover(State) of
        {ok, Nodes, State1} when is_list(Nodes) -> {ok, Nodes, State1};
        {partial, Nodes, Reason, State1} when is_list(Nodes) -> {partial, Nodes, Reason, State1};
        {error, Reason, State1} -> {error, Reason, State1};
        Other -> {error, {bad_return, summarize(Other)}, State}
    catch
        Class:Reason -> {error, {crashed, Class, summarize(Reason)}, State}
    end.

%% @doc Offers a message to the optional `handle_info/2'.
-spec handle_info(module(), term(), state()) ->
    {ok, state()} | {connect, nodes(), state()} | unknown.
handle_info(Mod, Msg, State) ->
    case erlang:function_exported(Mod, handle_info, 2) of
        false -> unknown;
        true ->
            try Mod:handle_info(Msg, State) of
                {ok, State1} -> {ok, State1};
                {connect, Nodes, State1} when is_list(Nodes) -> {connect, Nodes, State1};
                _ -> {ok, State}
            catch
                Class:Reason ->
                    barnacle_log:error(#{what => callback_crashed, cluster => self(),
                                         callback => handle_info, class => Class,
                                         reason => summarize(Reason)}),
                    {ok, State}
            end
    end.

%% @doc Runs the optional `terminate/1', ignoring crashes.
-spec terminate(module(), state()) -> ok.
terminate(Mod, State) ->
    case erlang:function_exported(Mod, terminate, 1) of
        false -> ok;
        true ->
            try Mod:terminate(State) of _ -> ok catch _:_ -> ok end
    end.

%% A term from user code may be huge; reports keep a bounded view of it.
summarize(Term) ->
    case erlang:external_size(Term) > 2048 of
        true -> {truncated, erlang:phash2(Term)};
        false -> Term
    end.

%% @doc The optional `info/1', or an empty map.
-spec info(module(), state()) -> map().
info(Mod, State) ->
    case erlang:function_exported(Mod, info, 1) of
        false -> #{};
        true -> try Mod:info(State) catch _:_ -> #{} end
    end.
