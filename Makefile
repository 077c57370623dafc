# Quick start: `make run` (simulator with a private broker) and `make test`.
# Both install what they need from Debian's packages on first use.
.PHONY: all deps build run test unit system asan coverage fuzz fuzz-short soak bench footprint target emu-test web clean

JOBS ?= 2

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build build -j$(JOBS)

run: build
	@scripts/run.sh

test: deps
	@scripts/test.sh

unit: build
	@cd build && ctest --output-on-failure

system: build
	@MTC_BUILD_DIR=$(CURDIR)/build /usr/bin/python3 -m pytest -q tests/system

asan: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DMTC_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j$(JOBS)

coverage: deps
	@scripts/coverage.sh

fuzz: deps
	@scripts/fuzz.sh long

fuzz-short: deps
	@scripts/fuzz.sh short

soak: deps
	@scripts/soak.sh full

bench: build
	@scripts/bench.sh

footprint: deps
	@scripts/footprint.sh

target: deps
	@scripts/target.sh

emu-test: deps
	@scripts/emu-test.sh

web: deps
	@scripts/web.sh

clean:
	rm -rf build build-* out
