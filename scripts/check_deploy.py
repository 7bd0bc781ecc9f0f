#!/usr/bin/env python3
"""Static checks of the deployment files against each other and against the workspace.

Run by scripts/check-deploy.sh (which provides jsonschema and PyYAML); needs Python 3.11+
(tomllib). Each check prints `ok` or the problems it found; the exit status is the number of
failed checks (0 = all passed).

  values    helm values.yaml (and values.yaml + each ci/*-values.yaml) validate against
            values.schema.json, and the schema declares and describes every key they use
  templates every .Values path the chart's templates read exists in values.yaml, and the
            template blocks ({{ if/range/with/define }} ... {{ end }}) balance
  image     the Dockerfile builds only workspace packages (-p) and copies only binaries those
            packages produce; compose and the chart run only programs the image contains
  compose   every host path compose bind-mounts exists; every pipeline service has a health check
"""
from __future__ import annotations

import copy
import glob
import json
import os
import re
import sys
import tomllib

import jsonschema
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
CHART = os.path.join(ROOT, "helm", "orders-pipeline")
COMPOSE = os.path.join(ROOT, "compose", "compose.yaml")
DOCKERFILE = os.path.join(ROOT, "Dockerfile")


def rel(path: str) -> str:
    return os.path.relpath(path, ROOT)


def load_yaml(path: str):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def deep_merge(base, override):
    """Helm's merge of a values file over the chart's values: maps merge, the rest replaces."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = copy.deepcopy(base)
        for key, value in override.items():
            out[key] = deep_merge(out[key], value) if key in out else copy.deepcopy(value)
        return out
    return copy.deepcopy(override)


# --- values ---------------------------------------------------------------------------------

def resolve(schema: dict, node: dict) -> dict:
    """Follows $ref and single-element allOf wrappers to the schema that defines a node."""
    while True:
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            node = schema["definitions"][name]
        elif "allOf" in node and "properties" not in node and len(node["allOf"]) == 1:
            node = node["allOf"][0]
        else:
            return node


def has_description(schema: dict, node: dict) -> bool:
    return bool(node.get("description") or resolve(schema, node).get("description"))


def undeclared(schema: dict, node: dict, value, path: str, problems: list[str]) -> None:
    """Every key of `value` must be a described property of `node` (maps and free-form objects end
    the walk)."""
    target = resolve(schema, node)
    if not isinstance(value, dict) or "properties" not in target:
        return
    for key, sub in value.items():
        where = f"{path}.{key}" if path else key
        prop = target["properties"].get(key)
        if prop is None:
            if target.get("additionalProperties", True) is False:
                problems.append(f"{where}: not declared in values.schema.json")
            continue
        if not has_description(schema, prop):
            problems.append(f"{where}: its schema has no description")
        undeclared(schema, prop, sub, where, problems)


def check_values() -> list[str]:
    problems = []
    with open(os.path.join(CHART, "values.schema.json"), encoding="utf-8") as f:
        schema = json.load(f)
    try:
        jsonschema.Draft7Validator.check_schema(schema)
    except jsonschema.SchemaError as e:
        return [f"values.schema.json is not a valid draft-07 schema: {e.message}"]
    validator = jsonschema.Draft7Validator(schema)
    values = load_yaml(os.path.join(CHART, "values.yaml"))
    cases = [("values.yaml", values)]
    for extra in sorted(glob.glob(os.path.join(CHART, "ci", "*.yaml"))):
        cases.append((f"values.yaml + ci/{os.path.basename(extra)}", deep_merge(values, load_yaml(extra) or {})))
    for name, doc in cases:
        for err in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
            where = "/".join(str(p) for p in err.absolute_path) or "(root)"
            problems.append(f"{name}: {where}: {err.message}")
        undeclared(schema, schema, doc, "", problems)
    return sorted(set(problems), key=problems.index)


# --- templates ------------------------------------------------------------------------------

# Template variables that stand for a part of .Values (see the templates).
ALIASES = {
    r"(?:\$|\.root|\$root)?\.Values": "",
    r"\$v": "",
    r"\$np": "networkPolicy",
    r"\$dr": "istio.destinationRule",
}
OPENERS = re.compile(r"\{\{-?\s*(?:if|range|with|define|block)\b")
ENDS = re.compile(r"\{\{-?\s*end\s*-?\}\}")
COMMENTS = re.compile(r"\{\{-?\s*/\*.*?\*/\s*-?\}\}", re.S)


def lookup(values, dotted: str) -> bool:
    node = values
    for part in [p for p in dotted.split(".") if p]:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def check_templates() -> list[str]:
    problems = []
    values = load_yaml(os.path.join(CHART, "values.yaml"))
    services = values.get("services", {})
    files = sorted(glob.glob(os.path.join(CHART, "templates", "*")))
    for path in files:
        with open(path, encoding="utf-8") as f:
            text = COMMENTS.sub("", f.read())
        name = rel(path)
        opened, ended = len(OPENERS.findall(text)), len(ENDS.findall(text))
        if opened != ended:
            problems.append(f"{name}: {opened} block openers (if/range/with/define) but {ended} {{{{ end }}}}")
        for alias, prefix in ALIASES.items():
            for m in re.finditer(alias + r"((?:\.[A-Za-z_][A-Za-z0-9_]*)+)", text):
                dotted = f"{prefix}{m.group(1)}" if prefix else m.group(1)
                if not lookup(values, dotted):
                    problems.append(f"{name}: reads .Values{'.' if prefix else ''}{dotted}, which values.yaml lacks")
        # $svc is one entry of .Values.services; the ingress has every key a worker has.
        for m in re.finditer(r"\$svc((?:\.[A-Za-z_][A-Za-z0-9_]*)+)", text):
            if not lookup(services.get("ingress", {}), m.group(1)):
                problems.append(f"{name}: reads $svc{m.group(1)}, which services.ingress lacks")
    return sorted(set(problems), key=problems.index)


# --- image ----------------------------------------------------------------------------------

def workspace_packages() -> dict[str, set[str]]:
    """Package name -> the binaries it builds, for every workspace member."""
    with open(os.path.join(ROOT, "Cargo.toml"), "rb") as f:
        root = tomllib.load(f)
    packages: dict[str, set[str]] = {}
    for pattern in root.get("workspace", {}).get("members", []):
        for member in sorted(glob.glob(os.path.join(ROOT, pattern))):
            manifest = os.path.join(member, "Cargo.toml")
            if not os.path.exists(manifest):
                continue
            with open(manifest, "rb") as f:
                cargo = tomllib.load(f)
            name = cargo["package"]["name"]
            bins = {b["name"] for b in cargo.get("bin", []) if "name" in b}
            autobins = cargo["package"].get("autobins", True)
            if autobins and not cargo.get("bin") and os.path.exists(os.path.join(member, "src", "main.rs")):
                bins.add(name)
            if autobins:
                bins |= {os.path.basename(p)[:-3] for p in glob.glob(os.path.join(member, "src", "bin", "*.rs"))}
            packages[name] = bins
    return packages


def dockerfile_lines() -> list[str]:
    """Dockerfile instructions with continuation lines joined and comments dropped."""
    lines, current = [], ""
    with open(DOCKERFILE, encoding="utf-8") as f:
        for raw in f:
            line = raw.rstrip("\n")
            if line.lstrip().startswith("#"):
                continue
            if line.endswith("\\"):
                current += line[:-1] + " "
                continue
            current += line
            if current.strip():
                lines.append(current.strip())
            current = ""
    if current.strip():
        lines.append(current.strip())
    return lines


def image_binaries() -> tuple[set[str], set[str]]:
    """(packages built with -p, binaries copied from target/release/) of the Dockerfile."""
    built, copied = set(), set()
    for line in dockerfile_lines():
        if line.upper().startswith("RUN") and "cargo build" in line:
            built |= set(re.findall(r"(?:^|\s)(?:-p|--package)\s+([A-Za-z0-9_-]+)", line))
        if line.upper().startswith("COPY"):
            copied |= set(re.findall(r"target/release/([A-Za-z0-9_-]+)", line))
    return built, copied


def programs_run() -> dict[str, str]:
    """Program -> where it is run (compose commands and entrypoints, the chart's containers)."""
    run: dict[str, str] = {}
    compose = load_yaml(COMPOSE)
    for name, svc in compose.get("services", {}).items():
        if "build" not in svc:
            continue  # third-party images
        for key in ("entrypoint", "command"):
            value = svc.get(key)
            words = value if isinstance(value, list) else (value or "").split()
            for word in " ".join(words).replace("&&", " ").split():
                if re.fullmatch(r"orders-[a-z]+|ordersctl", word):
                    run.setdefault(word, f"compose service {name}")
    with open(os.path.join(CHART, "templates", "_helpers.tpl"), encoding="utf-8") as f:
        helpers = f.read()
    m = re.search(r'define "orders\.components" -\}\}\s*\n([a-z ]+)\n', helpers)
    for component in (m.group(1).split() if m else []):
        run.setdefault(f"orders-{component}", "the Helm chart")
    for path in glob.glob(os.path.join(CHART, "templates", "*.yaml")):
        with open(path, encoding="utf-8") as f:
            for word in re.findall(r'command: \["(orders[a-z-]*)"', f.read()):
                run.setdefault(word, rel(path))
    return run


def check_image() -> list[str]:
    problems = []
    packages = workspace_packages()
    built, copied = image_binaries()
    if not built:
        problems.append("Dockerfile: no `cargo build ... -p <package>` found")
    if not copied:
        problems.append("Dockerfile: no COPY of target/release/<binary> found")
    for pkg in sorted(built - packages.keys()):
        problems.append(f"Dockerfile builds -p {pkg}, which is not a workspace member (members: {', '.join(sorted(packages))})")
    produced = set().union(*(packages.get(p, set()) for p in built)) if built else set()
    every_bin = set().union(*packages.values()) if packages else set()
    for binary in sorted(copied):
        if binary not in every_bin:
            problems.append(f"Dockerfile copies target/release/{binary}, which no workspace package builds")
        elif binary not in produced:
            problems.append(f"Dockerfile copies target/release/{binary}, but builds none of the packages that produce it")
    for program, where in sorted(programs_run().items()):
        if program not in copied:
            problems.append(f"{where} runs {program}, which the image does not contain")
    return problems


# --- compose --------------------------------------------------------------------------------

def check_compose() -> list[str]:
    problems = []
    compose = load_yaml(COMPOSE)
    base = os.path.dirname(COMPOSE)
    for name, svc in compose.get("services", {}).items():
        for volume in svc.get("volumes", []):
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source", "")
            if source.startswith((".", "/")) and not os.path.exists(os.path.join(base, source)):
                problems.append(f"compose service {name} mounts {rel(os.path.normpath(os.path.join(base, source)))}, which does not exist")
        build = svc.get("build")
        if build:
            context = os.path.normpath(os.path.join(base, build.get("context", ".") if isinstance(build, dict) else build))
            dockerfile = build.get("dockerfile", "Dockerfile") if isinstance(build, dict) else "Dockerfile"
            if not os.path.exists(os.path.join(context, dockerfile)):
                problems.append(f"compose service {name} builds {rel(os.path.join(context, dockerfile))}, which does not exist")
            runs_service = svc.get("restart", "no") != "no"
            if runs_service and "healthcheck" not in svc:
                problems.append(f"compose service {name} runs a pipeline service without a healthcheck")
    return problems


def main() -> int:
    failed = 0
    for name, check in [("values", check_values), ("templates", check_templates),
                        ("image", check_image), ("compose", check_compose)]:
        problems = check()
        if problems:
            failed += 1
            print(f"check-deploy: {name}: FAILED")
            for p in problems:
                print(f"  - {p}")
        else:
            print(f"check-deploy: {name}: ok")
    return failed


if __name__ == "__main__":
    sys.exit(main())
