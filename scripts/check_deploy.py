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


# --- observability --------------------------------------------------------------------------

OBS = os.path.join(ROOT, "observability")
ALERTS = os.path.join(OBS, "prometheus", "alerts.yml")
OBS_DOC = os.path.join(ROOT, "docs", "observability.md")

METRIC_CALL = re.compile(
    r'metrics::(counter|gauge|histogram)!\(\s*"([a-zA-Z_:][a-zA-Z0-9_:]*)"(.*?)\)\s*\.\s*'
    r"(?:increment|decrement|set|record|absolute)\b", re.S)
# Labels Prometheus adds to every series: compose's static targets (job, instance) and the
# Prometheus Operator's ServiceMonitor (namespace, pod, service, endpoint, container).
TARGET_LABELS = {"job", "instance", "namespace", "pod", "service", "endpoint", "container", "__name__"}
PROMQL_FUNCTIONS = {
    "abs", "absent", "absent_over_time", "avg", "avg_over_time", "bottomk", "ceil", "changes",
    "clamp", "clamp_max", "clamp_min", "count", "count_over_time", "count_values", "day_of_month",
    "day_of_week", "delta", "deriv", "exp", "floor", "group", "histogram_quantile", "holt_winters",
    "hour", "idelta", "increase", "irate", "label_join", "label_replace", "last_over_time", "ln",
    "log2", "log10", "max", "max_over_time", "min", "min_over_time", "minute", "month",
    "predict_linear", "present_over_time", "quantile", "quantile_over_time", "rate", "resets",
    "round", "scalar", "sgn", "sort", "sort_desc", "sqrt", "stddev", "stddev_over_time", "stdvar",
    "stdvar_over_time", "sum", "sum_over_time", "time", "timestamp", "topk", "vector", "year",
}
KEYWORDS = {"and", "or", "unless", "offset", "bool", "by", "without", "on", "ignoring",
            "group_left", "group_right", "inf", "nan", "atan2"}
GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)")
DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")


def emitted_metrics() -> dict[str, set[str]]:
    """Series name -> its label names, from the metrics macros in the services' source."""
    metrics: dict[str, set[str]] = {}
    for path in glob.glob(os.path.join(ROOT, "services", "**", "*.rs"), recursive=True):
        if f"{os.sep}tests{os.sep}" in path:
            continue
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for kind, name, args in ((m.group(1), m.group(2), m.group(3)) for m in METRIC_CALL.finditer(text)):
            labels = set(re.findall(r'"([a-zA-Z_][a-zA-Z0-9_]*)"\s*=>', args))
            if kind == "histogram":
                metrics.setdefault(f"{name}_bucket", set()).update(labels | {"le"})
                metrics.setdefault(f"{name}_sum", set()).update(labels)
                metrics.setdefault(f"{name}_count", set()).update(labels)
            else:
                metrics.setdefault(name, set()).update(labels)
    metrics["up"] = set()
    return metrics


def strip_strings(expr: str) -> str:
    return re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)


def check_promql(expr: str, where: str, metrics: dict[str, set[str]]) -> list[str]:
    problems = []
    # Grafana's variables stand for a duration or a label value.
    expr = re.sub(r"\$__(rate_)?interval|\$__range", "5m", expr)
    expr = re.sub(r"\$\{?([A-Za-z_]\w*)\}?", r"\1", expr)
    bare = strip_strings(expr)
    stack = []
    pairs = {")": "(", "]": "[", "}": "{"}
    for ch in bare:
        if ch in "([{":
            stack.append(ch)
        elif ch in ")]}":
            if not stack or stack.pop() != pairs[ch]:
                problems.append(f"{where}: unbalanced '{ch}'")
                break
    else:
        if stack:
            problems.append(f"{where}: unclosed '{stack[-1]}'")
    if problems:
        return problems
    used: set[str] = set()
    unknown_metric = False
    # Selectors: metric{matchers}, or {matchers} alone.
    for m in re.finditer(r"([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*\{([^{}]*)\}", bare):
        name = m.group(1)
        matchers = re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", m.group(2))
        if name in KEYWORDS or name in PROMQL_FUNCTIONS:
            name = None
        if name is None:
            problems.append(f"{where}: a selector without a metric name ({m.group(0)})")
            continue
        if name not in metrics:
            continue  # reported below
        for label in matchers:
            if label not in metrics[name] | TARGET_LABELS:
                problems.append(f"{where}: {name} has no label {label!r} "
                                f"(it has {', '.join(sorted(metrics[name])) or 'only target labels'})")
    rest = re.sub(r"\{[^{}]*\}", " ", bare)
    rest = re.sub(r"\[[^\[\]]*\]", " ", rest)
    groupings = GROUPING.findall(rest)
    rest = GROUPING.sub(" ", rest)
    rest = re.sub(r'""', " ", rest)
    rest = re.sub(r"(?<![\w.])\d+(?:\.\d+)?(?:e[+-]?\d+)?(?:ms|[smhdwy])*(?![\w])", " ", rest)
    for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?", rest):
        word, call = m.group(0).rstrip("( \t\n"), bool(m.group(1))
        if word in KEYWORDS:
            continue
        if call:
            if word not in PROMQL_FUNCTIONS:
                problems.append(f"{where}: unknown function {word}()")
        elif word in metrics:
            used.add(word)
        else:
            unknown_metric = True
            near = [n for n in metrics if n.split("_")[:3] == word.split("_")[:3]]
            problems.append(f"{where}: no service emits {word}" + (f" (did you mean {', '.join(sorted(near))}?)" if near else ""))
    available = set().union(*(metrics[n] for n in used)) | TARGET_LABELS if used else TARGET_LABELS
    for _, labels in [] if unknown_metric else groupings:
        for label in (x.strip() for x in labels.split(",")):
            if label and label not in available:
                problems.append(f"{where}: groups by {label!r}, which none of {', '.join(sorted(used))} has")
    return problems


def github_anchors(path: str) -> set[str]:
    """The anchors GitHub gives the headings of a markdown file."""
    anchors, seen = set(), {}
    in_code = False
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("```"):
                in_code = not in_code
            m = None if in_code else re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
            if not m:
                continue
            slug = re.sub(r"[^\w\- ]", "", m.group(1).lower()).replace(" ", "-")
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            anchors.add(slug if n == 0 else f"{slug}-{n}")
    return anchors


def check_alerts(metrics: dict[str, set[str]], anchors: set[str]) -> tuple[list[str], list[str]]:
    problems: list[str] = []
    names: list[str] = []
    doc = load_yaml(ALERTS)
    if not isinstance(doc, dict) or set(doc) != {"groups"} or not isinstance(doc["groups"], list):
        return [f"{rel(ALERTS)}: must hold exactly one key, groups, a list"], names
    group_names = set()
    for g in doc["groups"]:
        gname = g.get("name")
        if not gname or gname in group_names:
            problems.append(f"{rel(ALERTS)}: group name {gname!r} missing or repeated")
        group_names.add(gname)
        unknown = set(g) - {"name", "rules", "interval", "limit", "query_offset", "labels"}
        if unknown:
            problems.append(f"{rel(ALERTS)}: group {gname}: unknown keys {sorted(unknown)}")
        for i, r in enumerate(g.get("rules") or []):
            where = f"{rel(ALERTS)}: {gname}/{r.get('alert') or r.get('record') or i}"
            if "alert" not in r:
                if "record" not in r:
                    problems.append(f"{where}: neither alert nor record")
                elif "expr" in r:
                    problems += check_promql(str(r["expr"]), where, metrics)
                continue
            unknown = set(r) - {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}
            if unknown:
                problems.append(f"{where}: unknown keys {sorted(unknown)}")
            if not re.fullmatch(r"[A-Z][A-Za-z0-9]*", r["alert"]):
                problems.append(f"{where}: alert names are CamelCase")
            if r["alert"] in names:
                problems.append(f"{where}: alert name repeated")
            names.append(r["alert"])
            if "for" not in r or not DURATION.match(str(r["for"])):
                problems.append(f"{where}: `for` missing or not a duration ({r.get('for')!r})")
            severity = (r.get("labels") or {}).get("severity")
            if severity not in ("warning", "critical"):
                problems.append(f"{where}: labels.severity is {severity!r}, not warning or critical")
            ann = r.get("annotations") or {}
            for key in ("summary", "description", "runbook_url"):
                if not ann.get(key):
                    problems.append(f"{where}: annotations.{key} missing")
            url = ann.get("runbook_url", "")
            m = re.fullmatch(r"(?:.*/)?docs/observability\.md#([\w-]+)", url)
            if url and not m:
                problems.append(f"{where}: runbook_url {url!r} does not point into docs/observability.md")
            elif m and m.group(1) not in anchors:
                problems.append(f"{where}: runbook_url anchor #{m.group(1)} is not a heading of docs/observability.md")
            for key, text in list(ann.items()) + list((r.get("labels") or {}).items()):
                if str(text).count("{{") != str(text).count("}}"):
                    problems.append(f"{where}: {key}: unbalanced {{{{ }}}}")
            if not r.get("expr"):
                problems.append(f"{where}: expr missing")
            else:
                problems += check_promql(str(r["expr"]), where, metrics)
    return problems, names


def walk_panels(panels):
    for p in panels or []:
        yield p
        yield from walk_panels(p.get("panels"))


def check_dashboards(metrics: dict[str, set[str]]) -> list[str]:
    problems = []
    uids = set()
    for path in sorted(glob.glob(os.path.join(OBS, "grafana", "provisioning", "datasources", "*.y*ml"))):
        uids |= {d.get("uid") for d in (load_yaml(path) or {}).get("datasources", [])}
    files = sorted(glob.glob(os.path.join(OBS, "grafana", "dashboards", "**", "*.json"), recursive=True))
    if not files:
        problems.append("observability/grafana/dashboards: no dashboard")
    dash_uids = set()
    for path in files:
        name = rel(path)
        try:
            with open(path, encoding="utf-8") as f:
                dash = json.load(f)
        except ValueError as e:
            problems.append(f"{name}: not valid JSON: {e}")
            continue
        if not dash.get("uid") or dash["uid"] in dash_uids:
            problems.append(f"{name}: uid missing or used by another dashboard")
        dash_uids.add(dash.get("uid"))
        variables = {v.get("name") for v in dash.get("templating", {}).get("list", [])}
        for v in dash.get("templating", {}).get("list", []):
            query = v.get("query")
            query = query.get("query", "") if isinstance(query, dict) else str(query or "")
            m = re.fullmatch(r"label_values\((?:(.*),\s*)?([a-zA-Z_]\w*)\)", query.strip())
            if v.get("type") == "query" and m and m.group(1):
                problems += check_promql(m.group(1), f"{name}: variable {v.get('name')}", metrics)
                sel = re.match(r"[a-zA-Z_:][\w:]*", m.group(1).strip())
                if sel and sel.group(0) in metrics and m.group(2) not in metrics[sel.group(0)] | TARGET_LABELS:
                    problems.append(f"{name}: variable {v.get('name')}: {sel.group(0)} has no label {m.group(2)!r}")
        ids = set()
        bad_uids: dict[str, list[str]] = {}
        for p in walk_panels(dash.get("panels")):
            where = f"{name}: panel {p.get('id')} {p.get('title')!r}"
            if p.get("id") in ids:
                problems.append(f"{where}: id repeated")
            ids.add(p.get("id"))
            sources = [p.get("datasource")] + [t.get("datasource") for t in p.get("targets", [])]
            for ds in sources:
                if isinstance(ds, dict) and ds.get("type") == "prometheus" and ds.get("uid") not in uids:
                    bad_uids.setdefault(ds.get("uid"), []).append(str(p.get("id")))
            for t in p.get("targets", []):
                expr = t.get("expr", "")
                for var in re.findall(r"\$\{?([A-Za-z]\w*)", expr):
                    if var not in variables:
                        problems.append(f"{where}: uses ${var}, which the dashboard does not define")
                problems += check_promql(expr, f"{where} {t.get('refId')}", metrics)
        for uid, panel_ids in bad_uids.items():
            problems.append(f"{name}: data source uid {uid!r} (panels {', '.join(sorted(set(panel_ids), key=int))}) "
                            f"is not one the provisioning defines ({', '.join(sorted(u for u in uids if u))})")
    return problems


def check_observability() -> list[str]:
    metrics = emitted_metrics()
    if len(metrics) <= 1:
        return ["no metrics::counter!/gauge!/histogram! found under services/"]
    problems = []
    anchors = github_anchors(OBS_DOC) if os.path.exists(OBS_DOC) else set()
    if not anchors:
        problems.append("docs/observability.md is missing or has no headings")
    if os.path.exists(ALERTS):
        alert_problems, alert_names = check_alerts(metrics, anchors)
        problems += alert_problems
    else:
        problems.append(f"{rel(ALERTS)} is missing")
        alert_names = []
    problems += check_dashboards(metrics)
    if os.path.exists(OBS_DOC):
        with open(OBS_DOC, encoding="utf-8") as f:
            doc = f.read()
        base = {re.sub(r"_(bucket|sum|count)$", "", n) for n in metrics if n != "up"}
        for n in sorted(base):
            if not re.search(rf"\b{re.escape(n)}\b", doc):
                problems.append(f"docs/observability.md does not mention metric {n}")
        for a in alert_names:
            if not re.search(rf"\b{re.escape(a)}\b", doc):
                problems.append(f"docs/observability.md does not mention alert {a}")
    return problems



def main() -> int:
    failed = 0
    for name, check in [("values", check_values), ("templates", check_templates),
                        ("image", check_image), ("compose", check_compose),
                        ("observability", check_observability)]:
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
