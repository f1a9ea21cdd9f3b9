"""The site in English and Simplified Chinese: the visitor's choice, then Accept-Language,
then QUARTBLOG_DEFAULT_LOCALE; translated pages, forms, messages, dates and numbers;
the JSON API keeps the contract's English; the catalog is complete."""

from __future__ import annotations

import io
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import update

from quartblog import create_app
from quartblog.config import ConfigError
from quartblog.models import Comment, Post
from quartblog.services import comments, posts

from ..conftest import make_config
from ..factories import PASSWORD, make_post, make_user

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "quartblog"
CATALOG = PACKAGE / "translations" / "zh_Hans" / "LC_MESSAGES"
ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}
EN = {"Accept-Language": "en-US,en;q=0.9"}


async def text_of(response) -> str:
    return await response.get_data(as_text=True)


def html_lang(text: str) -> str:
    return re.search(r'<html lang="([^"]+)"', text).group(1)


# --- which language ------------------------------------------------------------------

async def test_without_a_preference_the_site_is_in_english(client):
    page = await text_of(await client.get("/"))
    assert html_lang(page) == "en"
    assert "Latest posts" in page and "最新文章" not in page


@pytest.mark.parametrize("accept, lang", [
    ("zh-CN,zh;q=0.9,en;q=0.8", "zh-Hans"),
    ("zh", "zh-Hans"),
    ("zh-Hans-SG", "zh-Hans"),
    ("fr-FR, zh;q=0.5", "zh-Hans"),   # the first language the site has
    ("en-GB,zh-CN;q=0.8", "en"),
    ("zh-TW,en;q=0.5", "en"),         # Traditional Chinese is not offered: the next one
    ("fr", "en"),                      # nothing the site has: the default
])
async def test_accept_language_picks_the_language(client, accept, lang):
    page = await text_of(await client.get("/", headers={"Accept-Language": accept}))
    assert html_lang(page) == lang
    assert ("最新文章" in page) == (lang == "zh-Hans")


async def test_the_header_switch_is_remembered_over_accept_language(client):
    english = await text_of(await client.get("/users/nobody", headers=EN))
    assert 'href="/language/zh-Hans?next=/users/nobody"' in english
    assert 'lang="zh-Hans" hreflang="zh-Hans"' in english  # the link reads as Chinese

    switched = await client.get("/language/zh-Hans?next=/search?q=x", headers=EN)
    assert switched.status_code == 303 and switched.headers["Location"] == "/search?q=x"
    cookie = switched.headers["Set-Cookie"]
    assert cookie.startswith("quartblog_lang=zh_Hans;") and "Max-Age=" in cookie and "SameSite=Lax" in cookie

    page = await text_of(await client.get("/search?q=x", headers=EN))
    assert html_lang(page) == "zh-Hans" and "搜索" in page
    assert 'aria-current="true">简体中文' in page and 'href="/language/en?next=/search?q%3Dx"' in page

    back = await client.get("/language/en?next=/", headers=ZH)
    assert back.status_code == 303
    assert html_lang(await text_of(await client.get("/", headers=ZH))) == "en"


async def test_the_switch_refuses_unknown_languages_and_foreign_redirects(client):
    assert (await client.get("/language/fr")).status_code == 404
    away = await client.get("/language/en?next=https://evil.example/")
    assert away.status_code == 303 and away.headers["Location"] == "/"


@pytest.mark.parametrize("app_config", [{"DEFAULT_LOCALE": "zh-CN"}])
async def test_the_default_language_is_a_setting(client, app_config):
    page = await text_of(await client.get("/"))
    assert html_lang(page) == "zh-Hans" and "最新文章" in page
    assert html_lang(await text_of(await client.get("/", headers=EN))) == "en"


def test_an_unknown_default_language_stops_the_app(database_url):
    with pytest.raises(ConfigError, match="QUARTBLOG_DEFAULT_LOCALE"):
        create_app(make_config(database_url, DEFAULT_LOCALE="klingon"))


# --- what is translated -----------------------------------------------------------------

async def test_forms_and_their_errors_are_in_chinese_and_the_api_keeps_english(browser, client, db_session):
    await make_user(db_session, "ada")
    await browser.get("/language/zh-Hans")
    form = await browser.get("/register")
    assert "创建账号" in form.text and 'placeholder="搜索文章"' in form.text
    page = await browser.post("/register", {"username": "ada", "email": "not-an-email", "password": "short"})
    assert page.status == 422
    assert "用户名已被占用" in page.text
    assert "邮箱格式不正确" in page.text
    assert "密码太短（至少 8 个字符）" in page.text

    api = await client.post("/api/users", headers=ZH, json={"user": {
        "username": "ada", "email": "not-an-email", "password": "short"}})
    assert (await api.get_json())["errors"] == {
        "username": ["has already been taken"], "email": ["is invalid"],
        "password": ["is too short (minimum is 8 characters)"]}


async def test_a_failed_log_in_reads_as_one_sentence_in_each_language(browser, db_session):
    await make_user(db_session, "ada")
    wrong = {"email": "ada@example.com", "password": "wrong password"}
    english = await browser.post("/login", wrong)
    assert "The email or the password is wrong" in english.text
    assert "Password the email" not in english.text
    await browser.get("/language/zh-Hans")
    chinese = await browser.post("/login", wrong)
    assert '<p class="field-error" id="password-error">邮箱或密码错误</p>' in chinese.text


async def test_field_errors_name_their_field(browser, db_session):
    await make_user(db_session, "ada")
    await browser.log_in("ada")
    empty = {"title": " ", "description": "", "body": "", "tags": "a/b", "action": "save"}
    english = await browser.post("/write", empty)
    assert english.status == 422
    assert "Title can&#39;t be blank" in english.text and "The text can&#39;t be blank" in english.text
    assert "A tag cannot contain &#39;/&#39;" in english.text
    await browser.get("/language/zh-Hans")
    chinese = await browser.post("/write", empty)
    assert "标题不能为空" in chinese.text and "正文不能为空" in chinese.text
    assert "标签中不能包含“/”" in chinese.text and "请修改下面标出的内容。" in chinese.text


async def test_flash_messages_are_translated(browser, db_session):
    await make_user(db_session, "ada")
    await browser.get("/language/zh-Hans")
    await browser.get("/login")
    page = await browser.post("/login", {"email": "ada@example.com", "password": PASSWORD}, follow=True)
    assert "欢迎回来，ada。" in page.text and "退出" in page.text


async def test_error_pages_are_translated(client):
    page = await client.get("/posts/missing", headers=ZH)
    text = await text_of(page)
    assert page.status_code == 404 and html_lang(text) == "zh-Hans"
    assert "<h1>页面不存在</h1>" in text and "<p>文章不存在</p>" in text and "返回首页" in text
    nowhere = await text_of(await client.get("/no/such/page", headers=ZH))
    assert "服务器上找不到你要访问的网址" in nowhere
    tag = await text_of(await client.get("/tags/nothing", headers=ZH))
    assert "没有带“nothing”标签的文章。" in tag
    api = await client.get("/api/articles/missing", headers=ZH)
    assert (await api.get_json()) == {"errors": {"body": ["Article not found"]}}


async def test_dates_and_counts_follow_the_language(client, db_session):
    ada = await make_user(db_session, "ada")
    otto = await make_user(db_session, "otto")
    view = await make_post(db_session, ada, "Dated")
    await comments.add_comment(db_session, otto, view.post.slug, "First!")
    await db_session.commit()
    when = datetime(2026, 3, 7, 9, 5, tzinfo=timezone.utc)
    await db_session.execute(update(Post).values(created_at=when, updated_at=when, published_at=when, view_count=1234))
    await db_session.execute(update(Comment).values(created_at=when, updated_at=when))
    await db_session.commit()
    url = f"/posts/{view.post.slug}"

    english = await text_of(await client.get(url, headers=EN))
    assert ">Mar 7, 2026</time>" in english and ">Mar 7, 2026, 09:05 UTC</time>" in english
    assert re.search(r"1,23\d views", english) and ">1 comment</h2>" in english

    chinese = await text_of(await client.get(url, headers=ZH))
    assert ">2026年3月7日</time>" in chinese and ">2026年3月7日 09:05（UTC）</time>" in chinese
    assert re.search(r"1,23\d 次阅读", chinese) and ">1 条评论</h2>" in chinese

    home = await text_of(await client.get("/", headers=ZH))
    assert "1 条评论" in home and "阅读全文" in home


async def test_the_favorite_button_has_a_name_in_each_language(browser, db_session):
    ada = await make_user(db_session, "ada")
    view = await make_post(db_session, ada, "Likeable")
    url = f"/posts/{view.post.slug}"
    anonymous = await browser.get(url)
    assert '<span class="visually-hidden">0 favorites</span>' in anonymous.text

    await browser.log_in("ada")
    page = await browser.get(url)
    assert 'aria-label="Add to your favorites (0 favorites)">♡ 0</button>' in page.text
    await posts.favorite(db_session, ada, view.post.slug)
    await db_session.commit()
    await browser.get("/language/zh-Hans")
    page = await browser.get(url)
    assert 'aria-label="取消收藏（已有 1 次收藏）">♥ 1</button>' in page.text


async def test_admin_pages_and_refusals_are_translated(as_user, people):
    admin = await as_user("admin")
    await admin.get("/language/zh-Hans")
    users = await admin.get("/admin/users")
    assert '<option value="author" selected>作者</option>' in users.text and "root 的角色" in users.text
    changed = await admin.post("/admin/users/rita/role", {"role": "author"}, follow=True)
    assert "rita 现在是作者。" in changed.text
    refused = await admin.post("/admin/users/root/role", {"role": "reader"}, follow=True)
    assert "root 的角色没有修改：最后一位管理员不能取消管理员身份：请先让另一个人成为管理员。" in refused.text
    author = await as_user("author")
    await author.get("/language/zh-Hans")
    forbidden = await author.get("/admin/users")
    assert forbidden.status == 403 and "<h1>无权访问</h1>" in forbidden.text
    assert "只有管理员可以查看此页面" in forbidden.text


async def test_the_favicon_is_served(client):
    response = await client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.content_type == "image/vnd.microsoft.icon"
    assert (await response.get_data())[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert 'rel="icon" href="/favicon.ico"' in await text_of(await client.get("/"))


@pytest.mark.parametrize("app_config", [{"CACHE_ENABLED": True}])
async def test_a_cached_page_is_served_in_each_visitors_language(client, app_config):
    first = await client.get("/", headers=ZH)
    assert html_lang(await text_of(first)) == "zh-Hans"
    english = await client.get("/", headers=EN)
    assert html_lang(await text_of(english)) == "en"
    again = await client.get("/", headers=ZH)
    assert again.headers.get("X-Cache") == "hit" and html_lang(await text_of(again)) == "zh-Hans"


# --- the catalog -----------------------------------------------------------------------

def _extracted() -> dict[str, tuple[str, ...]]:
    """Every msgid of the templates and the Python code, as ``pybabel extract`` with babel.cfg finds them."""
    from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg

    with open(ROOT / "babel.cfg") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: dict[str, tuple[str, ...]] = {}
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
            str(PACKAGE), method_map, options_map, keywords={**DEFAULT_KEYWORDS, "Message": None}):
        ids = message if isinstance(message, tuple) else (message,)
        found[ids[0]] = ids
    return found


def test_every_message_has_a_chinese_translation():
    from babel.messages.pofile import read_po

    extracted = _extracted()
    assert "Latest posts" in extracted and "can't be blank" in extracted  # templates and services
    with open(CATALOG / "messages.po", "rb") as po:
        catalog = read_po(po)
    missing = [msgid for msgid in extracted if msgid not in catalog]
    untranslated = [message.id for message in catalog if message.id and (
        message.fuzzy or not all(message.string if isinstance(message.string, tuple) else [message.string]))]
    broken = [(message.id, [str(e) for e in errors]) for message, errors in catalog.check()]
    assert not missing, f"not in the Chinese catalog (pybabel extract + update): {missing}"
    assert not untranslated, f"untranslated or fuzzy in the Chinese catalog: {untranslated}"
    assert not broken, f"placeholders differ between msgid and msgstr: {broken}"


def test_the_compiled_catalog_matches_the_po_file():
    """The .mo the app loads is the .po as it is now (run ``pybabel compile`` after editing)."""
    from babel.messages.mofile import read_mo, write_mo
    from babel.messages.pofile import read_po

    with open(CATALOG / "messages.po", "rb") as po:
        expected = io.BytesIO()
        write_mo(expected, read_po(po))
    with open(CATALOG / "messages.mo", "rb") as mo:
        committed = read_mo(mo)
    expected.seek(0)

    def messages(catalog):
        return {str(m.id): str(m.string) for m in catalog if m.id}

    assert messages(committed) == messages(read_mo(expected))
