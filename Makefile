# Sluice: the two commands of the README, and their set-up.
#   make demo   build, run graphs/demo.graph over the bundled capture, print counters,
#               write out/demo-out.pcap
#   make test   every test of the workspace, and `sluice check` on every graph

CARGO ?= cargo
SLUICE := target/release/sluice

.PHONY: demo test deps build check-graphs bench-quick

# System packages a fresh Debian 12 machine needs, installed only when missing.
APT_PACKAGES := build-essential pkg-config iproute2 iputils-ping ethtool python3 \
                libdpdk-dev libclang-dev clang
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@command -v $(CARGO) >/dev/null || { echo "cargo not found: install Rust from https://rustup.rs"; exit 1; }

# DPDK devices are built in (the `dpdk` feature); the packages above provide DPDK.
FEATURES := --features sluice-elements/dpdk

build: deps
	$(CARGO) build --release -p sluice-cli $(FEATURES)

demo: build
	@mkdir -p out
	$(SLUICE) run -h src.count -h in.count -h in.byte_count -h q.highwater_length -h out.count \
	    graphs/demo.graph OUT=$(CURDIR)/out/demo-out.pcap
	@echo "wrote out/demo-out.pcap ($$(stat -c %s out/demo-out.pcap) bytes)"

check-graphs: build
	@for g in graphs/*.graph; do $(SLUICE) check $$g || exit 1; done

test: deps
	$(CARGO) test --workspace --no-fail-fast $(FEATURES)
	$(MAKE) check-graphs

BENCHES := chain trampoline router classifier scale swap plugin io

bench-quick:
	for b in $(BENCHES); do $(CARGO) run --release -p sluice-bench $(FEATURES) -- $$b --quick || exit 1; done
