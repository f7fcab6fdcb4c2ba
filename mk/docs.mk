# The manual: docs/ built with MkDocs and the Material theme (pinned in requirements-dev.txt).
#   make docs        serves it with live reload on http://127.0.0.1:$(DOCS_PORT)
#   make test-docs   `mkdocs build --strict` into out/site (part of make test): a broken link or
#                    anchor, a page missing from the nav or a nav entry without a page fails.
# The pages under docs/reference/ are generated from the code (make docs-reference); a unit test
# fails when one is out of date.
#   make docs-images the screenshots in docs/images/, retaken by the browser tests (test-airflow-ui
#                    and test-prometheus-ui with UPDATE_DOCS=1)

DOCS_PORT ?= 8000
MKDOCS := NO_MKDOCS_2_WARNING=1 $(PY_VENV)/bin/mkdocs

.PHONY: docs test-docs docs-images

# $(call docs_images,<artifacts dir>,<files>): a browser test's screenshots become the manual's
# (docs/images/) when the test runs with UPDATE_DOCS=1.
docs_images = if [[ "$(UPDATE_DOCS)" == 1 ]]; then mkdir -p docs/images && for image in $(2); do \
  cp $(1)/$$image docs/images/$$image && echo "docs/images/$$image updated"; done; fi

docs: py-deps ## Serve the manual (docs/) on 127.0.0.1:8000 with live reload (DOCS_PORT moves it)
	$(MKDOCS) serve --dev-addr 127.0.0.1:$(DOCS_PORT)

test-docs: py-deps ## Build the manual with mkdocs build --strict into out/site
	$(MKDOCS) build --strict --quiet
	@echo "test-docs: the manual builds with no warning ($$(find out/site -name index.html | wc -l) pages in out/site)"

EXTRA_TESTS += test-docs

docs-images: ## Retake the manual's screenshots through the browser tests
	$(MAKE) --no-print-directory test-airflow-ui UPDATE_DOCS=1
	$(MAKE) --no-print-directory test-prometheus-ui UPDATE_DOCS=1
