"""Nothing is built at import time (docs/architecture.md): importing the application, in a fresh interpreter, compiles
no message catalogue, loads no Babel locale data, runs no argon2 hash and loads no plotting library; ``create_app``
builds what the first request needs."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = textwrap.dedent(
    """
    import json, sys
    import argon2, babel.localedata

    hashed = []
    original = argon2.PasswordHasher.hash
    argon2.PasswordHasher.hash = lambda self, *a, **k: hashed.append(1) or original(self, *a, **k)

    def state():
        from vbostotte import i18n
        from vbostotte.identity import login
        return {
            "catalogues": i18n.catalogues.cache_info().currsize,
            "dummy_hash": login.dummy_hash.cache_info().currsize,
            "argon2_hashes": len(hashed),
            "babel_locales": sorted(babel.localedata._cache),
            "heavy_modules": sorted(
                {m.split(".")[0] for m in sys.modules} & {"matplotlib", "numpy", "PIL", "contourpy", "fontTools"}
            ),
        }

    import vbostotte.app
    imported = state()

    from vbostotte.config import load_settings
    settings = load_settings(
        {}, data_dir=sys.argv[1], database_url="sqlite+aiosqlite:///" + sys.argv[1] + "/unused.sqlite3",
        secret_key="import-probe-secret-key-0123456789abcdef", base_url="http://127.0.0.1", outbox_worker=False,
        audit_key="probe:import-probe-audit-key-0123456789",
    )
    vbostotte.app.create_app(settings)
    print(json.dumps({"imported": imported, "created": state()}))
    """
)


def test_importing_the_app_builds_nothing_and_create_app_builds_what_requests_need(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["imported"] == {
        "catalogues": 0,
        "dummy_hash": 0,
        "argon2_hashes": 0,
        "babel_locales": [],
        "heavy_modules": [],
    }
    created = result["created"]
    assert (created["catalogues"], created["dummy_hash"], created["argon2_hashes"]) == (1, 1, 1)
    assert created["heavy_modules"] == []
