"""`evalpack pack | unpack | verify`. Imports stay inside the handlers (`--help` stays fast)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

PACK_EXAMPLES = """examples:
  evalpack pack --datasets mmlu ceval gsm8k --out evalpack-data.tar
  evalpack pack --datasets mmlu gpqa_diamond --mirror /data/verified-datasets --out kit.tar.gz
  evalpack pack --datasets ceval --local my_exam=/data/my_exam --out kit.tar   (your own general_mcq set)
  evalpack pack --datasets all --wheels --platform manylinux2014_aarch64 --python-version 3.10 --out kit.tar
  evalpack pack --wheels --platform manylinux2014_aarch64 --python-version 3.11 --out software.tar
  evalpack pack --datasets swe_bench_verified_mini --mirror /data/verified-datasets --with-images \
      --repo django/django=/src/django.git --repo sphinx-doc/sphinx=/src/sphinx.git --out swe-kit.tar
then, on the isolated machine (INSTALL.md in the kit says the same):
  mkdir kit && tar xf software.tar -C kit && sh kit/install.sh ~/evalpack-venv
  evalpack unpack kit.tar --to /data/evalpack && evalpack eval --dataset-dir /data/evalpack ...
"""


def register(subparsers) -> None:
    p = subparsers.add_parser("pack", help="download datasets (and wheels) into one verified archive",
                              description="On a connected machine: download every file of the named datasets "
                                          "from upstream (resumable, retried, sha256-checked) into one tar.",
                              epilog=PACK_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=[],
                   help="benchmark or dataset-dir names (`evalpack list`), or `all`; leave out with --wheels "
                        "for a software-only kit")
    p.add_argument("--out", default="evalpack-data.tar", help="archive to write (.tar, .tar.gz or .tar.xz)")
    p.add_argument("--hub-base", default=os.environ.get("EVALPACK_HUB_BASE"),
                   help="replace https://<hub host> of every upstream URL with this base, keeping the path "
                        "(a mirror with the hubs' URL scheme; default $EVALPACK_HUB_BASE)")
    p.add_argument("--mirror", default=os.environ.get("EVALPACK_MIRROR"),
                   help="a verified dataset dir (path or URL) for derived files, which have no upstream URL "
                        "(default $EVALPACK_MIRROR)")
    p.add_argument("--wheels", action="store_true", help="add a wheelhouse of evalpack and its dependencies")
    p.add_argument("--platform", action="append", default=[],
                   help="pip platform tag of the target, e.g. manylinux2014_aarch64 (repeatable; "
                        "default: this machine)")
    p.add_argument("--python-version", help="the target's Python, e.g. 3.10 (default: this one)")
    p.add_argument("--extras", default="", metavar="NAME[,NAME]",
                   help="evalpack extras whose dependencies go into the wheelhouse too, e.g. ifeval,parquet")
    p.add_argument("--with-images", action="store_true",
                   help="datasets with a kit hook (SWE-bench): build their container images (needs a Docker "
                        "engine) and add them (`docker save`, gzip) and git bundles of the repos to the kit")
    p.add_argument("--force-arch", choices=["x86_64", "arm64", "amd64", "aarch64"],
                   help="with --with-images: the images' architecture (default: the engine's); a foreign one "
                        "is built under qemu binfmt emulation")
    p.add_argument("--repo", action="append", default=[], metavar="OWNER/NAME=PATH",
                   help="datasets with a kit hook (SWE-bench): a local clone of a repository its instances use "
                        "(repeatable; needed for every repo with --with-images; alone it adds git bundles only)")
    p.add_argument("--local", action="append", default=[], metavar="NAME=DIR",
                   help="a folder of your own (general_mcq / general_qa files, docs/custom_datasets.md) packed as "
                        "<dataset-dir>/NAME with its checksums, which unpack, verify and eval check (repeatable)")
    p.add_argument("--retries", type=int, default=4, help="tries per file after the first (default 4)")
    p.set_defaults(func=cmd_pack)

    u = subparsers.add_parser("unpack", help="extract a kit into a dataset dir (its wheels into DIR/wheels), "
                                             "verifying each file")
    u.add_argument("archive")
    u.add_argument("--to", required=True, help="the dataset dir to fill (created if absent)")
    u.set_defaults(func=cmd_unpack)

    v = subparsers.add_parser("verify", help="re-check a dataset dir in place against the registry")
    v.add_argument("--dataset-dir", help="default $EVALPACK_DATA or ~/.cache/evalpack/datasets")
    v.add_argument("--datasets", nargs="+", help="check these (default: every registered dir present)")
    v.set_defaults(func=cmd_verify)


def names_to_manifests(names: list[str]):
    from evalpack.datasets.registry import manifests, resolve

    if names == ["all"]:
        return list(manifests().values())
    return resolve(names)


def cmd_pack(ns: argparse.Namespace) -> int:
    from evalpack.datasets.pack import pack

    from evalpack.errors import UsageError

    if not ns.datasets and not ns.wheels and not ns.local:
        raise UsageError("nothing to pack: name --datasets (see `evalpack list`), --local NAME=DIR, add --wheels, "
                         "or several")
    local = {}
    for item in ns.local:
        name, _, folder = item.partition("=")
        if not name or not folder:
            raise UsageError(f"--local takes NAME=DIR, e.g. --local my_exam=/data/my_exam, got {item!r}")
        if name in local:
            raise UsageError(f"--local {name} is given twice")
        local[name] = Path(folder).expanduser()
    wanted = names_to_manifests(ns.datasets) if ns.datasets else []
    extras = [e.strip() for e in ns.extras.split(",") if e.strip()]
    wheels = ({"platforms": ns.platform, "python_version": ns.python_version, "extras": extras}
              if ns.wheels else None)
    if not ns.wheels and (ns.platform or ns.python_version or extras):
        raise UsageError("--platform, --python-version and --extras describe the wheelhouse: add --wheels")
    repos = kit_options(ns, wanted)
    pack(wanted, Path(ns.out), hub_base=ns.hub_base, mirror=ns.mirror, wheels=wheels, repos=repos,
         with_images=ns.with_images, image_arch=ns.force_arch, retries=ns.retries, local=local)
    return 0


def kit_options(ns: argparse.Namespace, wanted) -> dict[str, Path]:
    """--with-images / --repo, for datasets whose manifest names a kit hook: checked before
    anything is downloaded."""
    from evalpack.datasets.pack import kit_hook
    from evalpack.datasets.registry import manifests
    from evalpack.errors import UsageError

    if ns.force_arch and not ns.with_images:
        raise UsageError("--force-arch picks the architecture of the images --with-images builds: add --with-images")
    if not (ns.with_images or ns.repo):
        return {}
    flag = "--with-images" if ns.with_images else "--repo"
    kits = [m for m in wanted if m.kit]
    if not kits:
        having = sorted(b for m in manifests().values() if m.kit for b in m.benchmarks)
        raise UsageError(f"{flag} only applies to {' and '.join(having)} (datasets with a kit hook), not "
                         f"among --datasets {' '.join(ns.datasets)}; add it or drop {flag}")
    if any("=" not in item or not item.split("=", 1)[1] for item in ns.repo):
        raise UsageError("--repo takes OWNER/NAME=PATH, e.g. --repo django/django=/src/django")
    repos = {name: Path(path).expanduser() for name, path in (item.split("=", 1) for item in ns.repo)}
    for name, path in repos.items():
        if not path.exists():
            raise UsageError(f"--repo {name}={path}: no such clone")
    for m in kits:
        kit_hook(m).check_options(repos, bool(ns.with_images), ns.force_arch)
    return repos


def cmd_unpack(ns: argparse.Namespace) -> int:
    from evalpack.datasets.pack import unpack

    to = Path(ns.to).expanduser()
    result = unpack(Path(ns.archive), to)
    names = [m["name"] for m in result["manifest"]["datasets"]] or ["no datasets"]
    for line in result["problems"]:
        print(line)
    if result["problems"]:
        print(f"evalpack: {len(result['problems'])} files of the kit failed verification and were not "
              f"written; get a fresh copy of {ns.archive}", file=sys.stderr)
        return 1
    print(f"unpacked {', '.join(names)} into {to}: {result['written']} files written, "
          f"{result['skipped']} already there and verified")
    from evalpack.datasets.pack import kit_hook
    from evalpack.datasets.registry import find_manifest

    for m in result["manifest"]["datasets"]:
        ours = find_manifest(m["name"])  # our registry's hook, never a module the archive names
        if ours and ours.kit and m.get("packed"):
            kit_hook(ours).after_unpack(to / m["name"], m["packed"])
    spec = result["manifest"].get("wheels")
    if spec:
        from evalpack.datasets.software_kit import WHEELS_DIR, requirement

        print(f"{result['wheels']} wheels verified into {to / WHEELS_DIR}; install them with "
              f"`pip install --no-index --find-links {to / WHEELS_DIR} '{requirement(spec.get('extras') or [])}'`")
    return 0


def cmd_verify(ns: argparse.Namespace) -> int:
    from evalpack.config import default_dataset_dir
    from evalpack.datasets.registry import manifests
    from evalpack.datasets.verify import check_files, local_sets, verify_dir
    from evalpack.errors import UsageError

    data_dir = Path(ns.dataset_dir).expanduser() if ns.dataset_dir else default_dataset_dir()
    if not data_dir.is_dir():
        raise UsageError(f"dataset dir {data_dir} does not exist; pass --dataset-dir")
    own = local_sets(data_dir)  # users' own sets unpacked from a kit (pack --local): their kit's hashes
    if ns.datasets:
        rest = [n for n in ns.datasets if n not in own]
        wanted = names_to_manifests(rest) if rest else []
        own = {n: files for n, files in own.items() if n in ns.datasets}
    else:
        wanted = [m for m in manifests().values() if (data_dir / m.name).is_dir()]
        if not wanted and not own:
            raise UsageError(f"{data_dir} holds no registered dataset dir (expected e.g. {data_dir}/mmlu); "
                             f"pass the right --dataset-dir")
    checks = {**verify_dir(data_dir, wanted), **{n: check_files(data_dir / n, files) for n, files in own.items()}}
    failed = 0
    for name, check in checks.items():
        for p in check.problems:
            print(p.line(prefix=f"{name}/"))
        bad = len(check.failed)
        failed += bad
        optional = len(check.problems) - bad
        state = "ok" if not check.problems else (f"{bad} problems" if bad else f"ok ({optional} optional missing)")
        print(f"{name}: {check.checked} files checked, {state}")
    if failed:
        print(f"evalpack: {failed} files missing or corrupt in {data_dir}", file=sys.stderr)
        return 1
    return 0
