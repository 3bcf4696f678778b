%% Backoff delays: immediate first retry, exponential growth, cap, jitter bounds.
-module(barnacle_backoff_tests).
-include_lib("eunit/include/eunit.hrl").

-define(B, #{min => 100, max => 3000}).

first_retry_is_immediate_test() ->
    ?assertEqual(0, barnacle_backoff:delay(0, ?B)).

grows_and_caps_test() ->
    Hi = fun() -> 0.999999 end,
    Lo = fun() -> 0.0 end,
    ?assertEqual([100, 200, 400, 800, 1600, 3000, 3000],
                 [barnacle_backoff:delay(N, ?B, Hi) || N <- [1, 2, 3, 4, 5, 6, 100]]),
    ?assertEqual([100, 100, 200, 400, 800, 1500, 1500],
                 [barnacle_backoff:delay(N, ?B, Lo) || N <- [1, 2, 3, 4, 5, 6, 100]]).

huge_failure_counts_are_fine_test() ->
    ?assertEqual(3000, barnacle_backoff:delay(1000000, ?B, fun() -> 1.0 end)).

