# The two commands of the README. Both create the virtual environment on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.fer-installed
export FER_CACHE ?= $(CURDIR)/.fer_cache

.PHONY: book test clean

## Execute every chapter (profile `small`, synthetic data) and build the HTML book.
book: $(STAMP)
	$(PY) -m fer_core book --profile $(or $(PROFILE),small)

## Unit tests + every chapter executed under nbval in the `smoke` profile, with an empty results
## cache of its own (so CI always runs the training code, never results an earlier run left).
## Then the smoke book is built from that cache (its own build folder) and read in headless
## Chromium (tests/test_browser.py; skips, saying why, where no browser is installed).
NBVAL_CACHE := $(CURDIR)/_build/nbval-cache
BROWSER_BUILD := $(CURDIR)/_build/browser
test: $(STAMP)
	$(PY) -m fer_core convert --out _build/nbval
	rm -rf $(NBVAL_CACHE) $(BROWSER_BUILD)
	FER_CACHE=$(NBVAL_CACHE) FER_PROFILE=smoke FER_PROGRESS=summary \
		$(PY) -m pytest tests _build/nbval --nbval-lax -q --ignore=tests/test_browser.py
	FER_CACHE=$(NBVAL_CACHE) $(PY) -m fer_core book --profile smoke --build-dir $(BROWSER_BUILD)
	FER_BOOK_HTML=$(BROWSER_BUILD)/html $(PY) -m pytest tests/test_browser.py -q

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[book,test]"
	touch $@

clean:
	rm -rf _build .fer_cache
