-module(barnacle_example_ffi).
-export([getenv/1]).

%% getenv(String) -> Result(String, Nil)
getenv(Name) ->
    case os:getenv(binary_to_list(Name)) of
        false -> {error, nil};
        Value -> {ok, unicode:characters_to_binary(Value)}
    end.
