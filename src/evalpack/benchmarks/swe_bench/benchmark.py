"""SWE-bench Verified mini (50 instances: 25 django, 25 sphinx), evaluated in real containers.

Prompt ("oracle" retrieval, as SWE-bench's oracle setting): the issue text plus the full
content, at base_commit, of the files the gold patch touches (line-numbered). The model
answers with a unified diff. Score: the diff is extracted and checked with git, then
applied in the instance's container (repo at base_commit, no network); the test_patch is
applied and the instance is resolved iff every FAIL_TO_PASS and PASS_TO_PASS test passes.
Instances whose tests need the internet are reported as `needs_network` and kept out of
the resolved rate (listed apart), never scored silently.
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import asdict
from pathlib import Path

from evalpack.benchmarks.base import Benchmark, Result, Sample, Score
from evalpack.benchmarks.swe_bench import agent, harness, images
from evalpack.benchmarks.swe_bench.patch_extract import check_patch, extract_diff
from evalpack.benchmarks.swe_bench.specs import Spec, files_in_patch, load_extra_specs, spec_for
from evalpack.errors import DataMissingError
from evalpack.jsonl import read_jsonl
from evalpack.metrics import accuracy_report

PROMPT = """\
Below is an issue reported on the GitHub repository {repo}, followed by the current content of \
the source files that are relevant to it. Line numbers are shown for reference only; they are \
not part of the files.

<issue>
{issue}
</issue>

<code>
{code}
</code>

Resolve the issue by changing the code. Answer with one patch in unified diff format that \
`git apply` accepts, with paths relative to the repository root and a/ b/ prefixes, inside a \
```diff block. For example:

```diff
diff --git a/src/module.py b/src/module.py
--- a/src/module.py
+++ b/src/module.py
@@ -12,7 +12,7 @@ def area(radius):
     if radius < 0:
         raise ValueError("negative radius")
-    return 3.14 * radius * radius
+    return math.pi * radius ** 2
```
"""

_BUILD_LOCK = threading.Lock()  # one image build at a time (env images are shared by instances)
_RUN_SLOTS: dict[int, threading.Semaphore] = {}


def _slots(n: int) -> threading.Semaphore:
    return _RUN_SLOTS.setdefault(n, threading.Semaphore(n))


def numbered(text: str) -> str:
    return "\n".join(f"{i} {line}" for i, line in enumerate(text.split("\n"), 1))


def find_repo_source(repo: str, root: Path, repos_arg) -> Path | None:
    """Where the git history of `repo` lives: extra_params.repos ({repo: path} or a folder),
    else <dataset>/repos/. In a folder: <owner>__<name>.bundle, .git or a checkout."""
    if isinstance(repos_arg, dict):
        return Path(repos_arg[repo]).expanduser() if repo in repos_arg else None
    folders = [Path(repos_arg).expanduser()] if repos_arg else []
    folders.append(root / "repos")
    stem = repo.replace("/", "__")
    for folder in folders:
        for candidate in (folder / f"{stem}.bundle", folder / f"{stem}.git", folder / stem):
            if candidate.exists():
                return candidate
    return None


class SWEBenchVerifiedMini(Benchmark):
    name = "swe_bench_verified_mini"  # metadata and args (extra_params): registry.py
    scoring_phase = "containers"  # the progress line, while test containers run

    # --- data ---------------------------------------------------------------------
    def read_instances(self, root: Path) -> list[dict]:
        path = root / "test.jsonl"
        if not path.is_file():
            raise DataMissingError(f"{self.name}: {path} not found (the dataset's test.jsonl)")
        return read_jsonl(path)

    # Scoring needs a Docker engine: say so at plan time, before any request is sent.
    check_engine = True

    def load(self, data_dir: Path, args: dict) -> list[Sample]:
        root = self.root(data_dir, args)
        extra = args["extra_params"]
        if self.check_engine:
            images.resolve_arch(extra.get("force_arch"))  # raises DockerUnavailable with the fix
        specs = load_extra_specs(root / "specs.json") if (root / "specs.json").is_file() else {}
        wanted_repos = set(args.get("subset_list") or [])
        wanted_ids = set(extra.get("instance_ids") or [])
        samples, git_dirs = [], {}
        kit = root / "images"  # a packed kit's images; each sample names it (solve and score read it there)
        kit_images = str(kit) if (kit / "images.json").is_file() else None
        for inst in self.read_instances(root):
            if wanted_repos and inst["repo"] not in wanted_repos:
                continue
            if wanted_ids and inst["instance_id"] not in wanted_ids:
                continue
            repo = inst["repo"]
            if repo not in git_dirs:
                source = find_repo_source(repo, root, extra.get("repos"))
                if source is None:
                    raise DataMissingError(
                        f"{self.name}: no git history of {repo} (looked in extra_params.repos and "
                        f"{root / 'repos'}); on a connected machine run `evalpack pack --datasets "
                        f"{self.name} --with-images`, or pass a clone via --dataset-args "
                        f"'{{\"{self.name}\": {{\"extra_params\": {{\"repos\": {{\"{repo}\": \"PATH\"}}}}}}}}'")
                git_dirs[repo] = images.open_repo(source)
            spec = spec_for(repo, inst["version"], specs)
            sample = self.make_sample(inst, spec, git_dirs[repo], kit_images)
            if extra.get("mode") == "agentic":
                sample.messages = agent.first_messages(repo, inst["problem_statement"])
            samples.append(sample)
        if self.check_engine and not extra.get("build_docker_images"):
            self.check_images(samples, images.resolve_arch(extra.get("force_arch")), data_dir, kit_images)
        return samples

    def check_images(self, samples: list[Sample], arch: str, data_dir: Path, kit_images: str | None) -> None:
        """Every instance image is in the local engine or the kit, or the run stops before any request."""
        from evalpack.docker_engine import local_tags

        present = local_tags()
        if kit_images:
            manifest = json.loads((Path(kit_images) / "images.json").read_text(encoding="utf-8"))
            present |= {t for entry in manifest.get("archives") or [] for t in entry.get("tags") or []}
        missing = []
        for sample in samples:
            meta = sample.metadata
            spec = Spec(**{k: tuple(v) if isinstance(v, list) else v for k, v in meta["spec"].items()})
            tag = images.instance_tag(meta, spec, arch)
            if tag not in present:
                missing.append(tag)
        if missing:
            example = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
            raise DataMissingError(
                f"{self.name}: {len(missing)} container image{'s are' if len(missing) > 1 else ' is'} neither in the "
                f"local Docker engine nor in the kit ({example}); evalpack does not build or pull at eval time: "
                f"on a connected machine run `evalpack pack --datasets {self.name} --with-images --out swe-kit.tar` "
                f"(add --repo OWNER/NAME=PATH per repository), then here `evalpack unpack swe-kit.tar --to "
                f"{data_dir}`; or, on a connected machine, allow building with --dataset-args "
                f"'{{\"{self.name}\": {{\"extra_params\": {{\"build_docker_images\": true}}}}}}'")

    def make_sample(self, inst: dict, spec: Spec, git_dir: Path, kit_images: str | None = None) -> Sample:
        sha = inst["base_commit"]
        if not images.has_commit(git_dir, sha):
            raise DataMissingError(f"{self.name}: {git_dir} lacks base commit {sha} of {inst['instance_id']}")
        blocks = []
        for path in files_in_patch(inst["patch"]):
            text = images.read_file_at(git_dir, sha, path)
            if text is not None:  # files the gold patch creates do not exist yet
                blocks.append(f"[start of {path}]\n{numbered(text)}\n[end of {path}]")
        content = PROMPT.format(repo=inst["repo"], issue=inst["problem_statement"].strip(),
                                code="\n".join(blocks))
        keep = ("instance_id", "repo", "version", "base_commit", "test_patch", "FAIL_TO_PASS", "PASS_TO_PASS")
        return Sample(id=inst["instance_id"], subset=inst["repo"], target=inst["patch"],
                      messages=[{"role": "user", "content": content}],
                      metadata={**{k: inst[k] for k in keep}, "spec": asdict(spec),
                                "git_dir": str(git_dir), "kit_images": kit_images})

    # --- model --------------------------------------------------------------------
    async def solve(self, sample: Sample, ctx) -> dict:
        extra = ctx.args["extra_params"]
        if extra.get("mode") == "agentic":
            meta = sample.metadata
            spec = Spec(**{k: tuple(v) if isinstance(v, list) else v for k, v in meta["spec"].items()})
            arch = images.resolve_arch(extra.get("force_arch"))
            git_dir = Path(meta["git_dir"]) if meta.get("git_dir") else None
            image = await asyncio.to_thread(self.instance_image, meta, spec, arch, git_dir,
                                            bool(extra.get("build_docker_images")))
            return await agent.run_agent(sample.messages or [], ctx, image, arch,
                                         max_steps=int(extra.get("max_steps") or 30),
                                         step_timeout=float(extra.get("step_timeout") or 180))
        reply = await ctx.chat(sample.messages or [])
        return {"content": reply.content, "reasoning": reply.reasoning, "finish_reason": reply.finish_reason}

    # --- scoring ------------------------------------------------------------------
    async def score(self, sample: Sample, output: dict, args: dict) -> Score:
        return await asyncio.to_thread(self.score_blocking, sample, output, args)

    def score_blocking(self, sample: Sample, output: dict, args: dict) -> Score:
        meta, extra = sample.metadata, args["extra_params"]
        patch = output.get("patch") if output.get("patch") is not None else extract_diff(output.get("content"), args.get("reasoning_tags"))
        git_dir = Path(meta["git_dir"]) if meta.get("git_dir") and Path(meta["git_dir"]).exists() else None
        check = check_patch(patch, git_dir, meta["base_commit"]) if patch else check_patch("")
        detail = {"harness": "evalpack", "git_apply_check": check.applies, "patch_files": list(check.files)}
        if not check.ok:
            reason = check.reason
            if output.get("patch") is not None and not patch:
                reason = "the agent changed nothing in /testbed"
            detail.update(status="patch_malformed", reason=reason)
            return Score(0.0, extracted=patch, detail=detail, unparsed=not patch)
        if check.applies is False:
            detail["check_reason"] = check.reason  # the container still tries `patch --fuzz=5`
        spec = Spec(**{k: tuple(v) if isinstance(v, list) else v for k, v in meta["spec"].items()})
        arch = images.resolve_arch(extra.get("force_arch"))
        detail["images"] = {"base": images.base_tag(arch),
                            "env": images.env_tag(meta["repo"], meta["version"], spec, arch),
                            "instance": images.instance_tag(meta, spec, arch)}
        tag = self.instance_image(meta, spec, arch, git_dir, bool(extra.get("build_docker_images")))
        with _slots(max(1, int(extra.get("max_workers") or 1))):
            result = harness.evaluate(meta, patch, spec, tag, arch=arch, timeout=int(extra.get("timeout") or 1800))
        detail.update(result)
        return Score(1.0 if result["resolved"] else 0.0, extracted=patch, detail=detail)

    def instance_image(self, meta: dict, spec: Spec, arch: str, git_dir: Path | None, build: bool) -> str:
        tag = images.instance_tag(meta, spec, arch)
        if images.image_exists(tag):
            return tag
        if meta.get("kit_images") and Path(meta["kit_images"]).is_dir():
            with _BUILD_LOCK:  # a packed kit not unpacked yet: load it once, never pull
                if not images.image_exists(tag):
                    images.load_images(Path(meta["kit_images"]))
            if images.image_exists(tag):
                return tag
        if not build:
            raise DataMissingError(
                f"image {tag} is not loaded; run `evalpack unpack` on the kit packed with `evalpack pack "
                f"--datasets {self.name} --with-images`, or allow extra_params.build_docker_images")
        if git_dir is None:
            raise DataMissingError(f"cannot build {tag}: the repository of {meta['repo']} is not available")
        with _BUILD_LOCK:
            return images.build_instance(meta, spec, arch, git_dir)

    def aggregate(self, results: list[Result], args: dict) -> dict:
        statuses: dict[str, list[str]] = {}
        for r in results:
            statuses.setdefault(r.detail.get("status", "unknown"), []).append(r.sample_id)
        scorable = [r for r in results if r.detail.get("status") != "needs_network"]
        report = accuracy_report(scorable, metric=self.metric)
        report["statuses"] = {k: len(v) for k, v in sorted(statuses.items())}
        report["needs_network"] = sorted(statuses.get("needs_network", []))
        report["harness"] = sorted({r.detail.get("harness", "evalpack") for r in results})
        used = [r.detail["images"] for r in results if r.detail.get("images")]
        report["images"] = {kind: sorted({u[kind] for u in used}) for kind in ("base", "env", "instance")}
        return report

