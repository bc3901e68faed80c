"""Django's model permissions, each user's set kept in Redis between requests.

Every API answer and every polled page checks a permission, and Django's ModelBackend
reads the user's permissions anew for each request: two queries (the user's own, its
groups'), a third of the queries of a polled answer. The set is kept under the user's
key for MGE_PERMISSIONS_CACHE_SECONDS and dropped on every change that can alter it — a
user's groups, permissions or flags, a group's permissions, a group or permission
deleted — at once and again when the change commits (a request between the two could
read the old rows and keep them). Redis down: the database is asked, as without it.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AnonymousUser, Group, Permission, User
from django.db import transaction
from django.db.models import Model
from django.db.models.signals import m2m_changed, post_delete, post_save
from redis.exceptions import RedisError

from mge_site.redis_connection import shared_redis

logger = logging.getLogger(__name__)

KEY_PREFIX = "mge:permissions:user:"
INDEX_KEY = "mge:permissions:users"
"""The users whose sets are kept, so that a change to a group or a permission drops all."""


class CachedPermissionsBackend(ModelBackend):
    def get_all_permissions(
        self, user_obj: User | AnonymousUser, obj: Model | None = None
    ) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        # Where ModelBackend keeps the set for the rest of the request.
        kept: set[str] | None = getattr(user_obj, "_perm_cache", None)
        if kept is None:
            kept = _kept(user_obj.pk)
            if kept is None:
                kept = super().get_all_permissions(user_obj)
                _keep(user_obj.pk, kept)
            user_obj._perm_cache = kept  # type: ignore[attr-defined]
        return kept


def _kept(user_id: Any) -> set[str] | None:
    if settings.MGE_PERMISSIONS_CACHE_SECONDS <= 0:
        return None
    try:
        raw = shared_redis().get(f"{KEY_PREFIX}{user_id}")
    except RedisError as error:
        logger.warning("permissions read from the database: %s", error)
        return None
    if raw is None:
        return None
    try:
        return set(json.loads(raw))
    except (ValueError, TypeError):
        return None  # not ours, or cut short: read again and rewritten


def _keep(user_id: Any, permissions: set[str]) -> None:
    seconds = settings.MGE_PERMISSIONS_CACHE_SECONDS
    if seconds <= 0:
        return
    try:
        pipe = shared_redis().pipeline(transaction=False)
        pipe.set(f"{KEY_PREFIX}{user_id}", json.dumps(sorted(permissions)), ex=seconds)
        pipe.sadd(INDEX_KEY, str(user_id))
        pipe.expire(INDEX_KEY, seconds)
        pipe.execute()
    except RedisError as error:
        logger.warning("permissions not kept: %s", error)


def forget(user_ids: list[Any] | None = None) -> None:
    """Drop the kept sets of these users (None: of every user)."""
    try:
        client = shared_redis()
        if user_ids is None:
            user_ids = [member.decode() for member in client.smembers(INDEX_KEY)]  # type: ignore[union-attr]
            client.delete(INDEX_KEY)
        if user_ids:
            client.delete(*(f"{KEY_PREFIX}{user_id}" for user_id in user_ids))
    except RedisError as error:
        # Left to expire: a change may take MGE_PERMISSIONS_CACHE_SECONDS to apply.
        logger.warning("kept permissions not dropped: %s", error)


def _forget_now_and_on_commit(user_ids: list[Any] | None) -> None:
    forget(user_ids)
    transaction.on_commit(lambda: forget(user_ids))


def _user_changed(sender: type, instance: Any, **kwargs: Any) -> None:
    _forget_now_and_on_commit([instance.pk])


def _relation_changed(
    sender: type, instance: Any, action: str, reverse: bool, **kwargs: Any
) -> None:
    if action.startswith("post_"):
        # user.groups / user.user_permissions changed from the user's side: that user;
        # from the other side (group.user_set, group.permissions …): anyone may hold it.
        own = not reverse and sender in _user_relations()
        _forget_now_and_on_commit([instance.pk] if own else None)


def _everyone_changed(sender: type, **kwargs: Any) -> None:
    _forget_now_and_on_commit(None)


def _user_relations() -> tuple[type, type]:
    user_model: Any = get_user_model()
    return user_model.groups.through, user_model.user_permissions.through


def connect_invalidation() -> None:
    """Connect the receivers that drop kept sets (from the execution app's ready())."""
    user_model = get_user_model()
    for through in (*_user_relations(), Group.permissions.through):
        m2m_changed.connect(_relation_changed, sender=through, dispatch_uid=f"perms-{through}")
    post_save.connect(_user_changed, sender=user_model, dispatch_uid="perms-user-saved")
    post_delete.connect(_user_changed, sender=user_model, dispatch_uid="perms-user-deleted")
    for model in (Group, Permission):
        post_delete.connect(_everyone_changed, sender=model, dispatch_uid=f"perms-{model}")
