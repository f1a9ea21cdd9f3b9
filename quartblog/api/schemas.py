"""Request and response models of the API (pydantic), named and shaped as in the contract.

Python names are snake_case; on the wire they are camelCase (``tagList``,
``createdAt``) through an alias generator.  Request models check types, the
wrapper object and required fields; the services check everything else (lengths,
formats, uniqueness), so the site and the API enforce the same rules.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError
from quart_schema.pydantic import File

from ..models import User
from ..services.comments import CommentView
from ..services.admin import QUERY_MAX
from ..services.paging import OFFSET_MAX
from ..services.posts import LIMIT_MAX, PostView
from ..services.users import EMAIL_MAX, PASSWORD_MAX, Profile


class Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )


def _not_blank(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("blank", "can't be blank")
    return value


def _utc_millis(value: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a ``Z``: ``2026-11-24T07:06:28.123Z``."""
    return value.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


NonBlank = Annotated[str, AfterValidator(_not_blank)]
Timestamp = Annotated[datetime, PlainSerializer(_utc_millis, return_type=str)]


# --- requests ------------------------------------------------------------------------

class LoginUser(Model):
    email: NonBlank = Field(max_length=EMAIL_MAX)
    password: str = Field(min_length=1, max_length=PASSWORD_MAX)


class LoginUserRequest(Model):
    user: LoginUser


class NewUser(Model):
    username: NonBlank
    email: NonBlank
    password: str = Field(min_length=1)


class NewUserRequest(Model):
    user: NewUser


class UpdateUser(Model):
    """Fields to change; at least one. An empty or null ``bio``/``image`` clears it."""

    email: str | None = None
    password: str | None = None
    username: str | None = None
    bio: str | None = None
    image: str | None = None
    notify_comments: bool | None = Field(None, description=(
        "quartblog extension: mail me when someone comments on my articles"))

    @model_validator(mode="after")
    def _at_least_one(self) -> "UpdateUser":
        if not self.model_fields_set:
            raise PydanticCustomError("empty", "must contain at least one field")
        return self

    def changes(self) -> dict[str, str | bool]:
        """Keyword arguments for ``services.users.update_user``."""
        changes = {name: value for name, value in self if value is not None}
        for clearable in ("bio", "image"):
            if clearable in self.model_fields_set and getattr(self, clearable) is None:
                changes[clearable] = ""
        return changes


class UpdateUserRequest(Model):
    user: UpdateUser


# quartblog's extension of the contract: a way back into a locked account.

class PasswordResetEmail(Model):
    email: str = Field(max_length=EMAIL_MAX, description="The account's email address")


class PasswordResetRequest(Model):
    user: PasswordResetEmail


RESET_TOKEN_MAX = 200  # a link's token is 32 hex characters, a dot and 43 more


class PasswordResetConfirm(Model):
    token: str = Field(min_length=1, max_length=RESET_TOKEN_MAX,
                       description="The token of the mailed link (the last part of /reset-password/<token>)")
    password: str = Field(max_length=PASSWORD_MAX, description="The new password")


class PasswordResetConfirmRequest(Model):
    user: PasswordResetConfirm


# quartblog's extension of the contract: drafts and scheduled posts.  Both fields are
# optional; without them an article is published at once, as RealWorld expects.
Status = Literal["draft", "published", "scheduled"]
STATUS_DOC = ("quartblog extension: draft (seen only by its author and admins), published "
              "(at publishAt, or now) or scheduled (publishAt required, in the future). "
              "Absent: published now for a new article, unchanged for an update.")
PUBLISH_AT_DOC = ("quartblog extension: when the article appears (ISO 8601; without an offset, "
                  "UTC). A future time on a published article schedules it.")


class NewArticle(Model):
    title: NonBlank
    description: NonBlank
    body: NonBlank
    tag_list: list[str] | None = None
    status: Status | None = Field(None, description=STATUS_DOC)
    publish_at: datetime | None = Field(None, description=PUBLISH_AT_DOC)


class NewArticleRequest(Model):
    article: NewArticle


class UpdateArticle(Model):
    """Fields to change; a missing or null field is left alone. The slug never changes."""

    title: str | None = None
    description: str | None = None
    body: str | None = None
    tag_list: list[str] | None = None
    status: Status | None = Field(None, description=STATUS_DOC)
    publish_at: datetime | None = Field(None, description=PUBLISH_AT_DOC)


class UpdateArticleRequest(Model):
    article: UpdateArticle


class NewComment(Model):
    body: NonBlank


class NewCommentRequest(Model):
    comment: NewComment


class Page(Model):
    limit: int = Field(20, ge=1, le=LIMIT_MAX)
    offset: int = Field(0, ge=0, le=OFFSET_MAX)


SEARCH_MAX = 200  # characters of a search query (the site's /search keeps as many)


class ArticleFilters(Page):
    tag: str | None = None
    author: str | None = None
    favorited: str | None = None
    q: str | None = Field(None, max_length=SEARCH_MAX, description=(
        "quartblog extension: words that must all be in the title or the body (Chinese "
        "found inside a sentence, a Latin word by its start, any case); empty: no search"))


# --- responses -----------------------------------------------------------------------

class ProfileOut(Model):
    username: str
    bio: str
    image: str | None  # null when the user has none (a front end shows its default picture)
    following: bool

    @classmethod
    def of(cls, user: User, following: bool) -> "ProfileOut":
        return cls(username=user.username, bio=user.bio or "", image=user.image or None, following=following)


class UserOut(Model):
    email: str
    token: str
    username: str
    bio: str
    image: str | None
    email_verified: bool = Field(description="quartblog extension: the email was shown to be the user's")
    notify_comments: bool = Field(description="quartblog extension: mail about comments on my articles")


class UserResponse(Model):
    user: UserOut

    @classmethod
    def of(cls, user: User, token: str) -> "UserResponse":
        return cls(user=UserOut(email=user.email, token=token, username=user.username,
                                bio=user.bio or "", image=user.image or None,
                                email_verified=user.email_verified_at is not None,
                                notify_comments=user.notify_comments))


class ProfileResponse(Model):
    profile: ProfileOut

    @classmethod
    def of(cls, profile: Profile) -> "ProfileResponse":
        return cls(profile=ProfileOut.of(profile.user, profile.following))


class ArticleSummary(Model):
    """An article in a list: everything but the body."""

    slug: str
    title: str
    description: str
    tag_list: list[str]
    created_at: Timestamp
    updated_at: Timestamp
    favorited: bool
    favorites_count: int
    author: ProfileOut
    # quartblog extension, sent only to the article's author (and admins), for a draft or a
    # scheduled article or when the request used the extension: a published article's
    # answer is exactly the contract's otherwise.
    status: Status | None = Field(None, exclude_if=lambda value: value is None, description=(
        "quartblog extension, only for the article's author and admins: draft, scheduled or published"))
    publish_at: Timestamp | None = Field(None, exclude_if=lambda value: value is None, description=(
        "quartblog extension, only for the article's author and admins: when it appears or appeared"))

    @classmethod
    def of(cls, view: PostView, viewer: User | None = None, extended: bool = False,
           **extra) -> "ArticleSummary":
        post = view.post
        if (viewer is not None and (viewer.id == post.author_id or viewer.is_admin)
                and (extended or post.state != "published")):
            extra.update(status=post.state, publish_at=post.published_at)
        return cls(
            # The contract's order (its own suite checks it): by name.  The site keeps the
            # author's order, whose first tag is the post's primary tag (docs/api.md).
            slug=post.slug, title=post.title, description=post.description, tag_list=sorted(view.tags),
            created_at=post.created_at, updated_at=post.updated_at, favorited=view.favorited,
            favorites_count=view.favorites_count,
            author=ProfileOut.of(view.author, view.following_author), **extra,
        )


class Article(ArticleSummary):
    body: str

    @classmethod
    def of(cls, view: PostView, viewer: User | None = None, extended: bool = False) -> "Article":
        return super().of(view, viewer, extended, body=view.post.body)


class ArticleResponse(Model):
    article: Article

    @classmethod
    def of(cls, view: PostView, viewer: User | None = None, extended: bool = False) -> "ArticleResponse":
        return cls(article=Article.of(view, viewer, extended))


class ArticlesResponse(Model):
    articles: list[ArticleSummary]
    articles_count: int


class CommentOut(Model):
    id: int
    created_at: Timestamp
    updated_at: Timestamp
    body: str
    author: ProfileOut
    state: Literal["published", "hidden", "pending"] = Field(
        "published", description="Extension: moderation state. Others than the article's author and admins "
                                 "see only published comments (and their own pending ones).")

    @classmethod
    def of(cls, view: CommentView) -> "CommentOut":
        comment = view.comment
        return cls(id=comment.id, created_at=comment.created_at, updated_at=comment.updated_at,
                   body=comment.body, author=ProfileOut.of(view.author, view.following_author),
                   state=view.state)


class CommentResponse(Model):
    comment: CommentOut


class CommentsResponse(Model):
    comments: list[CommentOut]


class TagsResponse(Model):
    tags: list[str]


# --- the admin (extensions, role admin only) ----------------------------------------------

class AdminUsersQuery(Page):
    limit: int = Field(20, ge=1, le=LIMIT_MAX)
    q: str | None = Field(None, max_length=QUERY_MAX, description="part of the username or the email")


class AdminUserUpdate(Model):
    """What to change; at least one."""

    role: Literal["admin", "author", "reader"] | None = None
    disabled: bool | None = None

    @model_validator(mode="after")
    def _at_least_one(self) -> "AdminUserUpdate":
        if self.role is None and self.disabled is None:
            raise PydanticCustomError("empty", "must contain role or disabled")
        return self


class AdminUserUpdateRequest(Model):
    user: AdminUserUpdate


class DeleteUserQuery(Model):
    posts: Literal["keep", "delete"] = Field(
        description="keep: the posts and comments stay, their author becomes 'deleted-user'; delete: they go too")


class AdminUserOut(Model):
    username: str
    email: str
    role: str
    disabled: bool
    created_at: Timestamp
    bio: str
    image: str

    @classmethod
    def of(cls, user: User) -> "AdminUserOut":
        return cls(username=user.username, email=user.email, role=user.role.value, disabled=user.disabled,
                   created_at=user.created_at, bio=user.bio or "", image=user.image or "")


class AdminUserResponse(Model):
    user: AdminUserOut


class AdminUsersResponse(Model):
    users: list[AdminUserOut]
    users_count: int


class PasswordResetAccepted(Model):
    expires_in: int = Field(description="Seconds a mailed link works. The same answer whether or not an "
                                        "account uses the address (a link goes only to an account's address)")


class PasswordResetResponse(Model):
    password_reset: PasswordResetAccepted


class ErrorsResponse(Model):
    """Invalid input, or why a request was refused: messages by field name."""

    errors: dict[str, list[str]]


# --- uploads (an extension of the contract) ------------------------------------------

class UploadForm(BaseModel):
    """``multipart/form-data`` with the image in the part ``file``."""

    file: File = Field(description="A JPEG, PNG, GIF or WebP image, at most UPLOAD_MAX_BYTES "
                                   "(10 MB by default). It is re-encoded: metadata stripped, "
                                   "turned upright, scaled down to IMAGE_MAX_WIDTH.")


class UploadedImage(Model):
    url: str = Field(description="The image's absolute URL (immutable; for Markdown's ![](url))")
    width: int
    height: int
    size: int = Field(description="Bytes stored")
    content_type: str


class UploadResponse(Model):
    upload: UploadedImage
