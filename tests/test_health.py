from fastapi.testclient import TestClient

from tracker.web.app import create_app


def test_healthz_and_readyz_on_migrated_db(settings):
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
        assert ready.status_code == 200
        body = ready.json()
        assert body["status"] == "ready"
        assert body["checks"]["migrations"]["current"] == body["checks"]["migrations"]["head"]


def test_readyz_not_ready_on_empty_db(empty_db_url, tmp_path):
    from tracker.config import Settings

    s = Settings(database_url=empty_db_url, data_dir=tmp_path, run_scheduler=False)
    with TestClient(create_app(s)) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["migrations"]["ok"] is False
