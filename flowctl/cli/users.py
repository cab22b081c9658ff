"""`flowctl users create|list|delete`."""

from __future__ import annotations

import sys

import click

from flowctl.cli.output import output_option, print_rows
from flowctl.cli.runtime import Runtime, pass_runtime

COLUMNS = ["username", "email", "role", "first_name", "last_name"]


@click.group("users")
def users_group() -> None:
    """Manage users of the web UI and API (roles: Admin, Op, User, Viewer)."""


@users_group.command("create")
@click.option("-u", "--username", required=True)
@click.option("-r", "--role", required=True, help="Admin, Op, User or Viewer.")
@click.option("-e", "--email", required=True)
@click.option("-p", "--password", help="The password (else prompted, or see --use-random-password).")
@click.option("--use-random-password", is_flag=True, help="Generate a password and print it once.")
@click.option("-f", "--firstname", default="")
@click.option("-l", "--lastname", default="")
@pass_runtime
def create(
    runtime: Runtime,
    username: str,
    role: str,
    email: str,
    password: str | None,
    use_random_password: bool,
    firstname: str,
    lastname: str,
) -> None:
    """Create a user."""
    from flowctl.exceptions import InvalidInput
    from flowctl.roles import parse_role
    from flowctl.services import users

    parse_role(role)  # refuse a bad role before prompting for a password
    if password and use_random_password:
        raise InvalidInput("give either --password or --use-random-password, not both")
    if use_random_password:
        password = users.random_password()
    elif password is None:
        if not sys.stdin.isatty():
            raise InvalidInput("no password: give --password or --use-random-password")
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with runtime.session() as session:
        users.create_user(
            session,
            username=username,
            email=email,
            role=role,
            password=password,
            first_name=firstname,
            last_name=lastname,
            actor=runtime.actor(),
        )
    click.echo(f"Created user {username!r} with role {parse_role(role)}.")
    if use_random_password:
        click.echo(f"Password: {password}")


@users_group.command("list")
@output_option
@pass_runtime
def list_(runtime: Runtime, output: str) -> None:
    """List users."""
    from flowctl.services import users

    with runtime.session() as session:
        rows = [{column: getattr(user, column) for column in COLUMNS} for user in users.list_users(session)]
    print_rows(rows, output, COLUMNS)


@users_group.command("delete")
@click.argument("username", required=False)
@click.option("-u", "--username", "username_option", help="Same as the USERNAME argument (Airflow style).")
@pass_runtime
def delete(runtime: Runtime, username: str | None, username_option: str | None) -> None:
    """Delete a user."""
    from flowctl.services import users

    name = username or username_option
    if not name:
        raise click.UsageError("give the USERNAME to delete")
    with runtime.session() as session:
        users.delete_user(session, name, actor=runtime.actor())
    click.echo(f"Deleted user {name!r}.")
