#!/bin/sh
# `make demo`: a live local cluster forming and healing (see barnacle_demo.erl).
set -eu
cd "$(dirname "$0")/.."
mkdir -p _build/demo
erlc -o _build/demo scripts/barnacle_demo.erl
exec erl -noshell -pa _build/default/lib/barnacle/ebin -pa _build/demo -eval 'barnacle_demo:main()'
