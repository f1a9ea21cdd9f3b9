"""Search (issue 10): the same answers on every database, for Chinese, English and mixed
text; the search page; migration 0010's fill of existing posts."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from sqlalchemy import text

from quartblog.services import posts
from quartblog.text.search import query_terms, search_text

from .factories import make_post, make_user
from .test_migrations import NOW, alembic, engine, execute, scalar  # noqa: F401 (engine: a fixture)

POSTS = {
    "Databases": "数据库是MariaDB。",
    "Likes": "我喜欢数据库和Python",
    "Async database drivers": "Comparing asyncmy and aiomysql with PostgreSQL.",
    "日本語": "東京でデータベースを学ぶ。",
    "Gardening": "About tomatoes: the database of seeds grows.",
    "Full width": "ＦＵＬＬ ｗｉｄｔｈ letters and ＳＱＬ",
}


@pytest.fixture
async def corpus(db_session):
    ada = await make_user(db_session, "ada")
    for title, body in POSTS.items():
        await make_post(db_session, ada, title, body=body)
    return ada


async def found(session, query: str) -> list[str]:
    page = await posts.list_posts(session, posts.PostFilter(search=query), limit=100)
    assert page.total == len(page.items)
    return sorted(view.post.title for view in page.items)


@pytest.mark.parametrize("query, titles", [
    # Latin words inside Chinese text, in any case (MariaDB's index saw one word "数据库是mariadb")
    ("MariaDB", ["Databases"]),
    ("mariadb", ["Databases"]),
    ("MARIADB", ["Databases"]),
    ("python", ["Likes"]),
    # Chinese words inside a sentence (InnoDB's tokenizer found none of them)
    ("数据库", ["Databases", "Likes"]),
    ("数据", ["Databases", "Likes"]),
    ("库", ["Databases", "Likes"]),
    ("喜欢数据库", ["Likes"]),
    ("数据库和", ["Likes"]),
    ("据库是", ["Databases"]),
    ("数据和", []),            # not in the text as written
    ("データベース", ["日本語"]),  # Japanese
    ("東京", ["日本語"]),
    # two words, mixed scripts: every word must be there
    ("数据库 MariaDB", ["Databases"]),
    ("MariaDB数据库", ["Databases"]),
    ("数据库 Python", ["Likes"]),
    ("database PostgreSQL", ["Async database drivers"]),
    ("datab", ["Async database drivers", "Databases", "Gardening"]),  # the start of a word
    ("tabase", []),                                       # not the middle of one
    ("py", ["Likes"]),                                    # short words too
    ("the database", ["Gardening"]),                      # a stop word of InnoDB's index counts
    ("abo", ["Gardening"]),                               # the start of a stop word ("about")
    ("full width", ["Full width"]),
    ("ｓｑｌ", ["Full width"]),                            # full-width letters are letters
    ("zebra", []),
    ("数据库 zebra", []),
    ("%", []), ("_", []), ("!!!", []),                    # LIKE's wildcards are plain text
])
async def test_search_gives_the_same_answers_on_every_database(corpus, db_session, query, titles):
    assert await found(db_session, query) == titles


async def test_search_follows_edits(corpus, db_session):
    view = await make_post(db_session, corpus, "Draft", body="原来的内容")
    assert await found(db_session, "原来") == ["Draft"]
    await posts.update_post(db_session, corpus, view.post.slug, title="新的标题", body="Now about Quart")
    await db_session.commit()
    assert await found(db_session, "原来") == []
    assert await found(db_session, "quart 标题") == ["新的标题"]


async def test_the_search_page_finds_chinese_and_mixed_text(client, corpus):
    for query, expected in [("MariaDB", "Databases"), ("数据库", "Likes")]:
        page = await client.get(f"/search?q={quote(query)}")
        assert page.status_code == 200 and expected in await page.get_data(as_text=True)


def test_search_text_cuts_chinese_into_overlapping_tokens():
    assert search_text("数据库是MariaDB。", "我喜欢 SQL") == (
        " 数据库 据库是 库是_ 是__ mariadb 我喜欢 喜欢_ 欢__ sql ")
    assert [t.like for t in query_terms("数据库和 MARIADB 数 据库")] == [
        " 数据库 据库和 ", " mariadb", " 数", " 据库"]


async def test_migration_0010_fills_search_text_and_numbers_tags_of_existing_posts(engine):  # noqa: F811
    await alembic(engine, "upgrade", "0007")
    now = NOW
    await execute(engine, "INSERT INTO users (id, username, email, password_hash, role, created_at) "
                          "VALUES (1, 'ada', 'ada@example.com', 'x', 'author', :t)", [{"t": now}])
    await execute(engine, "INSERT INTO posts (id, slug, title, description, body, created_at, updated_at, "
                          "author_id) VALUES (:id, :s, :title, '', :body, :t, :t, 1)",
                  [{"id": n, "s": f"p{n}", "title": f"Post {n}", "body": f"数据库是MariaDB {n}。", "t": now}
                   for n in range(1, 1203)])  # more than two batches
    await execute(engine, "INSERT INTO tags (id, name) VALUES (:id, :n)",
                  [{"id": 1, "n": "zeta"}, {"id": 2, "n": "alpha"}, {"id": 3, "n": "mid"}])
    await execute(engine, "INSERT INTO post_tags (post_id, tag_id) VALUES (:p, :t)",
                  [{"p": p, "t": t} for p in (1, 1202) for t in (1, 2, 3)])
    await alembic(engine, "upgrade", "0010")
    assert await scalar(engine, "SELECT search_text FROM posts WHERE id = 1202") == (
        " post 1202 数据库 据库是 库是_ 是__ mariadb 1202 ")
    assert await scalar(engine, "SELECT count(*) FROM posts WHERE search_text LIKE '% mariadb%'") == 1202
    positions = await scalar(engine, "SELECT count(*) FROM post_tags WHERE post_id = 1202 AND "
                                     "((tag_id = 2 AND position = 0) OR (tag_id = 3 AND position = 1) "
                                     "OR (tag_id = 1 AND position = 2))")
    assert positions == 3
    async with engine.connect() as conn:  # the index answers on the databases that have one
        if conn.dialect.name in ("mysql", "mariadb"):
            hits = (await conn.execute(text(
                "SELECT count(*) FROM posts WHERE MATCH (search_text) AGAINST ('+数据库 +mariadb*' "
                "IN BOOLEAN MODE)"))).scalar()
            assert hits == 1202
    await alembic(engine, "downgrade", "0007")
    assert await scalar(engine, "SELECT count(*) FROM post_tags") == 6
    assert await scalar(engine, "SELECT body FROM posts WHERE id = 7") == "数据库是MariaDB 7。"
