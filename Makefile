# Barnacle: the two commands a new user needs are `make demo` and `make test`.
.PHONY: all deps native build demo test bench clean

all: build

deps:
	@./scripts/deps.sh

native: deps
	@sh native/build.sh

build: deps
	@rebar3 compile

demo: build
	@./scripts/demo.sh

test:
	@./scripts/test.sh

bench: build
	@./scripts/bench.sh

clean:
	rm -rf _build target priv/libbarnacle_nif.so
