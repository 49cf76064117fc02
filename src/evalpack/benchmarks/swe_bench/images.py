"""Images for SWE-bench, built offline-first without Docker Hub.

Three layers, each a tag the report names:
  base      evalpack/swe-base:bookworm-<arch>       debootstrap (minbase) from the apt mirror + `docker import`
  env       evalpack/swe-env:<repo>-<version>-<arch>-<spec hash>   the repo's Python + pinned packages
  instance  evalpack/swe-inst.<arch>.<instance_id>:<hash>          /testbed = repo at base_commit, installed

Only the env build may use the network (pip, on a connected machine); the instance build
and every evaluation run with `--network none`. `save_images`/`load_images` move the
images into and out of an offline kit; `make_git_bundles` stores the repos at the needed
commits so the oracle prompts (and image rebuilds) need no network either.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from evalpack.docker_engine import docker, docker_cli, image_exists, native_arch
from evalpack.benchmarks.swe_bench.specs import Spec
from evalpack.errors import EvalpackError, UsageError

ARCHES = {"x86_64": ("amd64", "linux/amd64"), "arm64": ("arm64", "linux/arm64")}  # ours -> (debian, docker)
BASE_PACKAGES = (
    "git", "patch", "ca-certificates", "locales", "procps", "python3", "python3-pytest", "python3-venv",
    # shared libraries a pyenv-built CPython links against
    "libssl3", "libffi8", "libsqlite3-0", "libbz2-1.0", "liblzma5", "libreadline8", "libncursesw6",
    "libgdbm6", "libuuid1", "zlib1g",
)
PIP_FOR = {"3.6": "21.3.1", "3.7": "24.0"}  # the last pip release supporting that Python
HOST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
CACHE = Path(os.environ.get("EVALPACK_CACHE", Path.home() / ".cache" / "evalpack")) / "swe_bench"


def sha256_of(path: Path) -> str:
    """For the kit manifest: `evalpack unpack` verifies every file it extracts."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def log(msg: str) -> None:
    print(f"[swe_bench] {msg}", file=sys.stderr, flush=True)


def resolve_arch(force_arch: str | None) -> str:
    if not force_arch:
        return native_arch()
    arch = {"amd64": "x86_64", "aarch64": "arm64"}.get(force_arch, force_arch)
    if arch not in ARCHES:
        raise UsageError(f"extra_params.force_arch={force_arch!r} is not supported; use x86_64 or arm64")
    return arch


def platform(arch: str) -> str:
    return ARCHES[arch][1]


QEMU_NAMES = {"x86_64": "qemu-x86_64", "arm64": "qemu-aarch64"}


def emulation_enabled(arch: str) -> bool:
    """Foreign binaries of `arch` run here, in chroots and containers too: a qemu binfmt_misc entry
    that is enabled and has the F flag (the interpreter is opened at registration, so it works
    inside a container's root)."""
    entry = Path("/proc/sys/fs/binfmt_misc") / QEMU_NAMES[arch]
    try:
        text = entry.read_text()
    except OSError:
        return False
    flags = next((line.split(":", 1)[1] for line in text.splitlines() if line.startswith("flags:")), "")
    return text.startswith("enabled") and "F" in flags


def check_buildable(arch: str) -> None:
    """Images of `arch` can be built here: the engine's own, or a foreign one under emulation."""
    if arch != native_arch() and not emulation_enabled(arch):
        raise UsageError(f"building {arch} images on a {native_arch()} engine needs qemu binfmt "
                         f"support (`apt-get install qemu-user-static binfmt-support`, then "
                         f"`update-binfmts --enable {QEMU_NAMES[arch]}`; .ci/setup-arm64.sh does both), or "
                         f"build them on an {arch} machine and `docker save` them")


# --- tags -------------------------------------------------------------------------

def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-.")


def base_tag(arch: str) -> str:
    return f"evalpack/swe-base:bookworm-{arch}"


def env_tag(repo: str, version: str, spec: Spec, arch: str) -> str:
    """Per repo and environment content (not per version: sphinx 3.1-4.3 share one image)."""
    return f"evalpack/swe-env:{_slug(repo.replace('/', '__'))}-py{_slug(spec.python)}-{arch}-{spec.env_key()}"


def instance_tag(instance: dict, spec: Spec, arch: str) -> str:
    digest = hashlib.sha256(f"{spec.key()}:{instance['base_commit']}".encode()).hexdigest()[:10]
    return f"evalpack/swe-inst.{arch}.{_slug(instance['instance_id'])}:{digest}"


# --- base image -------------------------------------------------------------------

def apt_mirror() -> str:
    """The Debian mirror this machine's apt uses (the base image comes from it)."""
    for path in [Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list")]:
        if path.is_file():
            text = path.read_text()
            m = re.search(r"^URIs:\s*(\S+/debian)\s*$", text, re.M) or \
                re.search(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+/debian)\s+", text, re.M)
            if m:
                return m.group(1)
    return "http://deb.debian.org/debian"


def build_base(arch: str | None = None, mirror: str | None = None, force: bool = False) -> str:
    arch = resolve_arch(arch)
    tag = base_tag(arch)
    if image_exists(tag) and not force:
        set_architecture(tag, arch)  # a base imported before that fix: one inspect when it is right
        return tag
    check_buildable(arch)
    if not shutil.which("debootstrap"):
        raise UsageError("building the base image needs debootstrap: `apt-get install debootstrap`")
    mirror = mirror or apt_mirror()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="evalpack-rootfs-") as tmp:
        root = Path(tmp) / "root"
        log(f"debootstrap bookworm ({ARCHES[arch][0]}) from {mirror}")
        proc = subprocess.run(
            ["debootstrap", "--variant=minbase", f"--arch={ARCHES[arch][0]}",
             f"--include={','.join(BASE_PACKAGES)}", "bookworm", str(root), mirror],
            capture_output=True, text=True)
        if proc.returncode != 0:
            raise EvalpackError(f"debootstrap failed: {(proc.stdout + proc.stderr)[-2000:]}")
        (root / "etc/locale.gen").write_text("en_US.UTF-8 UTF-8\n")
        subprocess.run(["chroot", str(root), "locale-gen"], check=True, capture_output=True)
        for junk in ["var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man"]:
            shutil.rmtree(root / junk, ignore_errors=True)
            (root / junk).mkdir(parents=True, exist_ok=True)
        tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        imp = subprocess.run([docker_cli(), "import", "--platform", platform(arch),
                              "--change", "ENV LANG=C.UTF-8", "--change", 'CMD ["bash"]', "-", tag],
                             stdin=tar.stdout, capture_output=True, text=True)
        tar.wait()
        if imp.returncode != 0:
            raise EvalpackError(f"docker import failed: {imp.stderr.strip()}")
    set_architecture(tag, arch)
    log(f"built {tag} in {time.monotonic() - started:.0f}s")
    return tag


def set_architecture(tag: str, arch: str) -> None:
    """Give an imported image the architecture of its content. A daemon without experimental
    features ignores `docker import --platform` and records its own, so a foreign (emulated) base
    would be refused by `docker run --platform`: rewrite the config of a `docker save` and load it."""
    import tarfile

    want = ARCHES[arch][0]
    if docker("image", "inspect", "--format", "{{.Architecture}}", tag).stdout.strip() == want:
        return
    with tempfile.TemporaryDirectory(prefix="evalpack-arch-") as tmp:
        saved, fixed = Path(tmp) / "saved.tar", Path(tmp) / "fixed.tar"
        docker("save", "-o", str(saved), tag, timeout=3600)
        with tarfile.open(saved) as src, tarfile.open(fixed, "w") as out:
            manifest = json.load(src.extractfile("manifest.json"))
            old_name = manifest[0]["Config"]
            config = json.load(src.extractfile(old_name))
            config["architecture"] = want
            data = json.dumps(config, separators=(",", ":")).encode()
            new_name = hashlib.sha256(data).hexdigest() + ".json"
            manifest[0]["Config"] = new_name
            for member in src:
                if member.name in ("manifest.json", old_name):
                    continue
                out.addfile(member, src.extractfile(member) if member.isfile() else None)
            for name, blob in ((new_name, data), ("manifest.json", json.dumps(manifest).encode())):
                info = tarfile.TarInfo(name)
                info.size = len(blob)
                out.addfile(info, io.BytesIO(blob))
        docker("load", "-i", str(fixed), timeout=3600)
    got = docker("image", "inspect", "--format", "{{.Architecture}}", tag).stdout.strip()
    if got != want:
        raise EvalpackError(f"{tag} records architecture {got!r} after rewriting it to {want!r}")


# --- env image --------------------------------------------------------------------

def pyenv_prefix(version: str) -> Path:
    """The host's pyenv installation for e.g. "3.6" (copied into the env image as is)."""
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = sorted((p for p in root.glob(f"{version}.*") if (p / "bin" / "python").exists()),
                   key=lambda p: [int(x) for x in re.findall(r"\d+", p.name)])
    if not found:
        raise UsageError(f"the env image needs Python {version}; install it with "
                         f"`pyenv install {version}` (looked in {root})")
    return found[-1]


def _commit_container(name: str, tag: str, changes: list[str]) -> None:
    args = ["commit"]
    for change in changes:
        args += ["--change", change]
    docker(*args, name, tag)


def _run_build(name: str, image: str, script: str, *, network: str, mounts: list[str],
               arch: str, stdin: bytes | None = None, timeout: float = 3600) -> None:
    docker("rm", "-f", name, check=False)
    args = ["run", "--pull", "never", "--name", name, "--platform", platform(arch), "--network", network]
    for m in mounts:
        args += ["-v", m]
    if stdin is not None:
        args.append("-i")
    args += [image, "bash", "-c", script]
    proc = subprocess.run([docker_cli(), *args], input=stdin, capture_output=True, timeout=timeout)
    if proc.returncode != 0:
        docker("rm", "-f", name, check=False)
        out = (proc.stdout + proc.stderr).decode(errors="replace")
        raise EvalpackError(f"building {name} failed (exit {proc.returncode}):\n{out[-3000:]}")


def build_env(repo: str, version: str, spec: Spec, arch: str, force: bool = False) -> str:
    tag = env_tag(repo, version, spec, arch)
    if image_exists(tag) and not force:
        return tag
    base = build_base(arch)
    started = time.monotonic()
    mounts, lines = [], ["set -eux"]
    env_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    if spec.python == "system":
        lines.append("ln -sf /usr/bin/python3 /usr/local/bin/python")
        if spec.packages:
            lines.append("python3 -m venv --system-site-packages /opt/testbed")
            env_path = "/opt/testbed/bin:" + env_path
    else:
        prefix = pyenv_prefix(spec.python)
        mounts.append(f"{prefix}:/mnt/python:ro")
        # same absolute path as on the host: the interpreter's rpath points there
        lines += [f"mkdir -p {prefix.parent}", f"cp -a /mnt/python {prefix}",
                  f"{prefix}/bin/python -m venv /opt/testbed"]
        env_path = "/opt/testbed/bin:" + env_path
    if spec.apt_packages:
        raise UsageError("apt_packages in a spec are not supported yet (the base image is built once)")
    if spec.packages:
        mounts.append(f"{HOST_CA_BUNDLE}:/mnt/host-ca.crt:ro")
        pins = " ".join(f"'{p}'" for p in spec.packages)
        lines += ["export PIP_CERT=/mnt/host-ca.crt PIP_DISABLE_PIP_VERSION_CHECK=1",
                  # an old venv pip cannot read today's wheel tags (manylinux2014, abi3)
                  f"/opt/testbed/bin/python -m pip install --no-cache-dir 'pip=={PIP_FOR.get(spec.python, '24.2')}'",
                  # the pins hold; pip adds what they depend on, and the frozen set is kept in the image
                  f"/opt/testbed/bin/pip install --no-cache-dir {pins}",
                  "/opt/testbed/bin/pip freeze > /opt/testbed/freeze.txt"]
    name = f"evalpack-build-env-{os.getpid()}"
    log(f"building {tag}")
    _run_build(name, base, "\n".join(lines), network="host" if spec.packages else "none",
               mounts=mounts, arch=arch)
    _commit_container(name, tag, [f"ENV PATH={env_path}", "ENV LANG=C.UTF-8"])
    docker("rm", "-f", name, check=False)
    log(f"built {tag} in {time.monotonic() - started:.0f}s")
    return tag


# --- repositories -----------------------------------------------------------------

def git(git_dir: Path, *args: str, input: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(["git", f"--git-dir={git_dir}", *args], capture_output=True, input=input)
    if check and proc.returncode != 0:
        raise EvalpackError(f"git {' '.join(args[:2])} in {git_dir} failed: "
                            f"{proc.stderr.decode(errors='replace').strip()}")
    return proc


def open_repo(source: Path) -> Path:
    """A git dir for `source`: a bare repo, a checkout, or a `.bundle` (cloned once into the cache)."""
    source = Path(source)
    if source.is_file():  # a bundle
        digest = hashlib.sha256(f"{source.resolve()}:{source.stat().st_size}:{source.stat().st_mtime}"
                                .encode()).hexdigest()[:12]
        target = CACHE / "repos" / f"{source.stem}-{digest}.git"
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            subprocess.run(["git", "init", "-q", "--bare", str(tmp)], check=True, capture_output=True)
            # every ref of the bundle (a clone would take only branches and tags)
            proc = subprocess.run(["git", f"--git-dir={tmp}", "fetch", "-q", str(source.resolve()), "refs/*:refs/*"],
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                raise EvalpackError(f"cannot read git bundle {source}: {proc.stderr.strip()}")
            tmp.rename(target)
        return target
    if (source / ".git").exists():
        return source / ".git"
    if (source / "objects").is_dir():
        return source
    raise UsageError(f"{source} is neither a git repository nor a git bundle")


def has_commit(git_dir: Path, sha: str) -> bool:
    return git(git_dir, "cat-file", "-e", f"{sha}^{{commit}}", check=False).returncode == 0


def read_file_at(git_dir: Path, sha: str, path: str) -> str | None:
    proc = git(git_dir, "show", f"{sha}:{path}", check=False)
    return proc.stdout.decode(errors="replace") if proc.returncode == 0 else None


def make_git_bundles(instances: list[dict], repos: dict[str, Path], out_dir: Path) -> dict[str, dict]:
    """Write <out_dir>/<owner>__<name>.bundle holding every base_commit the instances need.

    `repos` maps "owner/name" to a local clone (or bundle). Returns {repo: {path, bytes, commits}}.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    by_repo: dict[str, set[str]] = {}
    for inst in instances:
        by_repo.setdefault(inst["repo"], set()).add(inst["base_commit"])
    report = {}
    for repo, commits in sorted(by_repo.items()):
        if repo not in repos:
            raise UsageError(f"no local clone given for {repo}; pass its path (a mirror of github.com/{repo})")
        src = open_repo(repos[repo])
        missing = [c for c in commits if not has_commit(src, c)]
        if missing:
            raise UsageError(f"{repos[repo]} lacks {len(missing)} base commits of {repo} "
                             f"(e.g. {missing[0]}); fetch them first")
        with tempfile.TemporaryDirectory(prefix="evalpack-bundle-") as tmp:
            # a scratch repo borrowing the objects: the user's clone gets no new refs
            scratch = Path(tmp) / "scratch.git"
            subprocess.run(["git", "init", "-q", "--bare", str(scratch)], check=True)
            (scratch / "objects/info/alternates").write_text(str((src / "objects").resolve()) + "\n")
            for sha in sorted(commits):
                git(scratch, "update-ref", f"refs/evalpack/{sha}", sha)
            target = out_dir / f"{repo.replace('/', '__')}.bundle"
            git(scratch, "bundle", "create", str(target), "--all")
        report[repo] = {"path": target.name, "bytes": target.stat().st_size, "sha256": sha256_of(target),
                        "commits": len(commits)}
        log(f"bundle {target.name}: {len(commits)} commits, {target.stat().st_size / 1e6:.1f} MB")
    return report


# --- instance image ---------------------------------------------------------------

def build_instance(instance: dict, spec: Spec, arch: str, git_dir: Path, force: bool = False) -> str:
    tag = instance_tag(instance, spec, arch)
    if image_exists(tag) and not force:
        return tag
    env = build_env(instance["repo"], instance["version"], spec, arch)
    sha = instance["base_commit"]
    if not has_commit(git_dir, sha):
        raise UsageError(f"{git_dir} has no commit {sha} ({instance['instance_id']}); "
                         f"give a clone or bundle of {instance['repo']} that contains it")
    started = time.monotonic()
    archive = git(git_dir, "archive", "--format=tar", sha).stdout
    gitc = "git -c user.name=evalpack -c user.email=evalpack@localhost -c commit.gpgsign=false"
    lines = ["set -eux", "mkdir /testbed", "tar -x -C /testbed", "cd /testbed",
             # the snapshot becomes one commit: patches apply to it and `git diff` shows only edits
             "git init -q", "git add -A", f"{gitc} commit -q -m 'base {sha}'",
             *spec.pre_install]
    if spec.install:
        lines.append(spec.install)
    lines += ["printf '*.egg-info/\\n__pycache__/\\n*.pyc\\n' >> .git/info/exclude",
              "git add -A", f"{gitc} commit -q --allow-empty -m 'evalpack environment setup'"]
    name = f"evalpack-build-inst-{os.getpid()}"
    log(f"building {tag} ({instance['instance_id']})")
    _run_build(name, env, "\n".join(lines), network="none", mounts=[], arch=arch, stdin=archive)
    _commit_container(name, tag, ["WORKDIR /testbed"])
    docker("rm", "-f", name, check=False)
    log(f"built {tag} in {time.monotonic() - started:.0f}s")
    return tag


# --- offline kit: save / load -----------------------------------------------------

def save_images(tags_by_group: dict[str, list[str]], out_dir: Path) -> dict:
    """`docker save` each group (an env image + its instance images: layers shared) gzip-compressed.

    Writes <out_dir>/<group>.tar.gz and <out_dir>/images.json; returns that manifest.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = {"archives": []}
    for group, tags in sorted(tags_by_group.items()):
        target = out_dir / f"{_slug(group)}.tar.gz"
        started = time.monotonic()
        save = subprocess.Popen([docker_cli(), "save", *tags], stdout=subprocess.PIPE)
        with open(target, "wb") as fh:
            gz = subprocess.run(["gzip", "-1"], stdin=save.stdout, stdout=fh)
        if save.wait() != 0 or gz.returncode != 0:
            raise EvalpackError(f"docker save of {group} failed")
        entry = {"file": target.name, "tags": tags, "bytes": target.stat().st_size, "sha256": sha256_of(target),
                 "seconds": round(time.monotonic() - started, 1)}
        manifest["archives"].append(entry)
        log(f"saved {group}: {len(tags)} images, {entry['bytes'] / 1e6:.1f} MB")
    (out_dir / "images.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def load_images(directory: Path) -> list[str]:
    """`docker load` every archive listed in <directory>/images.json; returns the tags loaded."""
    manifest_path = Path(directory) / "images.json"
    if not manifest_path.is_file():
        raise UsageError(f"{manifest_path} not found: this kit holds no SWE-bench images "
                         f"(pack it with `evalpack pack --datasets swe_bench_verified_mini --with-images`)")
    loaded = []
    for entry in json.loads(manifest_path.read_text())["archives"]:
        missing = [t for t in entry["tags"] if not image_exists(t)]
        if not missing:
            loaded += entry["tags"]
            continue
        log(f"loading {entry['file']} ({entry['bytes'] / 1e6:.1f} MB)")
        docker("load", "-i", str(Path(directory) / entry["file"]), timeout=3600)
        loaded += entry["tags"]
    return loaded


if __name__ == "__main__":  # `python -m evalpack.benchmarks.swe_bench.images base [arm64]` (CI setup)
    if sys.argv[1:2] == ["base"] and len(sys.argv) <= 3:
        print(build_base(sys.argv[2] if len(sys.argv) == 3 else None))
    else:
        sys.exit("usage: python -m evalpack.benchmarks.swe_bench.images base [x86_64|arm64]")
