%%% @doc Events and the listeners that receive them.
%%%
%%% Events are shaped as the Gleam values of `barnacle.Event', so that a
%%% Gleam `Subject' receives them with no conversion:
%%% <ul>
%%% <li>`{refresh_response, {ok, Nodes}}' / `{refresh_response, {error, RefreshError}}'
%%% where `RefreshError' is `{strategy_error, Reason}',
%%% `{connect_error, [{Node, Reason}]}' or `{disconnect_error, [{Node, Reason}]}';</li>
%%% <li>`{pause_response, nil}', `{resume_response, nil}', `{shutdown_response, nil}';</li>
%%% <li>`{node_connected, Node}', `{node_disconnected, Node, Reason}',
%%% `{connect_failed, Node, Reason}' (`Reason' is always an atom).</li>
%%% </ul>
%%%
%%% A listener is a pid (receives `Event'), a Gleam subject
%%% `{subject, Pid, Tag}' (receives `{Tag, Event}'), a Gleam named subject
%%% `{named_subject, Name}' (the process registered as `Name' receives
%%% `{Name, Event}') or a fun of one argument. Sends never fail and never
%%% block; funs run one at a time in a separate notifier process, so a fun
%%% that crashes is logged and one that hangs delays only other funs, never
%%% the cluster (and at most 10,000 events wait for it; later ones are
%%% dropped).
-module(barnacle_events).

-export([is_listener/1, notify/3, start_notifier/1, stop_notifier/1]).
-export([notifier_loop/1]).

-define(MAX_QUEUED, 10000).

-type refresh_error() :: {strategy_error, term()}
                       | {connect_error, [{node(), atom()}]}
                       | {disconnect_error, [{node(), atom()}]}.
-type event() :: {refresh_response, {ok, [node()]} | {error, refresh_error()}}
               | {pause_response, nil}
               | {resume_response, nil}
               | {shutdown_response, nil}
               | {node_connected, node()}
               | {node_disconnected, node(), atom()}
               | {connect_failed, node(), atom()}.
-type listener() :: pid()
                  | {subject, pid(), term()}
                  | {named_subject, atom()}
                  | fun((event()) -> term()).
-export_type([event/0, listener/0, refresh_error/0]).

%% @doc Whether a term is a listener.
-spec is_listener(term()) -> boolean().
is_listener(P) when is_pid(P) -> true;
is_listener({subject, P, _Tag}) when is_pid(P) -> true;
is_listener({named_subject, N}) when is_atom(N) -> true;
is_listener(F) when is_function(F, 1) -> true;
is_listener(_) -> false.

%% @doc Sends `Event' to every listener. Funs go through `Notifier' (a pid
%% from `start_notifier/1', or `undefined' when there are no funs).
-spec notify([listener()], pid() | undefined, event()) -> ok.
notify(Listeners, Notifier, Event) ->
    lists:foreach(fun(L) -> deliver(L, Notifier, Event) end, Listeners).

deliver(P, _, Event) when is_pid(P) ->
    P ! Event;
deliver({subject, P, Tag}, _, Event) ->
    P ! {Tag, Event};
deliver({named_subject, Name}, _, Event) ->
    %% Sending to an unregistered name raises; a missing listener is harmless.
    try Name ! {Name, Event} catch error:badarg -> ok end;
deliver(F, Notifier, Event) when is_function(F, 1), is_pid(Notifier) ->
    %% A fun that hangs stops the notifier; past this many waiting events
    %% new ones are dropped rather than grow its queue without bound.
    case erlang:process_info(Notifier, message_queue_len) of
        {message_queue_len, N} when N >= ?MAX_QUEUED -> ok;
        _ -> Notifier ! {event, F, Event}
    end;
deliver(_, _, _) ->
    ok.

%% @doc Starts the notifier for fun listeners, linked to the caller, or
%% returns `undefined' when `Listeners' has no fun.
-spec start_notifier([listener()]) -> pid() | undefined.
start_notifier(Listeners) ->
    case lists:any(fun(L) -> is_function(L, 1) end, Listeners) of
        true -> spawn_link(?MODULE, notifier_loop, [self()]);
        false -> undefined
    end.

%% @doc Stops a notifier once it has delivered the events already sent to
%% it (such as `shutdown_response'); one stuck in a listener fun is killed
%% after five seconds.
-spec stop_notifier(pid() | undefined) -> ok.
stop_notifier(undefined) -> ok;
stop_notifier(Pid) ->
    unlink(Pid),
    Pid ! stop,
    _ = spawn(fun() ->
                      Ref = erlang:monitor(process, Pid),
                      receive {'DOWN', Ref, process, Pid, _} -> ok
                      after 5000 -> exit(Pid, kill)
                      end
              end),
    ok.

%% @private
-spec notifier_loop(pid()) -> no_return().
notifier_loop(Cluster) ->
    receive
        {event, F, Event} ->
            try F(Event)
            catch Class:Reason ->
                barnacle_log:error(#{what => listener_crashed, cluster => Cluster,
                                     class => Class, reason => Reason})
            end,
            notifier_loop(Cluster);
        stop ->
            exit(normal)
    end.
