"""Reads pip-audit's JSON report (requirements/audit) and says what it means for CI.

Exit 0: every pinned package was checked and none has a known vulnerability.
Exit 1: a known vulnerability, or some packages could not be checked while others could (a
        package the advisory service does not know cannot be vouched for).
Exit 3: no package could be checked at all: the advisory service did not answer for any of them
        (a machine whose package index is a mirror without PyPI's per-release pages, say). Not a
        pass; .ci/run says so loudly.

pip-audit itself exits 0 when it skipped everything ("No known vulnerabilities found"), which is
why the report is read here instead of trusting its exit status.
"""
import json
import sys

CLEAN, VULNERABLE, NOTHING_CHECKED = 0, 1, 3


def verdict(report: dict) -> tuple[int, list[str]]:
    dependencies = report["dependencies"]
    skipped = [d for d in dependencies if "skip_reason" in d]
    checked = [d for d in dependencies if "skip_reason" not in d]
    lines = []
    for dep in checked:
        for vuln in dep["vulns"]:
            fix = ", ".join(vuln["fix_versions"]) or "no fixed release yet"
            names = " ".join([vuln["id"], *vuln.get("aliases", [])])
            lines.append(f"VULNERABLE {dep['name']} {dep['version']}: {names}; fixed in: {fix}")
    if lines:
        return VULNERABLE, lines + ["Raise the floor in pyproject.toml and run requirements/lock."]
    if dependencies and not checked:
        return NOTHING_CHECKED, [f"pip-audit could check none of the {len(skipped)} pinned packages; "
                                 f"the first said: {skipped[0]['skip_reason']}"]
    if skipped:
        return VULNERABLE, [f"NOT CHECKED {d['name']}: {d['skip_reason']}" for d in skipped]
    return CLEAN, [f"pip-audit: no known vulnerability in {len(checked)} pinned packages"]


def main(path: str) -> int:
    with open(path, encoding="utf-8") as f:
        code, lines = verdict(json.load(f))
    print("\n".join(lines), file=sys.stdout if code == CLEAN else sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
