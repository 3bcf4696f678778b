%%% @doc Barnacle's log reports. Every log call goes through OTP `logger'
%%% with `#{domain => [barnacle]}' metadata and this module's `report_cb/1',
%%% so all prose lives in one place. Reports never carry secrets: callers
%%% pass only names, reasons and counts.
-module(barnacle_log).

-export([debug/1, info/1, warning/1, error/1, report_cb/1]).

-include_lib("kernel/include/logger.hrl").

-define(META, #{domain => [barnacle], report_cb => fun ?MODULE:report_cb/1}).

%% @doc Logs a report at debug level.
-spec debug(Report :: map()) -> ok.
debug(Report) -> ?LOG_DEBUG(Report, ?META).

%% @doc Logs a report at info level.
-spec info(Report :: map()) -> ok.
info(Report) -> ?LOG_INFO(Report, ?META).

%% @doc Logs a report at warning level.
-spec warning(Report :: map()) -> ok.
warning(Report) -> ?LOG_WARNING(Report, ?META).

%% @doc Logs a report at error level.
-spec error(Report :: map()) -> ok.
error(Report) -> ?LOG_ERROR(Report, ?META).

%% @doc Turns a barnacle report into text.
-spec report_cb(Report :: map()) -> {io:format(), [term()]}.
report_cb(#{what := nif_not_loaded, info := #{path := Path, reason := R, build := Cmd}}) ->
    {"barnacle: the native library ~ts did not load (~p); build it with: ~ts",
     [Path, R, Cmd]};
report_cb(#{what := strategy_error, cluster := C, reason := R}) ->
    {"barnacle ~p: discovery failed: ~0p; the cluster is left as it is", [C, R]};
report_cb(#{what := node_connected, cluster := C, node := N}) ->
    {"barnacle ~p: connected to ~p", [C, N]};
report_cb(#{what := node_disconnected, cluster := C, node := N, reason := R}) ->
    {"barnacle ~p: lost ~p (~p); retrying", [C, N, R]};
report_cb(#{what := connect_failed, cluster := C, node := N, reason := R, failures := F}) ->
    {"barnacle ~p: could not connect to ~p (~p), attempt ~b", [C, N, R, F]};
report_cb(#{what := pruned, cluster := C, node := N}) ->
    {"barnacle ~p: disconnected ~p, no longer discovered", [C, N]};
report_cb(#{what := invalid_names, cluster := C, count := Count, sample := S}) ->
    {"barnacle ~p: discovery returned ~b invalid node name(s), e.g. ~0p", [C, Count, S]};
report_cb(#{what := over_limit, cluster := C, count := Count, max_nodes := Max}) ->
    {"barnacle ~p: discovery returned ~b more node(s) than max_nodes (~b); ignored",
     [C, Count, Max]};
report_cb(#{what := listener_crashed, cluster := C, class := Class, reason := R}) ->
    {"barnacle ~p: an event listener crashed (~p:~0p); the cluster carries on",
     [C, Class, R]};
report_cb(#{what := callback_crashed, cluster := C, callback := Cb, class := Class, reason := R}) ->
    {"barnacle ~p: the ~p callback crashed (~p:~0p)", [C, Cb, Class, R]};
report_cb(#{what := insecure, cluster := C, text := Text}) ->
    {"barnacle ~p: ~ts", [C, Text]};
report_cb(Report) ->
    {"barnacle: ~0p", [Report]}.
