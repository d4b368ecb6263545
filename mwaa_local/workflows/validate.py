"""Check workflow YAML files against MWAA Serverless's rules, naming the file, line and key of
every finding.

Reads with PyYAML's compose(): its nodes carry the line each key and value starts on, and PyYAML
is already a dependency (and what dag-factory itself reads with), so the file is read the way the
service's loader reads it. Values are built from single nodes with PyYAML's safe constructor.
"""

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from mwaa_local.workflows import rules
from mwaa_local.workflows.rules import ERROR, Problem

FILE_KEY = "(file)"
YAML_KEY = "(yaml)"


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    key: str
    severity: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.severity}: {self.key}: {self.message}"


def has_errors(findings: Iterable[Finding]) -> bool:
    return any(f.severity == ERROR for f in findings)


def validate_files(
    paths: Iterable[Path],
    extra_operators: Iterable[str] = (),
    now: datetime | None = None,
    max_active_runs_limit: int = rules.MAX_ACTIVE_RUNS_LIMIT,
) -> list[Finding]:
    """Every file's findings, in file order then line order."""
    extra = tuple(extra_operators)
    findings: list[Finding] = []
    for path in paths:
        findings += validate_file(path, extra, now, max_active_runs_limit)
    return findings


def validate_file(
    path: Path,
    extra_operators: Iterable[str] = (),
    now: datetime | None = None,
    max_active_runs_limit: int = rules.MAX_ACTIVE_RUNS_LIMIT,
) -> list[Finding]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        return [Finding(str(path), 1, FILE_KEY, ERROR, f"cannot be read: {e}")]
    return validate_text(text, str(path), extra_operators, now, max_active_runs_limit)


def validate_text(
    text: str,
    file: str,
    extra_operators: Iterable[str] = (),
    now: datetime | None = None,
    max_active_runs_limit: int = rules.MAX_ACTIVE_RUNS_LIMIT,
) -> list[Finding]:
    """The findings for one file's text (`file` names it in the findings)."""
    checker = _Checker(
        file=file,
        allowed=rules.allowed_operators(extra_operators),
        now=now or rules.utc_now(),
        max_active_runs_limit=max_active_runs_limit,
    )
    checker.check_text(text)
    return sorted(checker.findings, key=lambda f: f.line)


def _line(node: Node) -> int:
    return node.start_mark.line + 1


@dataclass
class _Entry:
    """One key of a mapping: its name, the key's node and the value's node."""

    name: str
    key: Node
    value: Node


@dataclass
class _Task:
    task_id: str
    node: Node  # where the task is named
    dependencies: list[tuple[str, Node]] = field(default_factory=list)
    dependencies_node: Node | None = None


@dataclass
class _Checker:
    file: str
    allowed: frozenset[str]
    now: datetime
    max_active_runs_limit: int
    findings: list[Finding] = field(default_factory=list)

    def add(self, node: Node, key: str, problem: Problem | None) -> None:
        if problem is not None:
            self.findings.append(
                Finding(self.file, _line(node), key, problem.severity, problem.message)
            )

    def fail(self, node: Node, key: str, message: str) -> None:
        self.add(node, key, rules.error(message))

    def value(self, node: Node, key: str) -> tuple[bool, Any]:
        """The node's Python value; (False, None) after reporting a value YAML cannot build."""
        try:
            return True, SafeConstructor().construct_object(node, deep=True)
        except yaml.YAMLError as e:
            self.fail(node, key, f"cannot be read: {getattr(e, 'problem', None) or e}")
            return False, None

    def entries(self, node: MappingNode, prefix: str) -> dict[str, _Entry]:
        """A mapping's keys (the last of duplicates, as YAML loaders keep), warning on
        duplicates and failing on keys that are not plain strings."""
        found: dict[str, _Entry] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self.fail(key_node, prefix or YAML_KEY, "a key must be a plain string")
                continue
            name = str(key_node.value)
            if name in found:
                self.add(
                    key_node,
                    _join(prefix, name),
                    rules.warning(
                        f"duplicate key {name!r} (first on line {_line(found[name].key)}): "
                        "only this one is kept"
                    ),
                )
            found[name] = _Entry(name, key_node, value_node)
        return found

    # --- the file -------------------------------------------------------------------------

    def check_text(self, text: str) -> None:
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            line = mark.line + 1 if mark else 1
            message = " ".join(str(p) for p in (e.context, e.problem) if p)
            self.findings.append(
                Finding(self.file, line, YAML_KEY, ERROR, f"invalid YAML: {message}")
            )
            return
        except yaml.YAMLError as e:
            self.findings.append(Finding(self.file, 1, YAML_KEY, ERROR, f"invalid YAML: {e}"))
            return
        if root is None:
            self.findings.append(
                Finding(
                    self.file,
                    1,
                    FILE_KEY,
                    ERROR,
                    "is empty: a workflow maps a DAG name to its definition",
                )
            )
            return
        if not isinstance(root, MappingNode):
            self.fail(
                root,
                FILE_KEY,
                "must map a DAG name to its definition (dag_id, schedule, tasks, ...)",
            )
            return
        top = self.entries(root, "")
        dags = [e for name, e in top.items() if name not in rules.DAG_FACTORY_TOP_LEVEL]
        if "default" in top:
            self.check_dag_parameters(top["default"], "default", defaults=True)
        if not dags:
            self.fail(
                root,
                FILE_KEY,
                "defines no DAG: a workflow maps a DAG name to its "
                "definition (dag_id, schedule, tasks, ...)",
            )
        for entry in dags:
            self.check_dag(entry)

    # --- DAG level ------------------------------------------------------------------------

    def check_dag(self, entry: _Entry) -> None:
        name = entry.name
        if not isinstance(entry.value, MappingNode):
            self.fail(entry.key, name, "a DAG's definition must be a mapping of its parameters")
            return
        params = self.check_dag_parameters(entry, name, defaults=False)
        if params is None:
            return
        if "dag_id" in params:
            ok, dag_id = self.value(params["dag_id"].value, f"{name}.dag_id")
            if ok:
                self.add(params["dag_id"].value, f"{name}.dag_id", rules.dag_id_problem(dag_id))
        else:
            # dag-factory names the DAG after its key when dag_id is absent.
            self.add(entry.key, name, rules.dag_id_problem(name))
        groups = self.task_group_names(params.get("task_groups"), name)
        tasks = self.check_tasks(params.get("tasks"), entry, name)
        self.check_dependencies(tasks, groups, name)

    def check_dag_parameters(
        self, entry: _Entry, name: str, defaults: bool
    ) -> dict[str, _Entry] | None:
        """The checks on DAG parameters (for a DAG, or dag-factory's shared `default` block)."""
        if not isinstance(entry.value, MappingNode):
            if defaults:
                self.fail(entry.key, name, "must be a mapping of DAG parameters")
            return None
        params = self.entries(entry.value, name)
        for param, message in rules.REMOVED_DAG_PARAMETERS.items():
            if param in params:
                self.fail(params[param].key, f"{name}.{param}", message)
        for param in rules.IGNORED_DAG_PARAMETERS:
            if param in params:
                self.add(params[param].key, f"{name}.{param}", rules.ignored_parameter(param))
        if "schedule" in params:
            ok, schedule = self.value(params["schedule"].value, f"{name}.schedule")
            if ok:
                self.add(
                    params["schedule"].value, f"{name}.schedule", rules.schedule_problem(schedule)
                )
        if "max_active_runs" in params:
            node = params["max_active_runs"].value
            ok, runs = self.value(node, f"{name}.max_active_runs")
            if ok:
                problem = rules.max_active_runs_problem(runs, self.max_active_runs_limit)
                self.add(node, f"{name}.max_active_runs", problem)
        default_args = self.check_default_args(params.get("default_args"), name)
        self.check_dates(params, default_args, name)
        return params

    def check_default_args(self, entry: _Entry | None, dag: str) -> dict[str, _Entry]:
        if entry is None:
            return {}
        key = f"{dag}.default_args"
        if not isinstance(entry.value, MappingNode):
            ok, value = self.value(entry.value, key)
            if ok and value is not None:
                self.fail(entry.value, key, "default_args must be a mapping")
            return {}
        args = self.entries(entry.value, key)
        for param in rules.IGNORED_DEFAULT_ARGS:
            if param in args:
                self.add(args[param].key, f"{key}.{param}", rules.ignored_parameter(param))
        self.check_task_parameters(args, key)
        return args

    def check_dates(
        self, params: dict[str, _Entry], default_args: dict[str, _Entry], dag: str
    ) -> None:
        """start_date and end_date, at the DAG level or in default_args (the DAG's own win)."""
        values: dict[str, tuple[Any, Node, str]] = {}
        for where, found in ((f"{dag}.default_args", default_args), (dag, params)):
            for name in ("start_date", "end_date"):
                if name in found:
                    key = f"{where}.{name}"
                    ok, value = self.value(found[name].value, key)
                    if ok and value is not None:
                        values[name] = (value, found[name].value, key)
                        if name == "start_date":
                            self.add(
                                found[name].value, key, rules.start_date_problem(value, self.now)
                            )
        if "end_date" in values:
            end, node, key = values["end_date"]
            start = values.get("start_date", (None,))[0]
            self.add(node, key, rules.end_date_problem(end, start, self.now))

    # --- task level -----------------------------------------------------------------------

    def check_task_parameters(self, params: dict[str, _Entry], prefix: str) -> None:
        for name, check in rules.TASK_CHECKS.items():
            if name in params:
                node = params[name].value
                ok, value = self.value(node, f"{prefix}.{name}")
                if ok:
                    self.add(node, f"{prefix}.{name}", check(value))

    def task_group_names(self, entry: _Entry | None, dag: str) -> set[str]:
        """Task groups' names, which dependencies may also name (dag-factory)."""
        if entry is None:
            return set()
        if isinstance(entry.value, MappingNode):
            return set(self.entries(entry.value, f"{dag}.task_groups"))
        ok, groups = self.value(entry.value, f"{dag}.task_groups")
        if ok and isinstance(groups, list):
            return {g["group_name"] for g in groups if isinstance(g, dict) and "group_name" in g}
        return set()

    def task_entries(self, entry: _Entry, dag: str) -> Iterator[tuple[str, Node, Node]]:
        """(task_id, the node naming it, the task's node): dag-factory takes tasks as a mapping
        of task_id to parameters, or as a list of parameters each with a task_id."""
        key = f"{dag}.tasks"
        if isinstance(entry.value, MappingNode):
            for name, task in self.entries(entry.value, key).items():
                yield name, task.key, task.value
            return
        if not isinstance(entry.value, SequenceNode):
            self.fail(entry.value, key, "tasks must be a mapping of task_id to its parameters")
            return
        seen: dict[str, int] = {}
        for item in entry.value.value:
            id_node = None
            if isinstance(item, MappingNode):
                id_node = next(
                    (
                        v
                        for k, v in item.value
                        if isinstance(k, ScalarNode) and k.value == "task_id"
                    ),
                    None,
                )
            if id_node is None or not isinstance(id_node, ScalarNode):
                self.fail(item, key, "each task in a tasks list needs a task_id")
                continue
            task_id = str(id_node.value)
            if task_id in seen:
                self.fail(
                    id_node,
                    f"{key}.{task_id}",
                    f"duplicate task_id (first on line {seen[task_id]})",
                )
                continue
            seen[task_id] = _line(id_node)
            yield task_id, id_node, item

    def check_tasks(self, entry: _Entry | None, dag_entry: _Entry, dag: str) -> list[_Task]:
        if entry is None:
            self.fail(dag_entry.key, f"{dag}.tasks", "the DAG has no tasks")
            return []
        tasks = []
        for task_id, id_node, node in self.task_entries(entry, dag):
            key = f"{dag}.tasks.{task_id}"
            self.add(id_node, key, rules.task_id_problem(task_id))
            task = _Task(task_id, id_node)
            tasks.append(task)
            if not isinstance(node, MappingNode):
                self.fail(id_node, key, "a task must be a mapping of its parameters")
                continue
            params = self.entries(node, key)
            self.check_operator(params, id_node, key)
            self.check_task_parameters(params, key)
            if "dependencies" in params:
                task.dependencies_node = params["dependencies"].key
                task.dependencies = self.dependency_names(params["dependencies"], key)
        if not tasks and isinstance(entry.value, MappingNode | SequenceNode):
            self.fail(entry.key, f"{dag}.tasks", "the DAG has no tasks")
        return tasks

    def check_operator(self, params: dict[str, _Entry], id_node: Node, key: str) -> None:
        if "operator" not in params:
            message = "the task names no operator"
            if "decorator" in params:
                message += (
                    " (dag-factory's `decorator` tasks are not among MWAA Serverless's operators)"
                )
            self.fail(id_node, f"{key}.operator", message)
            return
        node = params["operator"].value
        ok, operator = self.value(node, f"{key}.operator")
        if ok:
            self.add(node, f"{key}.operator", rules.operator_problem(operator, self.allowed))

    def dependency_names(self, entry: _Entry, key: str) -> list[tuple[str, Node]]:
        key = f"{key}.dependencies"
        node = entry.value
        if isinstance(node, ScalarNode) and node.tag.endswith(":null"):
            return []
        if not isinstance(node, SequenceNode):
            self.fail(node, key, "dependencies must be a list of task_ids")
            return []
        names = []
        for item in node.value:
            if not isinstance(item, ScalarNode) or not item.tag.endswith(":str"):
                self.fail(item, key, "each dependency must be a task_id")
                continue
            names.append((item.value, item))
        return names

    def check_dependencies(self, tasks: Sequence[_Task], groups: set[str], dag: str) -> None:
        known = {t.task_id for t in tasks}
        graph: dict[str, list[str]] = {}
        for task in tasks:
            graph[task.task_id] = []
            for name, node in task.dependencies:
                if name in known:
                    graph[task.task_id].append(name)
                elif name not in groups:
                    self.fail(
                        node,
                        f"{dag}.tasks.{task.task_id}.dependencies",
                        f"dependency {name!r} names no task of this DAG",
                    )
        by_id = {t.task_id: t for t in tasks}
        for cycle in _cycles(graph):
            first = by_id[cycle[0]]
            where = first.dependencies_node or first.node
            path = " -> ".join([*cycle, cycle[0]])
            self.fail(
                where,
                f"{dag}.tasks.{first.task_id}.dependencies",
                f"dependency cycle: {path} (each depends on the next)",
            )


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """One cycle per strongly connected component that has one (Tarjan's algorithm), each
    starting at its task that comes first in the file and following dependencies."""
    order = {name: i for i, name in enumerate(graph)}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            components.append(component)

    for node in graph:
        if node not in index:
            visit(node)

    cycles = []
    for component in components:
        members = set(component)
        if len(component) == 1 and component[0] not in graph[component[0]]:
            continue
        start = min(component, key=order.__getitem__)
        cycles.append(_path_back(graph, start, members))
    return sorted(cycles, key=lambda c: order[c[0]])


def _path_back(graph: dict[str, list[str]], start: str, members: set[str]) -> list[str]:
    """A shortest path from `start` through `members` back to `start` (breadth first)."""
    came_from: dict[str, str] = {}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in graph[node]:
            if nxt not in members:
                continue
            if nxt == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return list(reversed(path))
            if nxt not in came_from:
                came_from[nxt] = node
                queue.append(nxt)
    return [start]
