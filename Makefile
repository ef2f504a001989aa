# ward — top-level driver. The build itself is CMake; this file gives the
# commands the README names.
#
#   make            build libward (shared and static), examples, benchmarks
#   make demo       build, then run the main example
#   make test       install what the tests need (when root), build, run all
#   make bench      benchmarks: BENCH lines with ratios against anchors
#   make install PREFIX=/usr/local
#   make fuzz-defer N=2000 [SEED=7]   more differential programs against Go
#   make fuzz-pprof SECONDS=600       fuzz the profile reader longer
#   make fuzz-http SECONDS=600        fuzz the endpoint's request parser longer

BUILD ?= build
PREFIX ?= /usr/local
N ?= 1000
SEED ?= $(shell date +%s)
CMAKE_FLAGS ?=
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

SECONDS ?= 600

.PHONY: all build demo test bench install fuzz-defer fuzz-pprof fuzz-http clean deps

all: build

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	@echo "== examples/leaky_server, a program written without ward, under ward run"
	$(BUILD)/ward run -o $(BUILD)/demo.pb.gz -- $(BUILD)/leaky_server
	$(BUILD)/ward flame $(BUILD)/demo.pb.gz -o $(BUILD)/demo.svg
	@echo "== flame graph: $(BUILD)/demo.svg (open it in a browser)"
	@echo "== go tool pprof -top $(BUILD)/leaky_server $(BUILD)/demo.pb.gz reads the profile too"
	@echo
	@echo "== examples/leaky_logger: the 'defer close in a loop' bug, caught by ward's defer"
	$(BUILD)/leaky_logger 1500

deps:
	@tests/deps.sh

test: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DWARD_WERROR=$(if $(CI),ON,OFF) $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS)
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

bench: build
	@tests/deps.sh bench
	bench/run.sh $(BUILD)

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

fuzz-defer: deps build
	tests/diff/run.sh --lib $(BUILD)/libward.a --include include \
		--work $(BUILD)/fuzz --seed $(SEED) --count $(N)

fuzz-pprof: build
	mkdir -p $(BUILD)/fuzz-corpus
	$(BUILD)/fuzz_pprof -max_total_time=$(SECONDS) $(BUILD)/fuzz-corpus tests/corpus/pprof

fuzz-http: build
	mkdir -p $(BUILD)/fuzz-corpus-http
	$(BUILD)/fuzz_http -max_total_time=$(SECONDS) $(BUILD)/fuzz-corpus-http tests/corpus/http

clean:
	rm -rf $(BUILD)
