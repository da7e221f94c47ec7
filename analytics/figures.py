"""placeholder"""
from sqlalchemy.engine import Connection


def create_views(conn: Connection) -> None:
    return None
