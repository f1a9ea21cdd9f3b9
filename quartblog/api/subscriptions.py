"""Extension: subscribing an address to new posts by email, as the site's form does
(services/subscriptions.py): a confirmation link is mailed, and the answer is the same
whether or not the address was subscribed (202, nothing said about anyone)."""

from __future__ import annotations

from quart import current_app, request
from quart_schema import document_response, validate_request, validate_response

from ..db import get_session
from ..models import User
from ..services import subscriptions
from ..services.users import EMAIL_MAX
from ..web.limits import auth_rate_limit
from . import blueprint
from .auth import token_optional
from .schemas import ErrorsResponse, Model

LOCALES = ("en", "zh_Hans")


class NewSubscription(Model):
    email: str = ""
    locale: str | None = None


class NewSubscriptionRequest(Model):
    subscription: NewSubscription


class SubscriptionOut(Model):
    email: str
    confirmed: bool  # true only for the signed-in user's own verified address


class SubscriptionResponse(Model):
    subscription: SubscriptionOut


@blueprint.post("/subscriptions")
@auth_rate_limit
@token_optional
@validate_request(NewSubscriptionRequest)
@validate_response(SubscriptionResponse, 202)
@document_response(ErrorsResponse, 422)
async def subscribe(data: NewSubscriptionRequest, viewer: User | None):
    """Extension: subscribe an address to new posts by email (double opt-in: a link to confirm is mailed)"""
    wanted = data.subscription
    locale = wanted.locale if wanted.locale in LOCALES else (viewer.locale if viewer is not None else None)
    base_url = None if current_app.config.get("SITE_URL") else request.host_url
    confirmed = await subscriptions.subscribe(get_session(), wanted.email[:EMAIL_MAX + 1], locale=locale,
                                              user=viewer, base_url=base_url)
    return SubscriptionResponse(subscription=SubscriptionOut(email=wanted.email.strip().lower(),
                                                             confirmed=confirmed)), 202
