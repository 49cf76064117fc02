"""How to build and test each (repo, version): evalpack's own environment specs.

The facts (Python version, test command, the setup.py/tox.ini edits, which
requirements) follow SWE-bench 4.1's `swebench.harness.constants` for django and
sphinx. Unlike SWE-bench, every environment installs an exact lock (`packages`,
all `==`) and the instance install runs with `--no-deps` and no network, so a
later upstream release cannot change an image that is rebuilt tomorrow.

A dataset may bring its own specs in `specs.json` beside `test.jsonl`
({"owner/repo": {"version": {...Spec fields...}}}); they extend these.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from evalpack.errors import UsageError


@dataclass(frozen=True)
class Spec:
    python: str  # "system" (Debian's python3 in the base image) or a pyenv version ("3.6")
    test_cmd: str  # run in /testbed with the test directives appended
    parser: str  # "pytest" | "django"
    directives: str  # "pytest_files" | "django_modules": how test_patch files become arguments
    packages: tuple[str, ...] = ()  # exact pins installed into the env image
    pre_install: tuple[str, ...] = ()  # shell lines run in /testbed before `install`
    install: str = ""  # run in /testbed, offline (deps come from `packages`)
    eval_env: tuple[str, ...] = ()  # shell lines (exports) run before the tests
    apt_packages: tuple[str, ...] = ()  # extra Debian packages for the env image

    def key(self) -> str:
        """Stable short hash of the whole spec: part of the instance image tag."""
        return _digest(asdict(self))

    def env_key(self) -> str:
        """Hash of what goes into the env image: versions sharing it share one image."""
        return _digest({"python": self.python, "packages": self.packages, "apt": self.apt_packages})


def _digest(value) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:10]


# --- django 3.x (SWE-bench: python 3.6, requirements.txt = tests/requirements/py3.txt) ---
# Left out: pylibmc and pywatchman (C extensions needing libmemcached/watchman headers) and
# geoip2 (GIS); the tests that need them skip without them.
_DJANGO_3_LOCK = (
    "asgiref==3.4.1", "argon2-cffi==21.3.0", "bcrypt==4.0.1", "docutils==0.18.1",
    "Jinja2==3.0.3", "MarkupSafe==2.0.1", "numpy==1.19.5", "Pillow==8.4.0",
    "python-memcached==1.62", "pytz==2024.2", "PyYAML==6.0.1", "selenium==3.141.0",
    "sqlparse==0.4.4", "tblib==1.7.0", "setuptools==59.6.0",
    # what those depend on, as pip resolved it on 2026-11-27 (pip freeze of the env image)
    "argon2-cffi-bindings==21.2.0", "cffi==1.15.1", "pycparser==2.21", "dataclasses==0.8",
    "typing_extensions==4.1.1", "urllib3==1.26.20",
)
_DJANGO_3 = Spec(
    python="3.6",
    packages=_DJANGO_3_LOCK,
    install="python -m pip install --no-deps --no-build-isolation --no-index -e .",
    eval_env=("export LANG=en_US.UTF-8", "export LANGUAGE=en_US:en", "export LC_ALL=en_US.UTF-8",
              "export PYTHONIOENCODING=utf8"),
    test_cmd="./tests/runtests.py --verbosity 2 --settings=test_sqlite --parallel 1",
    parser="django",
    directives="django_modules",
)

# --- sphinx 3.x/4.x (SWE-bench: python 3.9, pip install -e .[test], tox -epy39 -> pytest -rA) ---
# pytest 8: SWE-bench's test names were recorded with it (duplicate parametrize ids end in
# "_0", "_1"; pytest 7 writes "0", "1" and such PASS_TO_PASS tests would look missing).
_SPHINX_LOCK = (
    "Jinja2==2.11.3", "MarkupSafe==2.0.1", "Pygments==2.18.0", "docutils==0.17.1",
    "snowballstemmer==2.2.0", "babel==2.16.0", "alabaster==0.7.11", "imagesize==1.4.1",
    "requests==2.32.3", "certifi==2024.8.30", "charset-normalizer==3.4.0", "idna==3.10",
    "urllib3==2.2.3", "packaging==24.1", "sphinxcontrib-applehelp==1.0.4",
    "sphinxcontrib-devhelp==1.0.2", "sphinxcontrib-jsmath==1.0.1",
    "sphinxcontrib-htmlhelp==2.0.1", "sphinxcontrib-serializinghtml==1.1.5",
    "sphinxcontrib-qthelp==1.0.3", "setuptools==70.0.0", "wheel==0.44.0", "pytest==8.3.3", "pytest-cov==5.0.0",
    "coverage==7.6.4", "iniconfig==2.0.0", "pluggy==1.5.0", "exceptiongroup==1.2.2",
    "tomli==2.0.2", "html5lib==1.1", "six==1.16.0", "webencodings==0.5.1", "cython==3.0.11",
    "typed-ast==1.5.5",
)
_SPHINX_PRE_INSTALL = (
    "sed -i 's/pytest/pytest -rA/' tox.ini",
    "sed -i 's/Jinja2>=2.3/Jinja2<3.0/' setup.py",
    "sed -i 's/sphinxcontrib-applehelp/sphinxcontrib-applehelp<=1.0.7/' setup.py",
    "sed -i 's/sphinxcontrib-devhelp/sphinxcontrib-devhelp<=1.0.5/' setup.py",
    "sed -i 's/sphinxcontrib-qthelp/sphinxcontrib-qthelp<=1.0.6/' setup.py",
    "sed -i 's/alabaster>=0.7,<0.8/alabaster>=0.7,<0.7.12/' setup.py",
    "sed -i \"s/'packaging',/'packaging', 'markupsafe<=2.0.1',/\" setup.py",
)
_SPHINX_3 = Spec(
    python="3.9",
    packages=_SPHINX_LOCK,
    pre_install=_SPHINX_PRE_INSTALL,
    install="python -m pip install --no-deps --no-build-isolation --no-index -e .",
    # tox.ini's [testenv] for py39: `python -X dev -m pytest -rA --durations 25 {posargs}`
    # with these warnings settings; run directly (tox would try to reach PyPI).
    eval_env=("export PYTHONWARNINGS='all,ignore::ImportWarning:importlib._bootstrap_external,"
              "ignore::DeprecationWarning:site,ignore::DeprecationWarning:distutils,"
              "ignore::DeprecationWarning:pip._vendor.packaging.version'",),
    test_cmd="python -X dev -m pytest -rA --durations 25 -p no:cacheprovider",
    parser="pytest",
    directives="pytest_files",
)

_SPHINX_HELPERS_PIN = {
    # SWE-bench's extra setup.py pins by version (the lock below is what is installed)
    "4.1": ("grep -q 'sphinxcontrib-htmlhelp>=2.0.0' setup.py && sed -i 's/sphinxcontrib-htmlhelp>=2.0.0/"
            "sphinxcontrib-htmlhelp>=2.0.0,<=2.0.4/' setup.py || sed -i 's/sphinxcontrib-htmlhelp/"
            "sphinxcontrib-htmlhelp<=2.0.4/' setup.py",
            "grep -q 'sphinxcontrib-serializinghtml>=1.1.5' setup.py && sed -i 's/sphinxcontrib-serializinghtml"
            ">=1.1.5/sphinxcontrib-serializinghtml>=1.1.5,<=1.1.9/' setup.py || sed -i 's/sphinxcontrib-"
            "serializinghtml/sphinxcontrib-serializinghtml<=1.1.9/' setup.py"),
    "4.2+": ("sed -i 's/sphinxcontrib-htmlhelp>=2.0.0/sphinxcontrib-htmlhelp>=2.0.0,<=2.0.4/' setup.py",
             "sed -i 's/sphinxcontrib-serializinghtml>=1.1.5/sphinxcontrib-serializinghtml>=1.1.5,<=1.1.9/' setup.py"),
    "older": ("sed -i 's/sphinxcontrib-htmlhelp/sphinxcontrib-htmlhelp<=2.0.4/' setup.py",
              "sed -i 's/sphinxcontrib-serializinghtml/sphinxcontrib-serializinghtml<=1.1.9/' setup.py"),
}


def _sphinx_3(version: str) -> Spec:
    key = "4.1" if version == "4.1" else "4.2+" if version in ("4.2", "4.3", "4.4") else "older"
    return replace(_SPHINX_3, pre_install=_SPHINX_PRE_INSTALL + _SPHINX_HELPERS_PIN[key])


# sphinx 5.x and 7.x: SWE-bench only adds -rA to tox.ini; Jinja2 3 and newer helpers.
# Validated against the gold patches like 3.x/4.x (perf/swe_bench_validate_gold.py).
_SPHINX_5_LOCK = (
    "Jinja2==3.1.4", "MarkupSafe==2.1.5", "Pygments==2.18.0", "docutils==0.18.1",
    "snowballstemmer==2.2.0", "babel==2.16.0", "alabaster==0.7.16", "imagesize==1.4.1",
    "requests==2.32.3", "packaging==24.1", "sphinxcontrib-applehelp==1.0.4",
    "sphinxcontrib-devhelp==1.0.2", "sphinxcontrib-jsmath==1.0.1", "sphinxcontrib-htmlhelp==2.0.1",
    "sphinxcontrib-serializinghtml==1.1.5", "sphinxcontrib-qthelp==1.0.3", "importlib-metadata==8.5.0",
    "setuptools==70.0.0", "wheel==0.44.0", "pytest==8.3.3", "html5lib==1.1", "cython==3.0.11",
    "iniconfig==2.0.0", "pluggy==1.5.0", "exceptiongroup==1.2.2", "tomli==2.0.2", "certifi==2024.8.30",
    "charset-normalizer==3.4.0", "idna==3.10", "urllib3==2.2.3", "zipp==3.20.2", "six==1.16.0",
    "webencodings==0.5.1",
)
_SPHINX_7_LOCK = (
    "Jinja2==3.1.4", "MarkupSafe==2.1.5", "Pygments==2.18.0", "docutils==0.20.1",
    "snowballstemmer==2.2.0", "babel==2.16.0", "alabaster==0.7.16", "imagesize==1.4.1",
    "requests==2.32.3", "packaging==24.1", "sphinxcontrib-applehelp==1.0.8",
    "sphinxcontrib-devhelp==1.0.6", "sphinxcontrib-jsmath==1.0.1", "sphinxcontrib-htmlhelp==2.0.5",
    "sphinxcontrib-serializinghtml==1.1.10", "sphinxcontrib-qthelp==1.0.7", "importlib-metadata==8.5.0",
    "setuptools==70.0.0", "wheel==0.44.0", "pytest==8.3.3", "html5lib==1.1", "cython==3.0.11", "filelock==3.16.1",
    "flit_core==3.9.0",  # sphinx 7 builds with flit (pyproject.toml)
    "iniconfig==2.0.0", "pluggy==1.5.0", "exceptiongroup==1.2.2", "tomli==2.0.2", "certifi==2024.8.30",
    "charset-normalizer==3.4.0", "idna==3.10", "urllib3==2.2.3", "zipp==3.20.2", "six==1.16.0",
    "webencodings==0.5.1",
)
_SPHINX_5 = replace(_SPHINX_3, packages=_SPHINX_5_LOCK, pre_install=("sed -i 's/pytest/pytest -rA/' tox.ini",))
_SPHINX_7 = replace(_SPHINX_5, packages=_SPHINX_7_LOCK)

BUILTIN: dict[str, dict[str, Spec]] = {
    "django/django": {v: _DJANGO_3 for v in ("3.0", "3.1", "3.2")},
    "sphinx-doc/sphinx": {
        **{v: _sphinx_3(v) for v in ("3.0", "3.1", "3.2", "3.3", "3.4", "3.5", "4.0", "4.1", "4.2", "4.3", "4.4")},
        **{v: _SPHINX_5 for v in ("5.0", "5.1", "5.2", "5.3")},
        **{v: _SPHINX_7 for v in ("7.2",)},
    },
}


def load_extra_specs(path: Path) -> dict[str, dict[str, Spec]]:
    """Read a dataset's own `specs.json` (same shape as BUILTIN, fields as in Spec)."""
    raw = json.loads(path.read_text())
    out: dict[str, dict[str, Spec]] = {}
    for repo, versions in raw.items():
        for version, fields in versions.items():
            try:
                out.setdefault(repo, {})[version] = Spec(**{
                    k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()})
            except TypeError as exc:
                raise UsageError(f"{path}: bad spec for {repo} {version} ({exc}); "
                                 f"fields are those of evalpack.benchmarks.swe_bench.specs.Spec")
    return out


def spec_for(repo: str, version: str, extra: dict[str, dict[str, Spec]] | None = None) -> Spec:
    table = {**BUILTIN}
    for r, versions in (extra or {}).items():
        table[r] = {**table.get(r, {}), **versions}
    try:
        return table[repo][version]
    except KeyError:
        raise UsageError(f"no environment spec for {repo} version {version}; add it to "
                         f"specs.json beside test.jsonl (see docs/swe_bench.md)")


_NON_TEST_EXTS = (".json", ".png", "csv", ".txt", ".md", ".jpg", ".jpeg", ".pkl", ".yml", ".yaml", ".toml")


def files_in_patch(patch: str) -> list[str]:
    return re.findall(r"^diff --git a/.* b/(.*)$", patch, re.M)


def select_tests(spec: Spec, test_patch: str) -> list[str]:
    """The arguments that run exactly the test files the test_patch touches (as SWE-bench does)."""
    files = [f for f in files_in_patch(test_patch) if not f.endswith(_NON_TEST_EXTS)]
    if spec.directives == "django_modules":
        out = []
        for f in files:
            if not f.endswith(".py"):
                continue
            f = f[: -len(".py")]
            if f.startswith("tests/"):
                f = f[len("tests/"):]
            out.append(f.replace("/", "."))
        return out
    # pytest: only test modules (files under tests/roots/ are fixtures, not tests)
    return [f for f in files if f.endswith(".py") and Path(f).name.startswith("test")]
