"""Helpers that set up data the way a user would, through the service layer."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from quartblog.models import Role, User
from quartblog.services import posts, users

PASSWORD = "correct horse battery"


async def make_user(session: AsyncSession, name: str, role: Role = Role.AUTHOR) -> User:
    user = await users.register(session, username=name, email=f"{name}@example.com",
                                password=PASSWORD, role=role)
    await session.commit()
    return user


async def make_post(session: AsyncSession, author: User, title: str, body: str = "Some *text*.",
                    tags: list[str] | str | None = None, description: str | None = None) -> posts.PostView:
    view = await posts.create_post(session, author, title=title, description=description,
                                   body=body, tags=tags)
    await session.commit()
    return view
