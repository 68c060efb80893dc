# The two commands of the README: `make run` and `make test`. Both install what they need.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
CONFIG ?= conf/farmwatch.toml
# Every `farmwatch serve` the tests start (and each of its media workers) imports the package
# anew: with bytecode caching off (some machines set PYTHONDONTWRITEBYTECODE) each of those
# starts compiles farmwatch's modules again, about a second of CPU each.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: install run demo test lint unit system-deps bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/farmwatch serve --config $(CONFIG)

# Three platforms cascaded on one machine (national <- bureau <- branch) and a simulated farm;
# prints the national platform's URL, runs until Ctrl-C.
demo: $(STAMP)
	$(PY) scripts/demo.py

# sipp (Debian sip-tester) and chromium are the independent peers of the end-to-end tests;
# fonts-noto-cjk renders the Chinese UI in headless chromium (the screenshots are looked at).
system-deps:
	@if ! command -v sipp >/dev/null || ! command -v chromium >/dev/null || \
			! dpkg -s fonts-noto-cjk >/dev/null 2>&1; then \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
			sip-tester chromium fonts-noto-cjk >/dev/null; \
	fi

lint: $(STAMP)
	$(VENV)/bin/ruff check farmwatch tests bench scripts
	$(VENV)/bin/ruff format --check farmwatch tests bench scripts
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

unit: $(STAMP)
	$(PY) -m pytest -q tests/unit

# Three pytest-xdist workers: most tests wait on real time (a 3-minute recording, a
# 10-minute download at 4x, keepalive and media timeouts) with the CPU idle, so they run
# side by side; a module's tests stay on one worker (tests/conftest.py groups them).
test: $(STAMP) system-deps lint
	$(PY) -m pytest -q -p no:cacheprovider -n 3 --dist loadgroup --no-loadscope-reorder --durations=25

bench: $(STAMP) system-deps
	PYTHONPATH=. $(PY) bench/sip_codec.py
	PYTHONPATH=. $(PY) bench/ps_demux.py
	PYTHONPATH=. $(PY) bench/rtp_ingest.py
	PYTHONPATH=. $(PY) bench/options_load.py
	PYTHONPATH=. $(PY) bench/registration_path.py
	PYTHONPATH=. $(PY) bench/registration.py
	PYTHONPATH=. $(PY) bench/live.py
	PYTHONPATH=. $(PY) bench/live.py --viewers fmp4 --streams 50,100 --skip-starts --skip-latency
	PYTHONPATH=. $(PY) bench/browser_start.py --hls
	PYTHONPATH=. $(PY) bench/console.py
	PYTHONPATH=. $(PY) bench/recording.py
	PYTHONPATH=. $(PY) bench/segment_writer.py
	PYTHONPATH=. $(PY) bench/recorded_stream_start.py
	PYTHONPATH=. $(PY) bench/cascade.py --relay
	PYTHONPATH=. $(PY) bench/abuse.py
	PYTHONPATH=. $(PY) bench/device_control.py
	PYTHONPATH=. $(PY) bench/fuzz.py --minutes 2

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
