%%% @doc Retry delays for lost and unreachable nodes: the first retry at
%%% once, then exponential growth from `min' capped at `max', with jitter so
%%% that nodes which lost each other together do not retry in lockstep.
-module(barnacle_backoff).

-export([delay/2, delay/3]).

-type backoff() :: #{min := pos_integer(), max := pos_integer()}.
-export_type([backoff/0]).

%% @doc The delay in ms before retry number `Failures + 1'.
-spec delay(Failures :: non_neg_integer(), Backoff :: backoff()) -> non_neg_integer().
delay(Failures, Backoff) ->
    delay(Failures, Backoff, fun rand:uniform/0).

%% @doc As `delay/2' with the random source given (a fun returning a float
%% in `[0.0, 1.0)'), so the bounds can be tested exactly.
%% After `N >= 1' failures the ceiling is `min(max, min * 2^(N-1))' and the
%% delay is drawn from `[max(min, Ceiling/2), Ceiling]'.
-spec delay(non_neg_integer(), backoff(), fun(() -> float())) -> non_neg_integer().
delay(0, _Backoff, _Rand) ->
    0;
delay(Failures, #{min := Min, max := Max}, Rand) ->
    %% Cap the exponent: 2^40 ms is already far beyond any sane max.
    Ceiling = min(Max, Min bsl min(Failures - 1, 40)),
    Floor = max(Min, Ceiling div 2),
    %% min/2 keeps the bound even for a source that returns 1.0.
    Floor + min(Ceiling - Floor, trunc(Rand() * (Ceiling - Floor + 1))).
