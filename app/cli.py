"""The `exchange` command: serve, migrate, administer, verify the audit trail."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from app.core.runtime import Runtime
from app.core.settings import get_settings

T = TypeVar("T")

cli = typer.Typer(help="DURC Exchange administration.", no_args_is_help=True)
audit_cli = typer.Typer(help="The tamper-evident audit trail.", no_args_is_help=True)
memberships_cli = typer.Typer(help="Membership housekeeping.", no_args_is_help=True)
cli.add_typer(audit_cli, name="audit")
screening_cli = typer.Typer(help="Denied-party screening.", no_args_is_help=True)
cli.add_typer(memberships_cli, name="memberships")
cli.add_typer(screening_cli, name="screening")
keys_cli = typer.Typer(help="Master keys that wrap artifact data keys.", no_args_is_help=True)
storage_cli = typer.Typer(help="Artifact blob storage housekeeping.", no_args_is_help=True)
cli.add_typer(keys_cli, name="keys")
cli.add_typer(storage_cli, name="storage")
discussion_cli = typer.Typer(help="Discussion housekeeping.", no_args_is_help=True)
cli.add_typer(discussion_cli, name="discussion")


def _with_runtime(work: Callable[[Runtime], Awaitable[T]]) -> T:
    async def run() -> T:
        runtime = Runtime.build(get_settings())
        try:
            return await work(runtime)
        finally:
            await runtime.db.dispose()

    return asyncio.run(run())


@cli.command()
def migrate(revision: str = "head") -> None:
    """Upgrade the database schema (alembic upgrade)."""
    from app.migrate import upgrade

    upgrade(get_settings().database_url, revision)
    typer.echo(f"database at {revision}")


@cli.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    migrate_first: Annotated[bool, typer.Option("--migrate/--no-migrate")] = True,
) -> None:
    """Migrate, then serve the API with uvicorn."""
    import uvicorn

    if migrate_first:
        migrate("head")
    uvicorn.run("app.main:app", host=host, port=port, workers=workers, proxy_headers=False)


@cli.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Option()],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True)],
    display_name: str = "Administrator",
) -> None:
    """Create (or promote) an administrator with a verified e-mail address."""
    from app.core.errors import ProblemError
    from app.identity import service

    async def work(runtime: Runtime) -> str:
        async with runtime.db.session() as session:
            user = await service.create_admin(
                session, runtime, email=email, password=password, display_name=display_name
            )
            return str(user.id)

    try:
        user_id = _with_runtime(work)
    except ProblemError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"admin {email} ({user_id}) ready; enrol TOTP before using admin routes")


@audit_cli.command("verify")
def audit_verify() -> None:
    """Re-walk the hash chain and the signed checkpoints; exit 1 on the first broken entry."""
    from app.audit import service

    async def work(runtime: Runtime) -> service.VerifyResult:
        async with runtime.db.session() as session:
            return await service.verify(session)

    result = _with_runtime(work)
    typer.echo(
        json.dumps(
            {
                "ok": result.ok,
                "checked": result.checked,
                "first_bad_id": result.first_bad_id,
                "problem": result.problem,
            }
        )
    )
    if not result.ok:
        raise typer.Exit(1)


@audit_cli.command("checkpoint")
def audit_checkpoint() -> None:
    """Sign the current head of the chain (Ed25519)."""
    from app.audit import service

    async def work(runtime: Runtime) -> str:
        async with runtime.db.session() as session:
            checkpoint = await service.sign_checkpoint(session, runtime.settings.master_key_bytes)
            return f"signed seq {checkpoint.seq}" if checkpoint else "head already signed"

    typer.echo(_with_runtime(work))


@memberships_cli.command("remind")
def memberships_remind() -> None:
    """Mail members whose membership expires soon (safe to run repeatedly, e.g. daily)."""
    from app.membership import service

    async def work(runtime: Runtime) -> int:
        async with runtime.db.session() as session:
            return await service.send_expiry_reminders(session, runtime)

    typer.echo(f"{_with_runtime(work)} reminder(s) sent")


@discussion_cli.command("digest")
def discussion_digest() -> None:
    """Mail opted-in members a count of their unread notifications (safe to run repeatedly
    and concurrently, e.g. hourly)."""
    from app.discussion import digest

    typer.echo(f"{_with_runtime(digest.run)} digest(s) sent")


@screening_cli.command("import")
def screening_import(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)]) -> None:
    """Import a denied-party list (CSV or JSON, Consolidated Screening List layout) as a new
    version and re-screen every member and open application against it."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from app.core.errors import ProblemError
    from app.screening import service

    data = file.read_bytes()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        transient=False,
    ) as bar:
        tasks: dict[str, object] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=max(total, 1))
            bar.update(tasks[stage], completed=done, total=max(total, 1))  # type: ignore[arg-type]

        async def work(runtime: Runtime) -> service.ImportResult:
            async with runtime.db.session() as session:
                return await service.import_list(
                    session, runtime, actor=None, data=data, filename=file.name, progress=report
                )

        try:
            result = _with_runtime(work)
        except ProblemError as exc:
            line = exc.extra.get("line")
            where = f" (line {line})" if line else ""
            typer.echo(f"error{where}: {exc.detail}", err=True)
            raise typer.Exit(2) from exc
    listed = result.screening_list
    typer.echo(
        f"imported version {listed.version}: {listed.entry_count} entries, "
        f"{result.subjects_screened} people re-screened, {result.alerts_raised} alert(s), "
        f"{result.memberships_suspended} membership(s) suspended"
    )


@keys_cli.command("rotate")
def keys_rotate(batch: Annotated[int, typer.Option(min=1, max=10_000)] = 500) -> None:
    """Re-wrap every artifact data key under EXCHANGE_MASTER_KEY; blobs are not rewritten.

    Rotation: set the new key as EXCHANGE_MASTER_KEY, list the old one in
    EXCHANGE_RETIRED_MASTER_KEYS, run this, then drop the old key once it reports nothing
    left. Exit 1 when some version could not be re-wrapped (unknown key id or bad wrap).
    """
    from app.artifacts import service

    async def work(runtime: Runtime) -> service.RotationReport:
        return await service.rotate_keys(runtime.db, runtime.artifact_keys, batch=batch)

    report = _with_runtime(work)
    typer.echo(
        json.dumps(
            {
                "current_key_id": report.current_key_id,
                "rewrapped": report.rewrapped,
                "unknown_key": report.unknown_key,
                "unreadable": report.unreadable,
            }
        )
    )
    if report.unknown_key or report.unreadable:
        raise typer.Exit(1)


@storage_cli.command("gc")
def storage_gc(
    grace_hours: Annotated[float, typer.Option(min=0)] = 24.0,
    dry_run: Annotated[bool, typer.Option("--dry-run")] = False,
) -> None:
    """Delete blobs no artifact row points at (older than the grace period), purge temp
    files of crashed uploads, and report rows whose blob is missing (exit 1 if any)."""
    from datetime import timedelta

    from app.artifacts import gc

    async def work(runtime: Runtime) -> gc.GcReport:
        return await gc.collect(
            runtime.db, runtime.storage, grace=timedelta(hours=grace_hours), dry_run=dry_run
        )

    report = _with_runtime(work)
    typer.echo(json.dumps(report.as_dict()))
    if report.missing_blobs:
        raise typer.Exit(1)


@cli.command()
def openapi(output: Path = Path("openapi/openapi.json")) -> None:
    """Write the OpenAPI document the app serves (committed; a test compares them)."""
    from app.main import create_app

    document = create_app().openapi()
    text = json.dumps(document, indent=2, sort_keys=True) + "\n"
    if str(output) == "-":
        sys.stdout.write(text)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text)
        typer.echo(f"wrote {output}")


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
