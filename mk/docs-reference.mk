# The reference pages of the manual, generated from the code (scripts/docs-reference.ts):
# docs/reference/cli.md (every --help), settings.md (flags, variables, defaults), errors.md
# (ERROR_CODES), metrics.md (each job's Prometheus series) and http-api.md (ingest's OpenAPI
# document). jobs/test/docs-reference.test.ts, a unit test, fails when one is out of date.

.PHONY: docs-reference

docs-reference: build ## Regenerate docs/reference/ from the code
	npx tsx scripts/docs-reference.ts --write
