#!/bin/sh
# `make bench`: see scripts/barnacle_bench.erl. Results go to bench/results/.
set -eu
cd "$(dirname "$0")/.."
mkdir -p _build/bench bench/results
erlc -o _build/bench scripts/barnacle_bench.erl
exec erl -noshell +S 2 -pa _build/default/lib/barnacle/ebin -pa _build/bench -eval 'barnacle_bench:main()'
