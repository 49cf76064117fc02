"""SWE-bench (Verified mini): the model writes a patch, real containers judge it.

Modules (the engine itself is evalpack.docker_engine): `specs` (per repo/version environments),
`images` (base / env / instance images, save/load, git bundles), `kit` (offline kits for
`evalpack pack`/`unpack`), `patch_extract` (diff out of a reply, `git apply --check`),
`harness` (run the tests with no network, parse per-test results), `agent` (agentic mode:
a shell tool in the container), `benchmark` (the evalpack Benchmark). See docs/swe_bench.md.
"""
