# Deep Learning from Scratch and with TensorFlow — the two commands are
# `make book` and `make test`; both set up .venv on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SOURCE ?= solutions
export TF_CPP_MIN_LOG_LEVEL ?= 2
# small matrices, shared cores: one BLAS thread avoids threads waiting on each other
export OPENBLAS_NUM_THREADS ?= 1

.PHONY: help setup book test lab exercises grade bench lint clean distclean slides book-check notebook-setup set-repository

help:
	@echo "make book        build the HTML book into book/_build/html (runs the chapters)"
	@echo "make slides      reveal.js slides of every chapter into book/_build/slides (builds the book first)"
	@echo "make book-check  open the built book and slides in headless Chromium and check every page"
	@echo "make test        run every test, the notebooks included"
	@echo "make lab         JupyterLab on chapters/ with this project's kernel"
	@echo "make exercises   regenerate exercises/ from solutions/ (nbgrader)"
	@echo "make grade SUBMISSIONS=dir [SOURCE=solutions] [JOBS=n] [TIMEOUT=s]   autograde dir/<student>/<NN_topic>.ipynb"
	@echo "make bench       run the benchmarks in bench/"
	@echo "make clean       remove build outputs (keeps .venv); distclean removes .venv too"
	@echo "make notebook-setup NB=chapters/NN_topic.ipynb   add the Colab cell and slide metadata (book/CONVENTIONS.md)"
	@echo "make set-repository URL=https://github.com/owner/repo   the repository's public URL, for the launch links"

# The environment: created on first use, redone only when the package list changes.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[all]'
	touch $(STAMP)

setup: $(STAMP)

book: $(STAMP)
	LABCODE_WIDGETS=0 $(BIN)/jupyter-book build book --all --warningiserror --nitpick --keep-going

test: $(STAMP)
	$(BIN)/python -m pytest

# Slides for instructors: one reveal.js deck per chapter of book/_toc.yml, with the
# outputs of the book's execution (so the book is built first; cached, it takes seconds),
# self-contained (reveal.js and MathJax are copied beside them; nothing from a CDN).
slides: book
	$(BIN)/python book/booktools.py slides

# The built book and slides in a real (headless) browser: tests/test_book_browser.py on
# book/_build, figures included; screenshots go to book/_build/screenshots.
book-check: $(STAMP)
	@test -f book/_build/html/index.html || $(MAKE) book
	@test -f book/_build/slides/index.html || $(MAKE) slides
	BOOK_HTML=book/_build/html $(BIN)/python -m pytest -o addopts="" -p no:cacheprovider -q tests/test_book_browser.py

notebook-setup: $(STAMP)
	@test -n "$(NB)" || { echo "usage: make notebook-setup NB=chapters/NN_topic.ipynb"; exit 2; }
	$(BIN)/python book/booktools.py prepare $(NB)

set-repository: $(STAMP)
	@test -n "$(URL)" || { echo "usage: make set-repository URL=https://github.com/owner/repo"; exit 2; }
	$(BIN)/python book/booktools.py set-repository "$(URL)"

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=chapters $(if $(filter 0,$(shell id -u)),--allow-root)

exercises: $(STAMP)
	$(BIN)/python -m labcode.grading release --source solutions --release exercises

grade: $(STAMP)
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=dir [SOURCE=solutions] [JOBS=n] [TIMEOUT=s]"; exit 2; }
	$(BIN)/python -m labcode.grading grade "$(SUBMISSIONS)" --source "$(SOURCE)" $(if $(JOBS),--jobs $(JOBS)) $(if $(TIMEOUT),--timeout $(TIMEOUT))

bench: $(STAMP)
	@failed=""; for f in bench/bench_*.py; do echo "== $$f"; $(BIN)/python "$$f" || failed="$$failed $$f"; done; \
	if [ -n "$$failed" ]; then echo "targets missed by:$$failed"; exit 1; fi

lint: $(STAMP)
	$(BIN)/ruff check labcode tests bench book
	$(BIN)/nbqa ruff chapters solutions

clean:
	rm -rf book/_build .pytest_cache .ruff_cache build *.egg-info
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
