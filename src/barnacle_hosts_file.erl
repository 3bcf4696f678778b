%%% @doc Strategy `{hosts_file, Opts}': the hosts in a `.hosts.erlang' file,
%%% and the nodes each host's EPMD reports.
%%%
%%% The file is found as `net_adm:host_file/0' finds it (the current
%%% directory, then `$HOME', then `code:root_dir()'), or given as `path'.
%%% It holds one host per term, as atoms or strings:
%%% ```
%%% 'app1.example.com'.
%%% '10.0.0.12'.
%%% '''
%%% Every host's EPMD is asked through the native `epmd_names', all hosts in
%%% parallel, each within `timeout'. Options: `path', `timeout' (ms, default
%%% 2000), `port' (EPMD's, default `ERL_EPMD_PORT' or 4369), `basenames'
%%% (only these node names). The file is read at every pass.
%%%
%%% A host whose EPMD does not answer keeps the nodes it had at its last
%%% answer and is reported: the pass ends with
%%% `{strategy_error, {hosts_unreachable, [{Host, Reason}]}}' after
%%% connecting what the other hosts listed, and prunes nothing. A missing
%%% or unparsable file is `{strategy_error, {hosts_file, Reason}}'.
-module(barnacle_hosts_file).
-behaviour(barnacle_strategy).

-export([init/1, discover/1]).

-define(MAX_HOSTS, 1024).
-define(MAX_NAMES, 4096).

%% @doc Validates the options.
-spec init(map()) -> {ok, map()} | {error, term()}.
init(Opts) when is_map(Opts) ->
    Defaults = #{path => default, timeout => 2000, port => barnacle_epmd:default_port(),
                 basenames => any},
    case barnacle_opts:validate(Opts, Defaults, fun check/2) of
        {ok, O} -> {ok, O#{known => #{}}};
        Error -> Error
    end;
init(Opts) ->
    {error, {invalid_options, Opts}}.

check(path, default) -> true;
check(path, P) -> barnacle_opts:is_text(P);
check(timeout, T) -> barnacle_opts:is_timeout(T);
check(port, P) -> is_integer(P) andalso P > 0 andalso P < 65536;
check(basenames, any) -> true;
check(basenames, L) -> is_list(L) andalso lists:all(fun barnacle_opts:is_basename/1, L);
check(_, _) -> false.

%% @doc Reads the file and asks every host.
-spec discover(map()) -> {ok, [binary()], map()} | {partial, [binary()], term(), map()}
                       | {error, term(), map()}.
discover(#{path := Path} = S) ->
    case read_hosts(Path) of
        {ok, Hosts} -> ask_all(Hosts, S);
        {error, Reason} -> {error, {hosts_file, Reason}, S}
    end.

read_hosts(default) ->
    Dirs = ["."] ++ case init:get_argument(home) of
                       {ok, [[Home]]} -> [Home];
                       _ -> []
                   end ++ [code:root_dir()],
    case file:path_consult(Dirs, ".hosts.erlang") of
        {ok, Terms, _Found} -> hosts(Terms);
        {error, enoent} -> {error, {not_found, Dirs}};
        {error, Reason} -> {error, Reason}
    end;
read_hosts(Path) ->
    case file:consult(Path) of
        {ok, Terms} -> hosts(Terms);
        {error, Reason} -> {error, Reason}
    end.

hosts(Terms) when length(Terms) > ?MAX_HOSTS ->
    {error, {too_many_hosts, length(Terms)}};
hosts(Terms) ->
    Bins = [try barnacle_opts:to_binary(T) catch error:badarg -> {bad, T} end || T <- Terms],
    case [T || {bad, T} <- Bins] of
        [] ->
            case [B || B <- Bins, not barnacle_opts:is_host(B)] of
                [] -> {ok, lists:usort(Bins)};
                [Bad | _] -> {error, {bad_host, Bad}}
            end;
        [Bad | _] ->
            {error, {bad_host, Bad}}
    end.

%% Every host is asked in its own process; the whole pass takes about one
%% timeout however many hosts are dead.
ask_all(Hosts, #{timeout := T, port := Port, known := Known, basenames := Filter} = S) ->
    Self = self(),
    Refs = [{H, spawn_monitor(fun() ->
                                      Self ! {self(), H, barnacle_native:epmd_names(
                                                           H, Port, T, ?MAX_NAMES)}
                              end)} || H <- Hosts],
    Results = [collect(H, Pid, Ref, T + 1000) || {H, {Pid, Ref}} <- Refs],
    Keep = keep_fun(Filter),
    Answers = maps:from_list(
                [{H, [<<N/binary, $@, H/binary>> || {N, _} <- Entries, Keep(N)]}
                 || {H, {ok, {Entries, _}}} <- Results]),
    Failed = [{H, R} || {H, {error, R}} <- Results],
    %% A host that did not answer keeps its last known nodes.
    Known1 = maps:merge(maps:with(Hosts, Known), Answers),
    Nodes = lists:append(maps:values(Known1)),
    S1 = S#{known := Known1},
    case Failed of
        [] -> {ok, Nodes, S1};
        _ when map_size(Answers) =:= 0, Nodes =:= [] -> {error, {hosts_unreachable, Failed}, S1};
        _ -> {partial, Nodes, {hosts_unreachable, Failed}, S1}
    end.

collect(H, Pid, Ref, Wait) ->
    receive
        {Pid, H, Result} ->
            erlang:demonitor(Ref, [flush]),
            {H, Result};
        {'DOWN', Ref, process, Pid, Reason} ->
            {H, {error, {crashed, Reason}}}
    after Wait ->
        exit(Pid, kill),
        erlang:demonitor(Ref, [flush]),
        {H, {error, timeout}}
    end.

keep_fun(any) -> fun(_) -> true end;
keep_fun(L) ->
    Bins = [barnacle_opts:to_binary(B) || B <- L],
    fun(N) -> lists:member(N, Bins) end.
