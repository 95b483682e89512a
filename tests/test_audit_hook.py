"""What a request shows or refuses is audited by one after_request hook (monitor/audit.py),
once the response is rendered and in a commit of its own."""
import pytest
from sqlalchemy import select
from werkzeug.exceptions import NotFound

from monitor import audit
from monitor.access import refuse
from monitor.extensions import db
from monitor.models import AuditEvent, User


def actions() -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def test_a_refusal_stores_nothing_the_request_had_changed_and_is_audited(app, users):
    with app.test_request_context("/patients/1/status", method="POST"):
        users.patient_a.status = "discharged"  # a change made before the refusal
        with pytest.raises(NotFound) as refused:
            refuse(target_type="patient", target_id=users.patient_a.id)
        app.process_response(refused.value.get_response())
    db.session.expire_all()
    assert db.session.get(User, users.patient_a.id).status == "active"
    [event] = db.session.scalars(select(AuditEvent)).all()
    assert (event.action, event.target_type, event.target_id) == ("access.refused", "patient", users.patient_a.id)


def test_events_are_written_for_a_page_and_a_refusal_but_not_for_a_failure(app, users):
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer 500 as in production

    @app.get("/test/shown")
    def shown():
        audit.after_response("test.viewed", detail="page")
        return "ok"

    @app.get("/test/broken")
    def broken():
        audit.after_response("test.viewed", detail="never shown")
        raise RuntimeError("the page failed before it was shown")

    client = app.test_client()
    assert client.get("/test/shown").status_code == 200
    assert client.get("/test/broken").status_code == 500
    assert actions() == ["test.viewed"]
