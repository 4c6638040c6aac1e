"""The domain is pure: importing it loads no framework, so its rules can be read, run and tested
without a schema validator, a CloudEvents library, tracing, a web framework or a database."""

from __future__ import annotations

import subprocess
import sys

FRAMEWORKS = ("cloudevents", "jsonschema", "opentelemetry", "flask", "sqlalchemy", "requests")


def test_importing_the_domain_loads_no_framework() -> None:
    probe = (
        "import sys, taskflow.domain, taskflow.domain.model, taskflow.domain.commands, "
        "taskflow.domain.events, taskflow.domain.inputs, taskflow.domain.reminders, "
        "taskflow.domain.recurrence, taskflow.domain.quickadd;"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({FRAMEWORKS!r})))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"


def test_settings_and_secrets_do_not_import_each_other() -> None:
    # adapters/secrets.py is given the store it reads; config.py alone reads the settings.
    probe = "import sys, taskflow.adapters.secrets; print('taskflow.config' in sys.modules)"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "False"
