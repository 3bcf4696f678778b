%% Property: every backoff delay stays within its bounds.
-module(barnacle_backoff_prop_tests).
-include_lib("proper/include/proper.hrl").
-export([bounds_property_test/0]).

prop_bounds() ->
    ?FORALL({F, Min, Extra}, {non_neg_integer(), pos_integer(), non_neg_integer()},
            begin
                B = #{min => Min, max => Min + Extra},
                D = barnacle_backoff:delay(F, B),
                case F of
                    0 -> D =:= 0;
                    _ -> D >= Min andalso D =< Min + Extra
                end
            end).

bounds_property_test() ->
    true = proper:quickcheck(prop_bounds(), [{numtests, 2000}, quiet]).
