"""The shape rule ruff cannot check: no function body in cmkt/ is longer than 60 lines (issue 28).

A body is counted from its first statement (its docstring): a Typer command's signature is its
list of options, one declaration each, and says nothing about how much the function does."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "cmkt"
LONGEST = 60


def body_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    return node.end_lineno - node.body[0].lineno + 1


def test_no_function_body_in_the_package_is_longer_than_60_lines():
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and body_lines(node) > LONGEST:
                long.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name} ({body_lines(node)})")
    assert not long, f"split these (at most {LONGEST} lines each): {long}"


def test_the_rule_sees_a_long_function():
    source = "def f():\n" + "".join(f"    x{i} = {i}\n" for i in range(LONGEST + 1))
    assert body_lines(ast.parse(source).body[0]) == LONGEST + 1
