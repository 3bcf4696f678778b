%% Real separate hosts for the tests: Linux network namespaces joined to a
%% bridge by veth pairs, each with its own IPv4 and IPv6 address, its own
%% epmd and its own BEAM node; and a dnsmasq serving the tests' own records
%% on the bridge address. Needs root, `ip' and (for DNS) `dnsmasq'. Only
%% these namespace addresses and loopback are ever used.
-module(barnacle_netns).

-export([available/0, setup/2, teardown/1, host/2, link_down/2, link_up/2,
         start_peer/4, start_app_peers/5, start_dnsmasq/2, reload_dnsmasq/1, stop_dnsmasq/1,
         write_hosts/2, set_netns_hosts/2]).

%% available() -> ok | {skip, Reason}
available() ->
    Missing = [B || B <- ["ip", "dnsmasq"], os:find_executable(B) =:= false],
    case {string:trim(os:cmd("id -u")), Missing} of
        {"0", []} -> ok;
        {"0", _} -> {skip, "missing " ++ string:join(Missing, ", ") ++
                           " (install iproute2 and dnsmasq-base)"};
        _ -> {skip, "network namespaces need root; run the suite as root (CI does)"}
    end.

%% setup(Tag, Count) -> Net. Tag is a short lowercase word (at most 5
%% characters) and Subnet a number 1..250 distinct per suite.
setup({Tag, Subnet}, Count) ->
    Bridge = "br" ++ Tag,
    Net = #{tag => Tag, subnet => Subnet, bridge => Bridge, count => Count},
    teardown(Net),
    %% No IGMP querier runs here: without snooping the bridge simply
    %% floods multicast to every port, as a plain segment would.
    sh(["ip link add ", Bridge, " type bridge mcast_snooping 0"]),
    sh(["ip addr add ", v4(Subnet, 1), "/24 dev ", Bridge]),
    sh(["ip addr add ", v6(Subnet, 1), "/64 dev ", Bridge, " nodad"]),
    sh(["ip link set ", Bridge, " up"]),
    [begin
         Ns = ns(Tag, I),
         Veth = "v" ++ Tag ++ integer_to_list(I),
         sh(["ip netns add ", Ns]),
         sh(["ip -n ", Ns, " link set lo up"]),
         sh(["ip link add ", Veth, " type veth peer name eth0 netns ", Ns]),
         sh(["ip link set ", Veth, " master ", Bridge, " up"]),
         sh(["ip -n ", Ns, " addr add ", v4(Subnet, 10 + I), "/24 dev eth0"]),
         sh(["ip -n ", Ns, " addr add ", v6(Subnet, 10 + I), "/64 dev eth0 nodad"]),
         sh(["ip -n ", Ns, " link set eth0 up"])
     end || I <- lists:seq(1, Count)],
    Net.

teardown(#{tag := Tag, bridge := Bridge, count := Count}) ->
    [begin
         Ns = ns(Tag, I),
         %% epmd and anything else left running in the namespace.
         _ = os:cmd("for p in $(ip netns pids " ++ Ns ++ " 2>/dev/null); do kill -9 $p; done"),
         _ = os:cmd("ip link del v" ++ Tag ++ integer_to_list(I) ++ " 2>/dev/null"),
         _ = os:cmd("ip netns del " ++ Ns ++ " 2>/dev/null"),
         _ = os:cmd("rm -rf /etc/netns/" ++ Ns)
     end || I <- lists:seq(1, Count)],
    _ = os:cmd("ip link del " ++ Bridge ++ " 2>/dev/null"),
    ok.

%% host(Net, I) -> #{ns, ip4, ip6, ip4_tuple, ip6_tuple}
host(#{tag := Tag, subnet := S}, I) ->
    {ok, T4} = inet:parse_address(v4(S, 10 + I)),
    {ok, T6} = inet:parse_address(v6(S, 10 + I)),
    #{ns => ns(Tag, I), ip4 => v4(S, 10 + I), ip6 => inet:ntoa(T6),
      ip4_tuple => T4, ip6_tuple => T6, bridge4 => v4(S, 1)}.

%% Cut or restore host I's link (its veth on the bridge side).
link_down(#{tag := Tag}, I) -> sh(["ip link set v", Tag, integer_to_list(I), " down"]).
link_up(#{tag := Tag}, I) -> sh(["ip link set v", Tag, integer_to_list(I), " up"]).

%% Starts a BEAM node inside host I's namespace.
start_peer(Net, I, Name, Opts) ->
    #{ns := Ns} = host(Net, I),
    Erl = os:find_executable("erl"),
    Cookie = maps:get(cookie, Opts, "barnacle_netns"),
    Args = barnacle_test_peers:ebin_args() ++
        ["-setcookie", Cookie, "-kernel", "logger_level", "warning",
         "-name", Name] ++ maps:get(args, Opts, []),
    {ok, Peer, _} = peer:start(#{exec => {os:find_executable("ip"), ["netns", "exec", Ns, Erl]},
                              connection => standard_io, wait_boot => 30000,
                              args => Args}),
    ok = peer:call(Peer, barnacle_test_peers, start_scheduler_watch, []),
    {ok, _} = peer:call(Peer, barnacle_test_peers, start_collector, []),
    {Peer, list_to_atom(Name)}.

%% Starts `Base@<host address>' on each of hosts `Indexes' (the IPv6
%% address with `-proto_dist inet6_tcp' in `Args'), records each as
%% {Index, Peer} in the ets table `Tab', and returns [{Peer, Node}].
start_app_peers(Net, Indexes, Base, Args, Tab) ->
    [begin
         #{ip4 := Ip4, ip6 := Ip6} = host(Net, I),
         Host = case lists:member("inet6_tcp", Args) of true -> Ip6; false -> Ip4 end,
         {P, N} = start_peer(Net, I, Base ++ "@" ++ Host, #{args => Args}),
         ets:insert(Tab, {I, P}),
         {P, N}
     end || I <- Indexes].

%%% dnsmasq on the bridge address, serving only files in Dir

%% Listen is a net (its bridge address) or an address string ("127.0.0.1").
start_dnsmasq(#{subnet := S}, Opts) ->
    start_dnsmasq(v4(S, 1), Opts);
start_dnsmasq(Listen, #{dir := Dir, port := Port} = Opts) ->
    Hosts = filename:join(Dir, "hosts"),
    filelib:is_file(Hosts) orelse write_hosts(Dir, ""),
    Extra = maps:get(extra, Opts, []),
    PidFile = filename:join(Dir, "dnsmasq.pid"),
    Cmd = ["dnsmasq --no-resolv --no-hosts --conf-file=/dev/null --user=root",
           " --bind-interfaces --listen-address=", Listen,
           " --port=", integer_to_list(Port), " --local=/test/",
           " --pid-file=", PidFile, " --log-facility=/dev/null",
           " --addn-hosts=", Hosts, [[" ", E] || E <- Extra]],
    sh(Cmd),
    #{pidfile => PidFile, opts => Opts, listen => Listen}.

reload_dnsmasq(#{pidfile := PidFile}) ->
    {ok, Pid} = file:read_file(PidFile),
    sh(["kill -HUP ", string:trim(binary_to_list(Pid))]).

stop_dnsmasq(#{pidfile := PidFile}) ->
    case file:read_file(PidFile) of
        {ok, Pid} ->
            P = string:trim(binary_to_list(Pid)),
            _ = os:cmd("kill -9 " ++ P),
            wait_gone(P, 100),
            file:delete(PidFile);
        _ -> ok
    end.

wait_gone(_, 0) -> ok;
wait_gone(P, N) ->
    case string:trim(os:cmd("kill -0 " ++ P ++ " 2>&1 && echo alive")) of
        "alive" -> timer:sleep(20), wait_gone(P, N - 1);
        _ -> ok
    end.

write_hosts(Dir, Text) ->
    ok = file:write_file(filename:join(Dir, "hosts"), Text).

%% Files under /etc/netns/NS/ are bind-mounted over /etc by `ip netns
%% exec': a hosts file there names the test hosts for the nodes inside.
set_netns_hosts(Net, Text) ->
    [begin
         #{ns := Ns} = host(Net, I),
         Dir = "/etc/netns/" ++ Ns,
         ok = filelib:ensure_dir(Dir ++ "/x"),
         ok = file:write_file(Dir ++ "/hosts", ["127.0.0.1 localhost\n", Text])
     end || I <- lists:seq(1, maps:get(count, Net))],
    ok.

%%% Internal

ns(Tag, I) -> "b" ++ Tag ++ integer_to_list(I).
v4(S, H) -> "10.77." ++ integer_to_list(S) ++ "." ++ integer_to_list(H).
v6(S, H) -> "fd77:" ++ integer_to_list(S) ++ "::" ++ integer_to_list(H).

sh(Cmd) ->
    Flat = lists:flatten(Cmd),
    Out = os:cmd(Flat ++ " 2>&1; echo \"rc=$?\""),
    case lists:last(string:split(string:trim(Out), "\n", all)) of
        "rc=0" -> ok;
        _ -> error({command_failed, Flat, Out})
    end.
