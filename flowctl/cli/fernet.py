"""`flowctl rotate-fernet-key`."""

from __future__ import annotations

import click

from flowctl.cli.runtime import Runtime, pass_runtime


@click.command("rotate-fernet-key")
@pass_runtime
def rotate_fernet_key(runtime: Runtime) -> None:
    """Re-encrypt every connection secret and variable with the first key of core.fernet_key.

    Rotation: set `fernet_key = NEW,OLD`, run this command, then drop OLD from the setting.
    """
    from flowctl.services.fernet import rotate_secrets

    with runtime.session() as session:
        count = rotate_secrets(session, runtime.cipher, actor=runtime.actor())
    click.echo(f"Re-encrypted {count} rows with the first key of core.fernet_key.")
