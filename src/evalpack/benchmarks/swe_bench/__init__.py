"""SWE-bench (Verified mini): the model writes a patch, real containers judge it.

Modules: `docker_engine` (find the engine), `specs` (per repo/version environments),
`images` (base / env / instance images, save/load for offline kits, git bundles),
`patch_extract` (diff out of a reply, `git apply --check`), `harness` (run the tests
with no network, parse per-test results), `benchmark` (the evalpack Benchmark).
"""
