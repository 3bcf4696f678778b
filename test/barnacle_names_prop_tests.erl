%% Property: node names with IP hosts are written exactly as OTP's
%% inet:ntoa/1 writes them, whatever form the address came in.
-module(barnacle_names_prop_tests).
-include_lib("proper/include/proper.hrl").
-export([names_match_inet_ntoa_test/0]).

ipv6() ->
    ?LET(Groups, vector(8, oneof([0, 0, 0, 1, 16#ffff, range(0, 16#ffff)])), list_to_tuple(Groups)).
ipv4() ->
    ?LET(O, vector(4, range(0, 255)), list_to_tuple(O)).

prop_names_match_inet_ntoa() ->
    ?FORALL(Addr, oneof([ipv6(), ipv4()]),
            begin
                Expected = iolist_to_binary(["app@", inet:ntoa(Addr)]),
                %% Feed the NIF the uppercase, uncompressed form.
                Raw = case Addr of
                          {_, _, _, _} -> inet:ntoa(Addr);
                          _ -> string:join([integer_to_list(G, 16) || G <- tuple_to_list(Addr)], ":")
                      end,
                {ok, Expected} =:= barnacle_native:normalize_node_name(
                                     iolist_to_binary(["app@", Raw]))
            end).

names_match_inet_ntoa_test() ->
    true = proper:quickcheck(prop_names_match_inet_ntoa(), [{numtests, 3000}, quiet]).

