# thermocc make targets. Each prints what it runs; DRY_RUN=1 only prints.
PYTHON ?= python3
RUN = $(if $(DRY_RUN),@echo,)

.PHONY: install test demo bench-driver

install:
	$(RUN) $(PYTHON) -m pip install -e '.[test]'

test:
	$(RUN) $(PYTHON) -m pytest -q

demo:
	$(RUN) thermocc demo

bench-driver:
	$(RUN) $(PYTHON) benchmarks/bench_driver.py
