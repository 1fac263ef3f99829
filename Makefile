# The book and its library. `make book` is the main job: install, execute, build.
VENV ?= .venv
PYTHON ?= $(VENV)/bin/python
# Extra papermill parameters for `make execute`, e.g. PARAMS="-p epochs 1 -p train_limit 3000"
PARAMS ?=
# Where `make execute` writes executed notebooks; in place by default.
OUT ?= book

.PHONY: install browser data execute html book test lint format clean

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
# architecture chapters' results, so it runs after them).
execute: data
	$(PYTHON) tools/execute.py --out $(OUT) -- $(PARAMS)

# Builds the HTML from the committed, executed notebooks; any warning is an error.
html: install
	$(PYTHON) tools/check_notebooks.py book
	$(VENV)/bin/jupyter-book build . --warningiserror --nitpick --keep-going

book: execute html

# The test suite: unit tests of the library, the command line, and every chapter under
# papermill with small parameters. This is what CI runs (.ci/run).
test: install browser
	$(PYTHON) -m pytest

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
