"""Generators of committed files: reference seeds, the public-holiday seed, the raw GX suites,
and the generated parts of docs/. `make generate` rewrites them all; `make generate-check`
(and the test suite) fails when one is stale."""
