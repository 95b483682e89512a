"""The test suite's own layout: test modules build their data with tests/factories.py, import
nothing from a conftest (fixtures come in by name; helpers from factories.py), keep no copy of a
factory, and add check-ins, treatment sessions and audit events only through factories.py, which
goes through the app's services. Read with `ast`, so nothing here imports a test module."""
import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
FACTORIES = TESTS / "factories.py"

# Models whose rows the app writes through a service (save_checkin, record_treatment and
# update_treatment, audit.record, standard_gad7.save): outside factories.py no test constructs one itself.
SERVICE_MODELS = {"CheckIn", "CheckInRevision", "Treatment", "TreatmentRevision", "AuditEvent", "AuditEventPatient",
                  "StandardGad7"}

# A test whose very point is a raw or legacy row may construct one: list it here with the reason,
# as {(path under tests/, model name): "why the service cannot make this row"}. Empty today.
RAW_ROWS_ALLOWED: dict[tuple[str, str], str] = {}


def factory_names() -> set[str]:
    """The public functions and constants of factories.py."""
    names = set()
    for node in ast.parse(FACTORIES.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return {n for n in names if not n.startswith("_")}


def _constructed(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def problems(relative: str, source: str, factories: set[str]) -> list[str]:
    """What is wrong with one module under tests/ (relative: its path there, as "test_x.py")."""
    tree = ast.parse(source)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if module.split(".")[-1] == "conftest":
                found.append(f"{relative}:{node.lineno} imports from {'.' * node.level}{module}")
            elif module != "tests.factories":
                for alias in node.names:
                    if alias.name in factories:
                        found.append(f"{relative}:{node.lineno} imports {alias.name} from {module}, "
                                     "not from tests.factories")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[-1] == "conftest":
                    found.append(f"{relative}:{node.lineno} imports {alias.name}")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name in factories:
            found.append(f"{relative}:{node.lineno} defines its own {node.name}(); use tests.factories.{node.name}")
        elif isinstance(node, ast.Call) and relative != "factories.py":
            model = _constructed(node)
            if model in SERVICE_MODELS and (relative, model) not in RAW_ROWS_ALLOWED:
                found.append(f"{relative}:{node.lineno} constructs {model}( directly; use tests.factories")
    for node in tree.body:  # module-level constants: NOW, TODAY, PASSWORD... live in factories.py
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, ast.AnnAssign) else []
        for target in targets:
            if isinstance(target, ast.Name) and target.id in factories and relative != "factories.py":
                found.append(f"{relative}:{node.lineno} sets its own {target.id}; use tests.factories.{target.id}")
    return found


def modules() -> list[Path]:
    """Every Python file under tests/ but factories.py (conftest files included)."""
    return sorted(p for p in TESTS.rglob("*.py") if p != FACTORIES)


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(TESTS)))
def test_no_module_imports_from_conftest_copies_a_factory_or_builds_rows_itself(path):
    assert problems(str(path.relative_to(TESTS)), path.read_text(), factory_names()) == []


def test_factories_builds_rows_only_through_the_services_or_says_why_not():
    """In factories.py itself, a constructor of a service model carries a comment saying why."""
    lines = FACTORIES.read_text().splitlines()
    for node in ast.walk(ast.parse(FACTORIES.read_text())):
        if isinstance(node, ast.Call) and _constructed(node) in SERVICE_MODELS:
            before = lines[max(0, node.lineno - 4):node.lineno - 1]
            assert any(line.strip().startswith("#") for line in before), \
                f"factories.py:{node.lineno} constructs {_constructed(node)}( without a comment saying why"


def test_every_factory_is_documented_in_one_line():
    for node in ast.parse(FACTORIES.read_text()).body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            doc = ast.get_docstring(node)
            assert doc and "\n" not in doc, f"factories.{node.name} needs a one-line docstring"


def test_the_allow_list_names_modules_that_exist():
    for (relative, model), reason in RAW_ROWS_ALLOWED.items():
        assert (TESTS / relative).exists() and model in SERVICE_MODELS and reason.strip()


@pytest.mark.parametrize("source, complaint", [
    ("from tests.conftest import login\n", "imports from tests.conftest"),
    ("from .conftest import NOW\n", "imports from .conftest"),
    ("import tests.conftest\n", "imports tests.conftest"),
    ("from tests.browser.conftest import CHROMIUM\n", "imports from tests.browser.conftest"),
    ("from tests.test_nudges import add_patient\n", "imports add_patient from tests.test_nudges"),
    ("def day(n):\n    return n\n", "defines its own day()"),
    ("def events(action):\n    return []\n", "defines its own events()"),
    ("def test_x():\n    def add_checkin():\n        pass\n", "defines its own add_checkin()"),
    ("NOW = None\n", "sets its own NOW"),
    ("db.session.add(CheckIn(patient_id=1))\n", "constructs CheckIn( directly"),
    ("t = models.Treatment(route='oral')\n", "constructs Treatment( directly"),
    ("AuditEvent(action='x')\n", "constructs AuditEvent( directly"),
])
def test_the_layout_check_catches_each_kind_of_problem(source, complaint):
    [problem] = problems("test_example.py", source, factory_names())
    assert complaint in problem
