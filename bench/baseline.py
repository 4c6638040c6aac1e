"""The direct-write baseline of issue 13: Flask + SQLAlchemy, a token check, one INSERT.

It stands in for a design that writes the row directly and publishes nothing: no outbox, no
router, no consumers. The `cost` benchmark starts it on the same database as the backing it
measures (its own table beside TaskFlow's) and compares TaskFlow's create with its create.

Run by the benchmark as `gunicorn --workers 1 --threads 8 'bench.baseline:create_app()'`,
the API's own server settings in deploy/Dockerfile, with BASELINE_DATABASE_URL and
BASELINE_JWT_SECRET in its environment.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import flask
import jwt
import sqlalchemy as sa

TABLE = "bench_baseline_tasks"
metadata = sa.MetaData()
tasks = sa.Table(
    TABLE,
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.String(64), nullable=False, index=True),
    sa.Column("title", sa.String(500), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)


def issue_token(user_id: str, secret: str) -> str:
    return jwt.encode({"sub": user_id}, secret, algorithm="HS256")


def create_app() -> flask.Flask:
    engine = sa.create_engine(os.environ["BASELINE_DATABASE_URL"], pool_size=8)
    if engine.dialect.name == "sqlite":
        # TaskFlow's own SQLite settings (adapters/database.py): WAL, synchronous=NORMAL
        # and a busy wait, so the comparison is of the designs, not of the fsync policy.
        @sa.event.listens_for(engine, "connect")
        def _pragmas(connection: object, _record: object) -> None:
            cursor = connection.cursor()  # type: ignore[attr-defined]
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

    metadata.create_all(engine)
    secret = os.environ["BASELINE_JWT_SECRET"]
    app = flask.Flask("baseline")

    @app.post("/api/<user_id>/tasks")
    def create(user_id: str) -> tuple[dict[str, object], int]:
        header = flask.request.headers.get("Authorization", "")
        try:
            claims = jwt.decode(header.removeprefix("Bearer "), secret, algorithms=["HS256"])
        except jwt.InvalidTokenError:
            return {"error": "unauthorized"}, 401
        if claims.get("sub") != user_id:
            return {"error": "forbidden"}, 403
        body = flask.request.get_json(silent=True) or {}
        title = body.get("title")
        if not isinstance(title, str) or not title.strip():
            return {"error": "title: required"}, 400
        with engine.begin() as connection:
            task_id = connection.execute(
                sa.insert(tasks)
                .values(user_id=user_id, title=title, created_at=datetime.now(UTC))
                .returning(tasks.c.id)
            ).scalar_one()
        return {"id": task_id, "title": title}, 201

    @app.get("/health")
    def health() -> tuple[str, int]:
        return "", 204

    return app
