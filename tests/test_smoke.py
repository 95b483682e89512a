from tests.conftest import login


def test_login_then_checkin_page(client, users):
    login(client, users.patient_a)
    r = client.get("/checkin")
    assert r.status_code == 200
    assert b"Feeling nervous, anxious, or on edge" in r.data
