# Every target sets itself up: a fresh clone needs only `make test` (or `make demo`).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.bitlab-installed
PACKAGES := packages/bittokens packages/bitcodec packages/bitmask packages/bitswin packages/enctable packages/bitbaselines packages/bittrain packages/bitbench apps/cli
PYPROJECTS := pyproject.toml $(addsuffix /pyproject.toml,$(PACKAGES))
PYTEST_ARGS ?=

.PHONY: install fonts test demo bench lint clean gpu-check

install: $(STAMP) fonts

# Chinese labels in plots need a CJK font (bitbench.plot_fonts): Debian's fonts-noto-cjk, where
# apt can install it (as root, or through sudo without a password). Without apt, root or network
# nothing fails: plots then label Chinese characters by their code points.
fonts:
	@if fc-list 2>/dev/null | grep -qiE 'CJK|WenQuanYi|Droid Sans Fallback|Source Han'; then :; \
	elif ! command -v apt-get >/dev/null 2>&1; then \
		echo "fonts: no apt-get, no CJK font: plots label Chinese characters by code point"; \
	else \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO="sudo -n"; fi; \
		if $$SUDO apt-get install -y -q --no-install-recommends fonts-noto-cjk >/dev/null 2>&1 \
			|| { $$SUDO apt-get update -q >/dev/null 2>&1 && \
			     $$SUDO apt-get install -y -q --no-install-recommends fonts-noto-cjk >/dev/null 2>&1; }; \
		then echo "fonts: installed fonts-noto-cjk (Chinese plot labels)"; \
		else echo "fonts: could not install fonts-noto-cjk (no root or offline): plots label Chinese characters by code point"; fi; \
	fi

# torch goes in first, pinned, so that no later resolution can pull the CUDA build and its
# several GB of NVIDIA packages. Packages install editable, without build isolation.
$(STAMP): constraints.txt $(PYPROJECTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt torch==2.13.0
	$(BIN)/python -m pip install -q -c constraints.txt hatchling editables
	# The CLI's distribution was called `bitlab` before 0.1.0 (now bitlab-cli; the command is
	# still `bitlab`): an editable install of that old name would shadow the new one.
	$(BIN)/python -m pip uninstall -q -y bitlab 2>/dev/null || true
	$(BIN)/python -m pip install -q -c constraints.txt --no-build-isolation \
		$(foreach p,$(PACKAGES),-e $(p)) -e ".[dev]"
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

demo: $(STAMP)
	$(BIN)/bitlab demo

bench: $(STAMP)
	$(BIN)/bitlab bench all

# On a machine with a CUDA GPU: its own python with torch (and the other dependencies, e.g. from
# carried wheels) is enough; the packages run from their src/ folders. Results: gpu-check-out/.
empty :=
space := $(empty) $(empty)
GPU_PYTHON ?= $(if $(wildcard $(BIN)/python),$(BIN)/python,python3)
gpu-check:
	PYTHONPATH=$(subst $(space),:,$(addsuffix /src,$(PACKAGES))) $(GPU_PYTHON) -m bitlab.gpu_check --out gpu-check-out

lint: $(STAMP)
	$(BIN)/ruff check packages apps tests
	$(BIN)/ruff format --check packages apps tests

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
