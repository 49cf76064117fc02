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
from dataclasses import asdict, dataclass, field
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
        """Stable short hash of the spec: part of the env image tag."""
        import hashlib

        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:10]


# --- django 3.x (SWE-bench: python 3.6, requirements.txt = tests/requirements/py3.txt) ---
# pylibmc and pywatchman are left out: they compile C extensions against
# libmemcached/watchman headers; the tests that need them skip without them.
_DJANGO_3_LOCK = (
    "asgiref==3.4.1", "argon2-cffi==21.3.0", "argon2-cffi-bindings==21.2.0", "bcrypt==4.0.1",
    "cffi==1.15.1", "pycparser==2.21", "docutils==0.18.1", "geoip2==4.6.0",
    "maxminddb==2.2.0", "aiohttp==3.8.6", "jinja2==3.0.3", "MarkupSafe==2.0.1", "numpy==1.19.5",
    "Pillow==8.4.0", "python-memcached==1.62", "pytz==2024.2", "PyYAML==6.0.1",
    "selenium==3.141.0", "urllib3==1.26.20", "sqlparse==0.4.4", "tblib==1.7.0",
    "requests==2.27.1", "certifi==2024.8.30", "charset-normalizer==2.0.12", "idna==3.10",
    "typing-extensions==4.1.1", "setuptools==59.6.0", "six==1.16.0",
    "attrs==22.2.0", "multidict==5.2.0", "yarl==1.7.2", "async-timeout==4.0.2",
    "aiosignal==1.2.0", "frozenlist==1.2.0", "asynctest==0.13.0", "idna-ssl==1.1.0",
    "dataclasses==0.8",
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
_SPHINX_LOCK = (
    "Jinja2==2.11.3", "MarkupSafe==2.0.1", "Pygments==2.18.0", "docutils==0.17.1",
    "snowballstemmer==2.2.0", "babel==2.16.0", "alabaster==0.7.11", "imagesize==1.4.1",
    "requests==2.32.3", "certifi==2024.8.30", "charset-normalizer==3.4.0", "idna==3.10",
    "urllib3==2.2.3", "packaging==24.1", "sphinxcontrib-applehelp==1.0.4",
    "sphinxcontrib-devhelp==1.0.2", "sphinxcontrib-jsmath==1.0.1",
    "sphinxcontrib-htmlhelp==2.0.1", "sphinxcontrib-serializinghtml==1.1.5",
    "sphinxcontrib-qthelp==1.0.3", "setuptools==70.0.0", "pytest==7.4.4", "pytest-cov==5.0.0",
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

BUILTIN: dict[str, dict[str, Spec]] = {
    "django/django": {v: _DJANGO_3 for v in ("3.0", "3.1", "3.2")},
    "sphinx-doc/sphinx": {v: _SPHINX_3 for v in ("3.1", "3.2", "3.3", "3.4", "3.5", "4.0", "4.1")},
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


def test_directives(spec: Spec, test_patch: str) -> list[str]:
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
