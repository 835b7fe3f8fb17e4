"""The embedded server's superuser password lives with the server's secrets, and a server
initialised before that moves its password there on first use."""

from __future__ import annotations

import json

from chiso.core.config import Settings
from chiso.runtime.embedded_postgres import EmbeddedPostgres


def test_a_password_in_an_older_state_file_moves_to_the_secrets(tmp_path, monkeypatch):
    monkeypatch.setenv("CHISO_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CHISO_SERVER_HOME", raising=False)
    monkeypatch.delenv("CHISO_WAREHOUSE_URL", raising=False)
    server = EmbeddedPostgres(Settings.from_env())
    server.state_file.parent.mkdir(parents=True)
    server.state_file.write_text(json.dumps({"superuser_password": "cu-7Qz", "port": 54329}))
    assert server.superuser_password == "cu-7Qz"
    assert json.loads(server.state_file.read_text()) == {"port": 54329}
    secret = server.s.server_secrets_dir / "superuser.password"
    assert secret.read_text() == "cu-7Qz\n" and secret.stat().st_mode & 0o777 == 0o600
    assert server.superuser_url("chiso").startswith("postgresql://")
    assert server.superuser_password == "cu-7Qz"  # read from the secrets from now on
