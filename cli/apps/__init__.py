"""The application commands of `hkchain`, one module per application group.

Each module owns one click group (``hkchain property …``, ``hkchain gov …`` …) built on
cli/apps/base.py; ``groups()`` lists them for cli/main.py to register.
"""

from __future__ import annotations

import click


def groups() -> list[click.Group]:
    from cli.apps.account import account
    from cli.apps.activities import activities
    from cli.apps.culture import culture
    from cli.apps.gov import gov
    from cli.apps.households import households
    from cli.apps.merchants import merchants
    from cli.apps.names import names
    from cli.apps.notices import notices
    from cli.apps.property import property_group
    from cli.apps.services import services

    return [account, households, property_group, gov, services, culture, activities, notices, merchants, names]
