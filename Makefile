# thermocc make targets. Each prints what it runs; DRY_RUN=1 only prints.
#   make flash     BOARD=esp32-wroom PORT=/dev/ttyUSB0 FIRMWARE=ESP32_GENERIC-v1.27.0.bin
#   make deploy    BOARD=esp32-wroom PORT=/dev/ttyUSB0 NODE=node-a [SITE=site.json]
#   make image     BOARD=esp32-wroom NODE=node-a FIRMWARE=... [SITE=site.json]
#   make pull-logs PORT=/dev/ttyUSB0 [NODE=node-a] [LOGS=logs]
#   make monitor   PORT=/dev/ttyUSB0
PYTHON ?= python3
SITE ?= site.json
BUILD ?= build
LOGS ?= logs
RUN = $(if $(DRY_RUN),@echo would run:,)
DRY = $(if $(DRY_RUN),--dry-run,)
FIELD = $(PYTHON) -m thermocc_tools.deploy

.PHONY: install test demo bench-driver flash deploy image pull-logs monitor node-config

install:
	$(RUN) $(PYTHON) -m pip install -e '.[test]'

test:
	$(RUN) $(PYTHON) -m pytest -q

demo:
	$(RUN) thermocc demo

bench-driver:
	$(RUN) $(PYTHON) benchmarks/bench_driver.py

flash:
	$(FIELD) flash --board "$(BOARD)" --port "$(PORT)" --firmware "$(FIRMWARE)" $(DRY)

deploy:
	$(FIELD) deploy --board "$(BOARD)" --port "$(PORT)" --node "$(NODE)" --site "$(SITE)" --build "$(BUILD)" $(DRY)

image:
	$(FIELD) image --board "$(BOARD)" --node "$(NODE)" --firmware "$(FIRMWARE)" --site "$(SITE)" --build "$(BUILD)" $(DRY)

pull-logs:
	$(PYTHON) -m thermocc_tools.pull --port "$(PORT)" $(if $(NODE),--node "$(NODE)",) --out "$(LOGS)" $(DRY)

node-config:
	$(FIELD) node-config --site "$(SITE)" --out "$(BUILD)/nodes" $(if $(NODE),--node "$(NODE)",)

monitor:
	$(FIELD) monitor --port "$(PORT)" $(DRY)
