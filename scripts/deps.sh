#!/bin/sh
# Installs what barnacle's build, demo and tests need, when it is missing.
# As root it runs apt-get; otherwise it says exactly what to install.
set -eu
need=""
have() { command -v "$1" >/dev/null 2>&1; }
pkg_missing() { ! dpkg -s "$1" >/dev/null 2>&1; }
have erl || need="$need erlang-nox"
for p in erlang-dev erlang-eunit erlang-common-test erlang-dialyzer erlang-proper erlang-proper-dev \
         erlang-tools erlang-crypto erlang-ssl erlang-inets erlang-public-key; do
    if have dpkg && pkg_missing "$p"; then need="$need $p"; fi
done
have rebar3 || need="$need rebar3"
have dnsmasq || need="$need dnsmasq-base"
have ip || need="$need iproute2"
have iptables || need="$need iptables"
have openssl || need="$need openssl"
have cc || need="$need gcc"
if [ -n "$need" ]; then
    if [ "$(id -u)" = 0 ] && have apt-get; then
        echo "barnacle: installing$need" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null
        # shellcheck disable=SC2086
        apt-get install -y -qq --no-install-recommends $need >/dev/null
    else
        echo "barnacle: missing Debian packages:$need" >&2
        echo "barnacle: install them with: sudo apt-get install$need" >&2
        exit 1
    fi
fi
if ! have cargo; then
    echo "barnacle: cargo is missing; install Rust with rustup (https://rustup.rs)" >&2
    exit 1
fi
