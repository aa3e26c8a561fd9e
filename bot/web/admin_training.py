"""/admin/training: train a new model in the background (bot.authoring.trainer), follow its stage,
percentage and log, and switch the running bot to a model (bot.authoring.models): the new one when
its training succeeds, or any earlier one with one click (a rollback).

A failed training says why and activates nothing. The page reloads itself every few
seconds while a training runs (a meta refresh: the pages have no script).

/admin/training/upload takes a model trained elsewhere (a form upload, streamed to disk:
bot.web.multipart). Its CSRF field comes before the file, so a forged upload is refused
before the file is read; the archive is checked (bot.authoring.model_archive) before it gets a name
of its own in the models directory, where it can be activated like any other. A refused
upload answers 400 (not a model), 413 (too large), 401 or 403 and leaves nothing behind.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sanic import Request
from sanic.response import HTTPResponse

from bot.authoring.model_archive import (
    ArchiveRejected,
    ArchiveTooLarge,
    Limits,
    StoredModel,
    Upload,
    check_upload_name,
)
from bot.authoring.models import ModelInfo, RasaServerError
from bot.authoring.trainer import TrainingInProgress, TrainingJob
from bot.authoring.training import data_fingerprint
from bot.errors import KopruError
from bot.web.accounts import ADMIN
from bot.web.admin_context import AdminContext, admin_of
from bot.web.admin_view import admin_page, can_change, notify, run, timestamp
from bot.web.auth import (
    CSRF_FIELD,
    CSRF_HEADER,
    EXPIRED_CHANGE,
    SignInRefused,
    csrf_token,
    require_change,
    require_role,
)
from bot.web.context import web_of
from bot.web.multipart import MultipartError, MultipartReader, boundary_of
from bot.web.responses import redirect
from bot.web.templates import render

__all__ = ["LOG_LINES_SHOWN", "REFRESH_SECONDS", "UPLOAD_FIELD", "UPLOAD_PATH", "register"]

logger = logging.getLogger(__name__)

PATH = "/admin/training"
UPLOAD_PATH = "/admin/training/upload"
UPLOAD_FIELD = "model"
REFRESH_SECONDS = 2
LOG_LINES_SHOWN = 60
MAX_FIELD_BYTES = 1024  # the CSRF token and any other small field of the upload form
FORM_OVERHEAD = 64 * 1024  # the upload form's headers and fields around the file


@dataclass(frozen=True)
class Serving:
    """What the Rasa server serves: a model of the registry, a file name from elsewhere,
    nothing (no model loaded), or an error reaching it."""

    model: ModelInfo | None = None
    file: str | None = None
    error: str | None = None


async def serving(admin: AdminContext) -> Serving:
    try:
        status = await admin.rasa().status()
    except RasaServerError as exc:
        if exc.status_code == 409:  # "No agent loaded"
            return Serving()
        return Serving(error=str(exc))
    name = status.get("model_file")
    if not isinstance(name, str) or not name:
        return Serving()
    return Serving(admin.registry.find(name), name)


def _size(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


@dataclass(frozen=True)
class _ModelRow:
    """A row of the models table (admin_training.html)."""

    name: str
    trained: str
    active: bool
    current: bool  # trained on the current data
    switch: str  # the button's label ("" for none)
    size: str


def _model_rows(
    request: Request, models: list[ModelInfo], now: Serving, fingerprint: str
) -> list[_ModelRow]:
    admin = can_change(request)
    active_name = now.model.name if now.model is not None else now.file
    active_time = now.model.created_at if now.model is not None else None
    rows = []
    for model in models:
        switch = ""
        if admin and model.name != active_name:
            older = active_time is not None and model.created_at < active_time
            switch = "Roll back to this" if older else "Activate"
        rows.append(
            _ModelRow(
                model.name,
                timestamp(model.created_at.timestamp()),
                model.name == active_name,
                model.data_hash == fingerprint,
                switch,
                _size(model.size),
            )
        )
    return rows


def _job_context(job: TrainingJob | None) -> dict[str, object]:
    if job is None:
        return {"job": None}
    return {
        "job": job,
        "job_started": timestamp(job.started_at.timestamp()) if job.started_at else "–",
        "job_duration": f"{job.duration:.0f} s" if job.duration is not None else "–",
        "log_lines": list(job.log)[-LOG_LINES_SHOWN:],
        "log_open": not job.done or job.status == "failed",
    }


async def training_page(request: Request) -> HTTPResponse:
    if request.method == "POST":
        return await training_change(request)
    limits: Limits = request.app.ctx.model_upload_limits
    admin = admin_of(request)
    fingerprint = await run(data_fingerprint, admin.root)
    models = await run(admin.registry.list)
    now = await serving(admin)
    running = admin.trainer.current() is not None
    job = admin.trainer.last()
    changes = can_change(request)
    body = render(
        "admin_training.html",
        can_change=changes,
        csrf=csrf_token(request) if changes else "",
        path=PATH,
        upload_path=UPLOAD_PATH,
        upload_field=UPLOAD_FIELD,
        max_mb=limits.max_mb,
        now=now,
        no_rasa_token=not admin.settings.rasa_token,
        models_dir=admin.models_dir,
        active_trained=(
            timestamp(now.model.created_at.timestamp()) if now.model is not None else None
        ),
        fingerprint=fingerprint,
        running=running,
        models=_model_rows(request, models, now, fingerprint),
        **_job_context(job),
    )
    refresh = REFRESH_SECONDS if running else None
    return admin_page(request, "Train", body, refresh=refresh)


async def _start(request: Request, admin: AdminContext) -> None:
    force = request.form.get("force") == "1"
    try:
        job = admin.trainer.start(force=force)
    except TrainingInProgress as exc:
        notify(request, "error", str(exc))
        return
    except KopruError as exc:
        notify(request, "error", f"The training could not start: {exc}")
        return
    if not job.up_to_date or job.model is None:
        notify(request, "ok", "The training started.")
        return
    now = await serving(admin)
    if now.file == job.model.name:
        notify(
            request,
            "ok",
            f"Nothing to train: the active model {job.model.name} is trained "
            "on the current data. Tick “even if a model for this data exists” to train "
            "again.",
        )
        return
    try:
        await admin.activate(job.model)
    except KopruError as exc:
        notify(
            request,
            "error",
            f"A model for the current data exists ({job.model.name}), but "
            f"the running bot could not switch to it: {exc}",
        )
    else:
        notify(
            request, "ok", f"A model for the current data existed: {job.model.name} is active now."
        )


async def training_change(request: Request) -> HTTPResponse:
    require_change(request)
    admin = admin_of(request)
    op = request.form.get("op")
    if op == "train":
        await _start(request, admin)
    elif op == "cancel":
        if admin.trainer.current() is None:
            notify(request, "warning", "No training is running.")
        else:
            await admin.trainer.cancel()
            notify(request, "ok", "The training was stopped; the running bot is unchanged.")
    elif op == "activate":
        name = request.form.get("model") or ""
        model = admin.registry.find(name)
        if model is None:
            notify(request, "error", f"There is no model called {name[:100]!r}.")
            return redirect(PATH)
        before = await serving(admin)
        try:
            await admin.activate(model.path)
        except KopruError as exc:
            notify(
                request,
                "error",
                f"The running bot could not switch to {model.name}; it keeps "
                f"the model it had. {exc}",
            )
        else:
            was = f" (was {before.file})" if before.file else ""
            notify(request, "ok", f"{model.name} is active now{was}.")
            logger.info("Model %s activated from the admin page%s", model.name, was)
    else:
        notify(request, "error", "Unknown change.")
    return redirect(PATH)


def _upload_refused(request: Request, status: int, message: str) -> HTTPResponse:
    session = request.ctx.session
    logger.warning(
        "Model upload by %s refused (%s): %s", getattr(session, "username", "?"), status, message
    )
    body = render("admin_upload_refused.html", message=message, back=PATH)
    return admin_page(request, "Upload refused", body, status=status)


async def _csrf_ok(request: Request, reader: MultipartReader) -> bool:
    """The session's CSRF token from the header, else from the form's first field."""
    session = request.ctx.session
    sessions = web_of(request).sessions
    token = request.headers.get(CSRF_HEADER)
    if token is not None:
        return bool(sessions.csrf_ok(session, token))
    part = await reader.next_part()
    if part is None or part.name != CSRF_FIELD or part.filename is not None:
        return False
    token = (await reader.read_field(MAX_FIELD_BYTES)).decode("utf-8", "replace")
    return bool(sessions.csrf_ok(session, token))


async def _receive(request: Request, reader: MultipartReader, limits: Limits) -> StoredModel:
    """The file of the form, checked and stored (ArchiveRejected, MultipartError)."""
    body_limit = limits.max_bytes + FORM_OVERHEAD
    part = await reader.next_part()
    while part is not None and part.name != UPLOAD_FIELD:
        await reader.read_field(MAX_FIELD_BYTES)
        if reader.bytes_read > body_limit:
            raise ArchiveTooLarge(f"The upload is larger than the limit of {limits.max_mb}.")
        part = await reader.next_part()
    if part is None or part.filename is None:
        raise ArchiveRejected("Choose a model file (.tar.gz) to upload.")
    check_upload_name(part.filename)
    with Upload(admin_of(request).models_dir, limits) as upload:
        async for chunk in reader.chunks():
            upload.write(chunk)
        while await reader.next_part() is not None:
            await reader.read_field(MAX_FIELD_BYTES)
            if reader.bytes_read > body_limit:
                raise ArchiveTooLarge(f"The upload is larger than the limit of {limits.max_mb}.")
        if upload.size == 0:
            raise ArchiveRejected("The file is empty.")
        return await run(upload.finish)


async def upload_model(request: Request, limits: Limits) -> HTTPResponse:
    """POST /admin/training/upload (a streaming route: nothing is read before the checks)."""
    session = require_role(request, ADMIN)
    stream = request.stream
    assert stream is not None, "Sanic gives every request being handled its stream"
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limits.max_bytes + FORM_OVERHEAD:
        # A client that asked "Expect: 100-continue" must not be told to send the body
        # (Sanic 21 puts a 100 Continue before any answer while it is still owed).
        if getattr(stream, "expecting_continue", False):
            stream.expecting_continue = False
        return _upload_refused(
            request, 413, f"The file is larger than the upload limit of {limits.max_mb}."
        )
    body_limit = limits.max_bytes + FORM_OVERHEAD
    try:
        reader = MultipartReader(boundary_of(request.headers.get("content-type")), stream.read)
    except MultipartError as exc:
        return _upload_refused(request, 400, str(exc))
    try:
        if not await _csrf_ok(request, reader):
            raise SignInRefused(403, EXPIRED_CHANGE)
        stored = await _receive(request, reader, limits)
    except (MultipartError, ArchiveRejected) as exc:
        # Read what is left of an acceptable size, so that the client gets this answer.
        await reader.drain(body_limit)
        status = exc.status if isinstance(exc, ArchiveRejected) else 400
        return _upload_refused(request, status, str(exc))
    await reader.drain(body_limit)  # the epilogue after the last part
    if stored.duplicate:
        notify(request, "warning", f"This model is here already, as {stored.name}.")
        return redirect(PATH)
    summary = stored.summary
    logger.info(
        "Model uploaded by %s as %s (%d bytes, Rasa %s, model id %s)",
        session.username, stored.name, stored.size, summary.rasa_version, summary.model_id,
    )  # fmt: skip
    notify(
        request,
        "ok",
        f"The model is uploaded as {stored.name} ({stored.size / 1_000_000:.1f} MB, made with "
        f"Rasa {summary.rasa_version}); activate it in the list below.",
    )
    return redirect(PATH)


def _with_limits(
    limits: Limits, handler: Callable[[Request, Limits], Awaitable[HTTPResponse]]
) -> Callable[[Request], Awaitable[HTTPResponse]]:
    async def route(request: Request) -> HTTPResponse:
        return await handler(request, limits)

    return route


def register(app: Any) -> None:
    # Read now: a bad KOPRU_MODEL_UPLOAD_MAX_MB stops the start, not an upload.
    limits = Limits.from_env()
    app.ctx.model_upload_limits = limits
    app.add_route(training_page, PATH, methods=["GET", "POST"], name="admin_training")
    # stream=True: Sanic leaves the body unread (and unlimited by REQUEST_MAX_SIZE, which
    # is for forms) until the handler has checked the session, the role and the CSRF field.
    app.add_route(
        _with_limits(limits, upload_model),
        UPLOAD_PATH,
        methods=["POST"],
        name="admin_model_upload",
        stream=True,
    )
