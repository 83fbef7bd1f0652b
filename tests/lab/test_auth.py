from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from lab.auth import bearer_matches, require_bearer


def test_bearer_matches_only_the_exact_token() -> None:
    assert bearer_matches("Bearer s3cret", "s3cret")
    assert bearer_matches("bearer s3cret", "s3cret")
    assert not bearer_matches("Bearer s3cre", "s3cret")
    assert not bearer_matches("Basic s3cret", "s3cret")
    assert not bearer_matches(None, "s3cret")
    assert not bearer_matches("Bearer ", "")


def test_require_bearer_answers_401_with_a_reason() -> None:
    app = FastAPI()

    @app.get("/private", dependencies=[Depends(require_bearer(lambda: "s3cret"))])
    def private() -> dict[str, bool]:
        return {"ok": True}

    client = TestClient(app)
    missing = client.get("/private")
    assert missing.status_code == 401
    assert missing.json()["detail"] == "missing bearer token"
    wrong = client.get("/private", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.json()["detail"] == "invalid bearer token"
    assert "nope" not in wrong.text
    assert client.get("/private", headers={"Authorization": "Bearer s3cret"}).json() == {"ok": True}
