# Front door. The real build is CMake (+ ctest); these targets install what
# is missing (scripts/install-deps.sh), configure, build and run.
BUILD ?= build
ASAN_BUILD ?= build-asan
ASAN_NATIVE_BUILD ?= build-asan-native
JOBS ?= $(shell nproc)

.PHONY: all deps build demo test test-sanitize test-sanitize-native fuzz bench clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	scripts/demo.sh $(BUILD)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 600

test-sanitize: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DEQ_SANITIZE=ON
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && EQ_SANITIZED=1 ctest --output-on-failure -j $(JOBS) --timeout 900

# The same, built for this CPU: the sanitizer build above is portable, so
# its kernels are the fallbacks; this one runs the AVX-512 kernels that
# Release builds use here.
test-sanitize-native: deps
	cmake -S . -B $(ASAN_NATIVE_BUILD) -DCMAKE_BUILD_TYPE=Debug -DEQ_SANITIZE=ON -DCMAKE_C_FLAGS=-march=native
	cmake --build $(ASAN_NATIVE_BUILD) -j $(JOBS)
	cd $(ASAN_NATIVE_BUILD) && EQ_SANITIZED=1 ctest --output-on-failure -j $(JOBS) --timeout 900

fuzz: deps
	scripts/fuzz.sh

bench: build
	bench/run all

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(ASAN_NATIVE_BUILD) build-fuzz
