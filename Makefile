# Set-up and entry points. `make run` and `make test` each do all set-up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
IMAGE  ?= assets/images/astronaut.png
# This machine class has a CPU-only torch 2.13.0 on local disk; GPU machines may override TORCH.
TORCH  ?= torch==2.13.0
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := xvfb xauth libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 \
	libxcb-xinerama0 libxcb-randr0 libxcb-shape0 libxcb-cursor0 libxkbcommon-x11-0 \
	libegl1 libgl1 libglx-mesa0 libgl1-mesa-dri libfontconfig1 libdbus-1-3 chromium

.PHONY: run test lint system venv bench clean

run: system venv  ## open the editor on a bundled image (a screenshot in out/ when there is no display)
	@if [ -n "$$DISPLAY" ]; then $(BIN)/gpstoken-studio $(IMAGE); \
	else mkdir -p out && xvfb-run -a $(BIN)/gpstoken-studio $(IMAGE) --screenshot out/studio.png \
	  && echo "no display: wrote out/studio.png"; fi

test: system venv  ## the whole test suite (GUI tests under Xvfb via pytest-xvfb)
	$(BIN)/python -m pytest -q

lint: venv  ## ruff, configured in pyproject.toml
	$(BIN)/ruff check engine app tests benchmarks docs

system:  ## Debian packages that Qt needs under Xvfb, and chromium for the browser tests (skipped when present)
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q $$missing; fi

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e ".[studio,test,bench]"
	touch $(STAMP)

bench: system venv  ## print the benchmark ratio tables (the overlay benchmark needs GL: Xvfb without a display)
	@x=$$([ -n "$$DISPLAY" ] || echo "xvfb-run -a"); \
	for b in benchmarks/bench_*.py; do $$x $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) out build *.egg-info
