# The book and its library. `make book` is the main job: install, execute, build.
VENV ?= .venv
PYTHON ?= $(VENV)/bin/python
# Extra papermill parameters for `make execute`, e.g. PARAMS="-p epochs 1 -p train_limit 3000"
PARAMS ?=
# Where `make execute` writes executed notebooks: book/ itself at the documented settings,
# _build/executed/ when PARAMS are given (a quick pass never changes a committed file).
OUT ?=

# The Colab stage's own environment: Google Colab's package versions (requirements-colab.txt).
COLAB_VENV ?= .venv-colab
COLAB_PYTHON ?= $(COLAB_VENV)/bin/python

.PHONY: install backends browser ort data execute html book test colab lint format clean

SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	test -d $(VENV) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -r requirements.txt
	$(PYTHON) -m pip install --quiet --no-deps -e .
	$(PYTHON) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

data: install
	$(PYTHON) -m mnist_lessons data

# Re-executes every chapter with papermill (in the order of _toc.yml; the comparison reads the
# architecture chapters' results, so it runs after them; the introduction, which shows every
# chapter's run time, runs last). A run at the documented settings records the times in
# book/results/timings.json; a quick pass (PARAMS) records nothing.
execute: data
	$(PYTHON) tools/execute.py $(if $(OUT),--out $(OUT)) \
		$(if $(PARAMS),,--record book/results/timings.json) -- $(PARAMS)

# Builds the HTML from the committed, executed notebooks; any warning is an error.
html: install ort
	$(PYTHON) tools/check_notebooks.py book
	$(VENV)/bin/jupyter-book build . --warningiserror --nitpick --keep-going

book: execute html

# The test suite: unit tests of the library, the command line, every chapter under papermill
# with small parameters (on TensorFlow, JAX and PyTorch), nbval over the committed chapters, the
# strict HTML build and the browser. This is what CI runs (.ci/run).
test: install backends browser ort
	@$(MAKE) --no-print-directory colab
	$(PYTHON) -m pytest

# JAX and PyTorch's CPU build in .venv, for the tests that run the chapters on every backend
# (requirements-backends.txt). `make book` does not need them.
backends: $(VENV)/.backends-installed

$(VENV)/.backends-installed: requirements-backends.txt $(VENV)/.installed
	$(PYTHON) -m pip install --quiet -r requirements-backends.txt
	touch $@

# The Colab stage (part of `make test`): every chapter under papermill at small settings in
# .venv-colab, which holds Google Colab's TensorFlow, Keras, NumPy, matplotlib and scikit-learn
# (requirements-colab.txt; Colab's Python is 3.12/3.13, this one is whatever python3 is here,
# 3.11 in CI), beside PyPI's default PyTorch (a CUDA build with triton), on which it also runs
# three chapters with KERAS_BACKEND=torch. It runs in its own Jupyter kernel, mnist-colab, and
# never writes into book/.
colab: $(COLAB_VENV)/.installed
	$(COLAB_PYTHON) -m pytest tests/colab -o addopts="" -p no:nbval -p no:cacheprovider \
		--noconftest -ra --durations=0 --durations-min=1

$(COLAB_VENV)/.installed: requirements-colab.txt pyproject.toml
	test -d $(COLAB_VENV) || python3 -m venv $(COLAB_VENV)
	$(COLAB_PYTHON) -m pip install --quiet --upgrade pip
	$(COLAB_PYTHON) -m pip install --quiet -r requirements-colab.txt
	$(COLAB_PYTHON) -m pip install --quiet --no-deps -e .
	$(COLAB_PYTHON) -m ipykernel install --sys-prefix --name mnist-colab \
		--display-name "Python 3 (Colab versions)" >/dev/null
	touch $@

# ONNX Runtime Web for the "Draw a digit" page, from the pinned npm package (sha512-checked),
# into _build/onnxruntime-web, which the HTML build copies into its static files.
ort: install
	$(PYTHON) tools/fetch_onnxruntime.py

# Headless Chromium for the browser test of the built book (Debian's packages).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
		$(SUDO) apt-get update -qq && \
		$(SUDO) apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null; }

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check conftest.py mnist_lessons tests tools book

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format conftest.py mnist_lessons tests tools book

clean:
	rm -rf _build
