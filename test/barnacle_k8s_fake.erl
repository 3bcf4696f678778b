%% A fake Kubernetes API server for the tests: HTTPS (OTP ssl) with
%% certificates made by openssl for the test, answering through a handler
%% fun the test sets: fun(Path, Headers) -> {Status, Body} | {delay, Ms, Status, Body}
%% | {truncate, Status, Body, DeclaredLength}.
-module(barnacle_k8s_fake).

-export([make_pki/1, start/3, set_handler/2, stop/1, pods_json/1]).

%% Makes a CA, a server certificate for 127.0.0.1 and the test bridge
%% address signed by it, and a second, unrelated CA.
make_pki(Dir) ->
    ok = filelib:ensure_dir(filename:join(Dir, "x")),
    F = fun(Name) -> filename:join(Dir, Name) end,
    Key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes",
    sh(["openssl req -x509 ", Key, " -keyout ", F("ca.key"), " -out ", F("ca.crt"),
        " -days 2 -subj /CN=barnacle-test-ca"]),
    sh(["openssl req -x509 ", Key, " -keyout ", F("other-ca.key"), " -out ", F("other-ca.crt"),
        " -days 2 -subj /CN=other-ca"]),
    sh(["openssl req ", Key, " -keyout ", F("server.key"), " -out ", F("server.csr"),
        " -subj /CN=kubernetes"]),
    ok = file:write_file(F("ext"), "subjectAltName=IP:127.0.0.1,IP:10.77.33.1,DNS:localhost\n"),
    sh(["openssl x509 -req -in ", F("server.csr"), " -CA ", F("ca.crt"), " -CAkey ", F("ca.key"),
        " -CAcreateserial -out ", F("server.crt"), " -days 2 -extfile ", F("ext")]),
    #{ca => F("ca.crt"), other_ca => F("other-ca.crt"), cert => F("server.crt"),
      key => F("server.key")}.

%% start(Ip, Pki, Handler) -> {Pid, Port}
start(Ip, #{cert := Cert, key := Key}, Handler) ->
    {ok, _} = application:ensure_all_started(ssl),
    Parent = self(),
    Pid = spawn(fun() ->
                        {ok, L} = ssl:listen(0, [{ip, Ip}, {certfile, Cert}, {keyfile, Key},
                                                 {reuseaddr, true}, binary, {active, false},
                                                 {packet, raw}]),
                        {ok, {_, Port}} = ssl:sockname(L),
                        Parent ! {self(), port, Port},
                        put(handler, Handler),
                        Self = self(),
                        spawn_link(fun() -> accept_loop(L, Self) end),
                        control_loop()
                end),
    receive {Pid, port, Port} -> {Pid, Port} after 10000 -> error(fake_api_not_started) end.

set_handler(Pid, Handler) ->
    Pid ! {set, Handler, self()},
    receive {Pid, ok} -> ok after 5000 -> error(no_ack) end.

stop(Pid) -> exit(Pid, kill), ok.

control_loop() ->
    receive
        {set, H, From} -> put(handler, H), From ! {self(), ok}, control_loop();
        {get, From} -> From ! {self(), get(handler)}, control_loop()
    end.

accept_loop(L, Control) ->
    case ssl:transport_accept(L) of
        {ok, T} ->
            Control ! {get, self()},
            H = receive {Control, Handler} -> Handler end,
            Pid = spawn(fun() -> serve(T, H) end),
            _ = ssl:controlling_process(T, Pid),
            Pid ! go,
            accept_loop(L, Control);
        {error, _} ->
            ok
    end.

serve(T, Handler) ->
    receive go -> ok end,
    case ssl:handshake(T, 5000) of
        {ok, S} ->
            case read_head(S, <<>>) of
                {ok, Head} ->
                    [Line | Headers] = binary:split(Head, <<"\r\n">>, [global]),
                    [_, Path | _] = binary:split(Line, <<" ">>, [global]),
                    respond(S, Handler(Path, Headers));
                error ->
                    ok
            end,
            ssl:close(S);
        {error, _} ->
            ok
    end.

read_head(S, Acc) ->
    case binary:match(Acc, <<"\r\n\r\n">>) of
        {Pos, _} -> {ok, binary:part(Acc, 0, Pos)};
        nomatch ->
            case ssl:recv(S, 0, 5000) of
                {ok, Data} -> read_head(S, <<Acc/binary, Data/binary>>);
                {error, _} -> error
            end
    end.

respond(S, {delay, Ms, Status, Body}) ->
    timer:sleep(Ms),
    respond(S, {Status, Body});
respond(S, {truncate, Status, Body, Declared}) ->
    send(S, Status, Body, Declared);
respond(S, {Status, Body}) ->
    send(S, Status, Body, iolist_size(Body)).

send(S, Status, Body, Length) ->
    _ = ssl:send(S, [<<"HTTP/1.1 ">>, integer_to_binary(Status), <<" X\r\n">>,
                     <<"Content-Type: application/json\r\nConnection: close\r\n">>,
                     <<"Content-Length: ">>, integer_to_binary(Length), <<"\r\n\r\n">>, Body]),
    ok.

%% A PodList of ready pods: [{Name, Ip}].
pods_json(Pods) ->
    Items = [io_lib:format("{\"metadata\":{\"name\":\"~s\"},\"status\":{\"podIP\":\"~s\","
                           "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}",
                           [N, Ip]) || {N, Ip} <- Pods],
    iolist_to_binary(["{\"kind\":\"PodList\",\"items\":[", lists:join(",", Items), "]}"]).

sh(Cmd) ->
    Out = os:cmd(lists:flatten(Cmd) ++ " 2>&1; echo rc=$?"),
    case string:find(Out, "rc=0") of
        nomatch -> error({command_failed, lists:flatten(Cmd), Out});
        _ -> ok
    end.
