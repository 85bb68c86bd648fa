"""Static check of the per-rule conda envs (``snakemake --sdm conda``; no conda on this machine).

Each rules file's ``conda:`` env is paired with the rule's ``script:`` (or the module a ``shell:``
runs with ``python -m``). The script's imports are walked with ``ast``, following every
``benediff`` module it imports (module-level and function-level imports alike, ``__init__`` of
each package on the way); the third-party imports found must be provided by the env file:
listed in it, or shipped with a package it lists (``SHIPPED_WITH``). Without this a missing
package would go unnoticed: a Snakemake ``script:`` also sees the Snakemake process's own
``sys.path``. Env specifiers of packages that ``pyproject.toml`` names must match it (the same
specifier, or an exact pin inside its range), and benediff is installed by the env's
post-deploy script from the checkout, never by a relative ``-e ../`` (Snakemake copies env
files under ``.snakemake/conda/``).
"""

import ast
import functools
import re
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
RULE_FILES = sorted((ROOT / "workflow" / "rules").glob("*.smk")) + [ROOT / "workflow" / "Snakefile"]

# import name -> distribution name, where they differ
DISTRIBUTION = {
    "sklearn": "scikit-learn",
    "skimage": "scikit-image",
    "yaml": "pyyaml",
    "cv2": "opencv-python",
    "PIL": "pillow",
    "pi_vae_pytorch": "pi-vae-pytorch",
    "ndx_pose": "ndx-pose",
    "imageio_ffmpeg": "imageio-ffmpeg",
}
# conda-forge package name -> distribution name, where they differ
CONDA_NAME = {"pytables": "tables", "pytorch": "torch", "py-opencv": "opencv-python"}
# distributions installed by another one an env lists (their own dependency)
SHIPPED_WITH = {"hdmf": "pynwb"}


def _distribution(name: str) -> str:
    return DISTRIBUTION.get(name, name).lower().replace("_", "-")


# --- rules files: (rule, env file, entry point) ---


def _string(line: str) -> str:
    match = re.search(r"""["']([^"']+)["']""", line)
    assert match, f"no string literal in {line!r}"
    return match.group(1)


def rule_entries(paths: list[Path]) -> list[tuple[str, Path | None, Path | str | None]]:
    """(rule, env file, script path or ``-m`` module) of every rule defined in ``paths``.

    A rule made by ``use rule A as B`` takes A's env and entry unless it sets its own.
    """
    rules: dict[str, dict] = {}
    for path in paths:
        _scan(path, rules)
    out = []
    for rule, entry in rules.items():
        base = rules.get(entry.get("base"), {})
        out.append((rule, entry.get("conda", base.get("conda")),
                    entry.get("entry", base.get("entry"))))
    return out


def _scan(path: Path, rules: dict):
    current = None
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        named = re.match(r"\s*rule\s+(\w+)\s*:", line)
        used = re.match(r"\s*use rule (\w+) as (\w+)", line)
        anonymous = re.match(r"\s*rule\s*:", line)
        if named:
            current = rules.setdefault(named.group(1), {})
        elif used:
            current = rules.setdefault(used.group(2), {"base": used.group(1)})
        elif anonymous:  # rules made in a loop: name: <expression> on the next lines
            current = rules.setdefault(f"{path.name}:{i + 1}", {})
        elif current is not None:
            key = line.strip().rstrip(":")
            if line.strip() == "shell:":  # the command up to the next blank line
                end = next((j for j in range(i + 1, len(lines)) if not lines[j].strip()),
                           len(lines))
                module = re.search(r"\s-m\s+(benediff[\w.]*)", " ".join(lines[i + 1:end]))
                current["entry"] = module.group(1) if module else "<shell>"
            elif line.strip() in ("conda:", "script:"):
                value = (path.parent / _string(lines[i + 1])).resolve()
                current[key if key == "conda" else "entry"] = value


RULES = rule_entries(RULE_FILES)
SCRIPTED = [(rule, env, entry) for rule, env, entry in RULES if entry is not None]


# --- imports, following benediff modules ---


def _module_file(module: str) -> Path | None:
    base = SRC.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _package(module: str, path: Path) -> str:
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


@functools.cache
def _imports(path: Path, module: str | None) -> tuple:
    """(imported dotted name, names in ``from X import a, b``) of every import of one file.

    Imports inside functions and ``try: ... except ImportError`` count too: each one here is a
    declared dependency the code needs on some path (NWB movies, the numba LocaNMF kernel).
    """
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                assert module, f"{path}: relative import outside the package"
                base = _package(module, path).split(".")
                base = base[: len(base) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module
            found.append((name, tuple(a.name for a in node.names)))
    return tuple(found)


def third_party_imports(entry: Path | str) -> dict[str, str]:
    """Top-level third-party import name -> the file importing it first, for one entry point."""
    found: dict[str, str] = {}
    seen: set[str] = set()
    todo: list[tuple[Path, str | None]] = []

    def visit(module: str):
        parts = module.split(".")
        for k in range(1, len(parts) + 1):  # importing a.b.c runs a, a.b, a.b.c
            name = ".".join(parts[:k])
            path = _module_file(name)
            if path is not None and name not in seen:
                seen.add(name)
                todo.append((path, name))

    if isinstance(entry, Path):
        todo.append((entry, None))
    else:
        visit(entry)
    while todo:
        path, module = todo.pop()
        for name, members in _imports(path, module):
            top = name.split(".")[0]
            if top == "benediff":
                visit(name)
                for member in members:  # from benediff.x import y: y may be a module
                    if _module_file(f"{name}.{member}"):
                        visit(f"{name}.{member}")
            elif top not in sys.stdlib_module_names and top != "snakemake":
                found.setdefault(top, str(path.relative_to(ROOT)))
    return found


# --- env files ---


def env_packages(env: Path) -> dict[str, str]:
    """Distribution name -> its specifier string, conda and pip entries together."""
    spec = yaml.safe_load(env.read_text())
    out = {}
    for dep in spec["dependencies"]:
        if isinstance(dep, dict):
            for line in dep.get("pip", []):
                assert not line.startswith("-"), f"{env.name}: pip option {line!r}"
                req = Requirement(line)
                out[req.name.lower()] = str(req.specifier)
        else:
            match = re.match(r"([A-Za-z0-9_.-]+)\s*(.*)", dep)
            name, version = match.group(1).lower(), match.group(2).replace(" ", "")
            if version and version[0].isdigit():  # conda's name=1.2 means 1.2.*
                version = f"=={version}.*" if version.count(".") < 2 else f"=={version}"
            elif version.startswith("=") and not version.startswith("=="):
                version = "=" + version
            out[CONDA_NAME.get(name, name)] = version
    return out


def pyproject_pins() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        lines += extra
    return {Requirement(x).name.lower(): str(Requirement(x).specifier) for x in lines}


ENVS = sorted((ROOT / "envs").glob("*.yaml"))


def test_rules_files_parsed():
    """Every rule of the rules files was found, with an env and an entry point."""
    names = {rule for rule, _, _ in RULES}
    for path in RULE_FILES:
        text = path.read_text()
        for name in re.findall(r"^\s*rule\s+(\w+)\s*:", text, re.M):
            assert name in names, f"{path.name}: rule {name} not parsed"
    assert {rule for rule, _, entry in RULES if entry is None} == {"all"}
    for rule, env, entry in SCRIPTED:
        assert env is not None, f"rule {rule} runs {entry} without a conda: env"
        assert env.is_file(), f"rule {rule}: env file {env} does not exist"
        assert env.parent == ROOT / "envs", f"rule {rule}: env {env} outside envs/"
        if isinstance(entry, Path):
            assert entry.is_file(), f"rule {rule}: script {entry} does not exist"
        else:
            assert _module_file(entry), f"rule {rule}: shell runs unknown module {entry}"


@pytest.mark.parametrize("rule,env,entry", SCRIPTED, ids=[r for r, _, _ in SCRIPTED])
def test_env_provides_imports(rule, env, entry):
    """The rule's env provides every third-party import its script makes (transitively)."""
    have = set(env_packages(env))
    have |= {shipped for shipped, by in SHIPPED_WITH.items() if by in have}
    missing = {f"{_distribution(name)} (import {name} in {where})"
               for name, where in third_party_imports(entry).items()
               if _distribution(name) not in have}
    assert not missing, f"rule {rule}: {env.name} lacks {sorted(missing)}"


@pytest.mark.parametrize("env", ENVS, ids=[e.name for e in ENVS])
def test_env_pins_match_pyproject(env):
    """An env's specifier of a package pyproject.toml names is pyproject's, or a pin inside it."""
    pins = pyproject_pins()
    for name, spec in env_packages(env).items():
        if name not in pins or spec == pins[name]:
            continue
        exact = re.fullmatch(r"==([\w.]+)", spec)
        assert exact, f"{env.name}: {name}{spec} differs from pyproject.toml's {name}{pins[name]}"
        assert Requirement(f"{name}{pins[name]}").specifier.contains(exact.group(1)), (
            f"{env.name}: {name}{spec} is outside pyproject.toml's {name}{pins[name]}")
    assert "python" in env_packages(env) and env_packages(env)["python"].startswith("==3.11")


@pytest.mark.parametrize("env", ENVS, ids=[e.name for e in ENVS])
def test_env_installs_benediff_from_checkout(env):
    """No relative path in an env file; its post-deploy script installs this checkout."""
    text = env.read_text()
    assert "../" not in text and "-e " not in text, f"{env.name}: relative or editable install"
    deploy = env.with_suffix(".post-deploy.sh")
    assert deploy.is_file(), f"{env.name}: no {deploy.name} installing benediff"
    script = deploy.read_text()
    assert re.search(r"pip install --no-deps -e \"\$\{?BENEDIFF_REPO", script), script
    snakefile = (ROOT / "workflow" / "Snakefile").read_text()
    assert "BENEDIFF_REPO" in snakefile, "workflow/Snakefile must export BENEDIFF_REPO"


def test_walker_sees_lazy_and_transitive_imports():
    """The walk finds an import made inside a function of a module the entry imports."""
    found = third_party_imports("benediff.behavior.dlc_infer")
    assert "deeplabcut" in found and "torch" in found  # lazy, in run_inference
    assert "pandas" in found  # through benediff.io.pose
    assert "cebra" in third_party_imports(ROOT / "scripts" / "lvm_fit.py")
