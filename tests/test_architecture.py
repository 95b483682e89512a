"""The shape of the code, checked from its source: where blueprints live, what may import
what, who commits, and one name per idea (README's Layout section says the same in prose).

Each test reads monitor/ with `ast` or `tokenize`, so it needs no app and no database."""
import ast
import io
import tokenize
from collections import defaultdict
from pathlib import Path

import monitor

ROOT = Path(monitor.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


# Alembic's scripts (monitor/migrations/) ship inside the package but are not modules of the
# app: Alembic loads them by file, and each defines its own upgrade() and downgrade().
MIGRATIONS = ROOT / "migrations"
MODULES: dict[str, Path] = {_module_name(p): p for p in sorted(ROOT.rglob("*.py")) if MIGRATIONS not in p.parents}
TREES = {name: ast.parse(path.read_text(), filename=str(path)) for name, path in MODULES.items()}


def _package_of(name: str) -> str:
    return name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]


def imports_of(name: str) -> set[str]:
    """The monitor modules this module imports, at any depth (function-level imports too)."""
    found = set()
    for node in ast.walk(TREES[name]):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = _package_of(name).split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in MODULES else base)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m in MODULES and m != name}


IMPORTS = {name: imports_of(name) for name in MODULES}


def _imports_bp_from_own_package(name: str) -> bool:
    return any(isinstance(node, ast.ImportFrom) and node.level == 1 and node.module is None
               and any(alias.name == "bp" for alias in node.names)
               for node in ast.walk(TREES[name]))


# A route module registers views on its package's blueprint: it does `from . import bp`.
ROUTE_MODULES = {name for name in MODULES if MODULES[name].name != "__init__.py" and _imports_bp_from_own_package(name)}
BLUEPRINT_PACKAGES = {_package_of(name) for name in ROUTE_MODULES}


def _calls(name: str, func_name: str):
    for node in ast.walk(TREES[name]):
        if isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if called == func_name:
                yield node


# --- One shape for blueprints.

def test_the_route_modules_are_found():
    assert BLUEPRINT_PACKAGES == {"monitor.admin", "monitor.auth", "monitor.health", "monitor.interop", "monitor.patient",
                                  "monitor.provider", "monitor.unsubscribe"}
    assert "monitor.provider.dashboard_views" in ROUTE_MODULES


def test_every_blueprint_is_defined_in_its_package_init():
    defined_in = [name for name in MODULES for _ in _calls(name, "Blueprint")]
    assert sorted(defined_in) == sorted(BLUEPRINT_PACKAGES)
    assert all(MODULES[name].name == "__init__.py" for name in defined_in)


def test_no_module_imports_a_route_module_except_its_own_blueprint_package():
    wrong = [(name, target) for name, targets in IMPORTS.items() for target in targets
             if target in ROUTE_MODULES and name != _package_of(target)]
    assert wrong == []


def test_route_modules_import_only_bp_from_their_package():
    """A route module takes `bp` (and nothing else) from its package's __init__; what it
    shares with another route module lives in a domain module or the blueprint's forms."""
    wrong = []
    for name in ROUTE_MODULES:
        for node in ast.walk(TREES[name]):
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module is None:
                package = _package_of(name)
                wrong += [f"{name}: {alias.name}" for alias in node.names  # sibling modules aside
                          if alias.name != "bp" and f"{package}.{alias.name}" not in MODULES]
    assert wrong == []


def test_no_two_modules_import_each_other():
    """Outside a blueprint package's __init__ (which imports its route modules so they
    register their views, while they import its `bp`), imports form no cycle of two."""
    mutual = sorted({tuple(sorted((a, b))) for a, targets in IMPORTS.items() for b in targets
                     if a in IMPORTS.get(b, ())})
    allowed = {tuple(sorted((_package_of(r), r))) for r in ROUTE_MODULES}
    assert [pair for pair in mutual if pair not in allowed] == []


def test_no_module_name_repeats_at_two_levels():
    """monitor/report.py and monitor/provider/report.py would need aliases to be imported together."""
    depths = defaultdict(set)
    for name in MODULES:
        for depth, part in enumerate(name.split(".")[1:], 1):
            depths[part].add(depth)
    assert {part: sorted(d) for part, d in depths.items() if len(d) > 1} == {}


# --- Who commits.

# Places other than views and commands whose correctness needs a transaction of their own.
OWN_TRANSACTIONS = {
    "monitor.audit": "what a page showed or refused, written after the page is rendered",
    "monitor.delivery": "each email's outcome, once it is known",
    "monitor.nudges": "the claim before sending",
    "monitor.outbox": "the claim before sending, and a reset's link stored with its email before it leaves",
    "monitor.ratelimit": "the attempt counted before the count is read by other workers",
    "monitor.session_store": "Flask's session, saved after the page is rendered and the view has committed",
    "monitor.sessions": "the signed-in session's touch, and ending a session that expired",
    "monitor.stored_analysis": "the background refresh after a change of settings, a batch at a time",
}
COMMANDS = {"monitor.cli", "monitor.nudges_cli", "monitor.backups_cli", "monitor.exports_cli"}


def _commit_lines(name: str) -> list[int]:
    return [node.lineno for node in _calls(name, "commit")]


def test_only_views_commands_and_named_places_commit():
    committing = {name for name in MODULES if _commit_lines(name)}
    assert committing - ROUTE_MODULES - COMMANDS - OWN_TRANSACTIONS.keys() == set()
    # The list is short and true: every place on it does commit.
    assert OWN_TRANSACTIONS.keys() <= committing


def test_every_commit_outside_views_and_commands_says_why():
    silent = []
    for name in OWN_TRANSACTIONS:
        lines = MODULES[name].read_text().splitlines()
        for lineno in _commit_lines(name):
            here, before = lines[lineno - 1], lines[lineno - 2].strip()
            if "#" not in here and not before.startswith("#"):
                silent.append(f"{name}:{lineno}")
    assert silent == []


def test_views_write_viewed_and_export_audits_through_the_one_hook():
    """`record()` is for changes; what a page shows goes through audit.after_response, whose
    hook writes it once the page is rendered (an earlier commit would reload every row)."""
    direct = []
    for name in MODULES:
        for call in _calls(name, "record"):
            first = call.args[0] if call.args else None
            text = first.value if isinstance(first, ast.Constant) else ast.unparse(first) if first else ""
            if ".viewed" in text or "export." in text:
                direct.append(f"{name}:{call.lineno} {text}")
    # The command line has no response to hook into: it records its export itself.
    assert direct == ["monitor.cli:" + str(_line_of("monitor.cli", '"export.durability"')) + " export.durability",
                      "monitor.exports_cli:" + str(_line_of("monitor.exports_cli", '"export.fhir"')) + " export.fhir",
                      "monitor.exports_cli:" + str(_line_of("monitor.exports_cli", '"export.research"'))
                      + " export.research"]


def _line_of(name: str, text: str) -> int:
    return next(n for n, line in enumerate(MODULES[name].read_text().splitlines(), 1) if text in line)


# --- One place, one name.

def test_configuration_defaults_live_in_config_only():
    elsewhere = []
    for name in MODULES:
        if name == "monitor.config":
            continue
        for call in _calls(name, "setdefault"):
            if "config" in ast.unparse(call.func):
                elsewhere.append(f"{name}:{call.lineno}")
        for call in _calls(name, "get"):
            if "config" in ast.unparse(call.func) and len(call.args) > 1:
                elsewhere.append(f"{name}:{call.lineno}")
    assert elsewhere == []


# Deliberately the same name in several modules, each read with its module's name.
SHARED_NAMES = {"init_app", "enforce", "build", "SaveResult", "Chart"}


def test_a_public_name_is_defined_in_one_module():
    """Two `is_lapsed` with different argument orders, or two `adherence` with different
    answers, were one idea living twice. View functions are left out: they are endpoints."""
    defined = defaultdict(list)
    for name, tree in TREES.items():
        if name in ROUTE_MODULES:
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
                defined[node.name].append(name)
    assert {n: m for n, m in defined.items() if len(m) > 1 and n not in SHARED_NAMES} == {}


# The only meanings of "session" in code: Flask's and SQLAlchemy's, and signing in.
SIGN_IN_SESSION_NAMES = {
    "session", "sessions", "session_epoch", "session_interface", "session_protection", "UserSession",
    "synchronize_session", "end_other_sessions", "this_session",
    # Flask's session kept on the server (monitor/session_store.py).
    "session_store", "ServerSession", "ServerSessionInterface", "SessionInterface", "SessionMixin",
    "WebSession", "open_session", "save_session", "permanent_session_lifetime", "browser_session_lifetime",
    # The addresses from before treatment sessions were "treatments" in URLs, redirected.
    "sessions_moved", "export_patient_sessions_moved", "export_clinic_sessions_moved",
}


def test_treatment_sessions_are_treatments_in_code():
    names = defaultdict(set)
    for name, path in MODULES.items():
        for token in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
            if token.type == tokenize.NAME and "session" in token.string.lower():
                names[token.string].add(name)
    assert {n: sorted(m) for n, m in names.items() if n not in SIGN_IN_SESSION_NAMES} == {}
