"""The benchmarks drive the app's own pages and forms, outside the suite. What they read of the
pages is checked here, so that a change to a page breaks a test today rather than the benchmark
at its next run (the check-in's day became a link in issue 13, and the write benchmark found
no day to send until it was run again)."""
import sys
from pathlib import Path

from monitor.extensions import db
from monitor.models import CheckIn

from tests.factories import PASSWORD, TODAY, add_patient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import checkin_write  # noqa: E402  (benchmarks/checkin_write.py)


def test_the_write_benchmark_signs_in_and_sends_check_ins_the_app_saves(app):
    app.config["WTF_CSRF_ENABLED"] = True  # the benchmark sends the form's token, as a phone does
    app.config["SESSION_COOKIE_SECURE"] = False  # and speaks plain http on loopback
    patients = [add_patient(f"w{n}@bench.test") for n in range(2)]
    db.session.commit()

    forms = checkin_write.sessions(app, "w", patients=2, password=PASSWORD)

    assert len(forms) == 2 * checkin_write.VARIANTS
    for form in forms:
        client = app.test_client()  # (the test client sends its own cookies, not a Cookie header)
        client.set_cookie(*form["cookie"].split("=", 1))
        response = client.post("/checkin", data=form["body"],
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert response.status_code == 303, response.get_data(as_text=True)
    saved = db.session.scalars(db.select(CheckIn).where(CheckIn.patient_id.in_([p.id for p in patients]))).all()
    assert sorted(c.patient_id for c in saved) == sorted(p.id for p in patients)
    assert {c.local_date for c in saved} == {TODAY}
    # The last of a patient's variants is the one kept: each send replaced the one before.
    assert {c.total for c in saved} == {sum((i + checkin_write.VARIANTS - 1) % 4 for i in range(1, 8))}


def test_the_profile_of_a_checkin_sends_check_ins_the_app_saves():
    """benchmarks/checkin_profile.py calls the app with the write benchmark's forms, on a
    database of its own: every check-in it profiles must be one the app saved (303)."""
    import checkin_profile  # noqa: E402  (benchmarks/checkin_profile.py)

    result = checkin_profile.measure("sqlite", history_days=14, requests=6, patients=2)

    assert result["calls"] > 1000  # a whole request: sign-in checks, form, save, analysis update
    assert result["cpu_ms"] > 0
    profiled = {name for _, _, name in result["stats"].stats}
    assert {"save_checkin", "plan_checkin", "apply_checkin"} <= profiled
