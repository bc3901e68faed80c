"""Django's model permissions, each user's set kept in Redis between requests.

Every API answer and every polled page checks a permission, and Django's ModelBackend
reads the user's permissions anew for each request: two queries (the user's own, its
groups'), a third of the queries of a polled answer. The set is kept under the user's
key for MGE_PERMISSIONS_CACHE_SECONDS and dropped on every change that can alter it — a
user's groups, permissions or flags, a group's permissions, a group or permission
deleted — at once and again when the change commits. Each drop also moves a generation
on, and a set read from the database is kept only if the generation is still the one
seen before the read: a request that read the rows just before a change committed must
not keep them past its drop. Redis down or slow: the database is asked, as without it.
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

from mge_site.redis_connection import LuaScript, quick_redis

logger = logging.getLogger(__name__)

KEY_PREFIX = "mge:permissions:user:"
INDEX_KEY = "mge:permissions:users"
"""The users whose sets are kept, so that a change to a group or a permission drops all."""
GENERATION_KEY = "mge:permissions:generation"
TIMEOUT_SECONDS = 0.5  # a slow Redis costs a request this, then the database answers

_KEEP_IF_UNCHANGED = LuaScript(
    """
    if (redis.call('GET', KEYS[3]) or '0') ~= ARGV[1] then return 0 end
    redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
    redis.call('SADD', KEYS[2], ARGV[4])
    redis.call('EXPIRE', KEYS[2], ARGV[3])
    return 1
    """
)


class CachedPermissionsBackend(ModelBackend):
    def get_all_permissions(
        self, user_obj: User | AnonymousUser, obj: Model | None = None
    ) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        # Where ModelBackend keeps the set for the rest of the request.
        kept: set[str] | None = getattr(user_obj, "_perm_cache", None)
        if kept is None:
            kept, generation = _kept(user_obj.pk)
            if kept is None:
                kept = super().get_all_permissions(user_obj)
                if generation is not None:
                    _keep(user_obj.pk, kept, generation)
            user_obj._perm_cache = kept  # type: ignore[attr-defined]
        return kept


def _redis() -> Any:
    return quick_redis(TIMEOUT_SECONDS)


def _kept(user_id: Any) -> tuple[set[str] | None, bytes | None]:
    """The kept set, or None and the generation a set read now may be kept under (None:
    keep nothing)."""
    if settings.MGE_PERMISSIONS_CACHE_SECONDS <= 0:
        return None, None
    try:
        raw, generation = _redis().mget(f"{KEY_PREFIX}{user_id}", GENERATION_KEY)
    except RedisError as error:
        logger.warning("permissions read from the database: %s", error)
        return None, None
    if raw is not None:
        try:
            return set(json.loads(raw)), None
        except (ValueError, TypeError):
            pass  # not ours, or cut short: read again and rewritten
    return None, generation or b"0"


def _keep(user_id: Any, permissions: set[str], generation: bytes) -> None:
    keys = [f"{KEY_PREFIX}{user_id}", INDEX_KEY, GENERATION_KEY]
    value = json.dumps(sorted(permissions))
    seconds = settings.MGE_PERMISSIONS_CACHE_SECONDS
    try:
        _KEEP_IF_UNCHANGED(_redis(), keys, [generation, value, seconds, str(user_id)])
    except RedisError as error:
        logger.warning("permissions not kept: %s", error)


def forget(user_ids: list[Any] | None = None) -> None:
    """Drop the kept sets of these users (None: of every user)."""
    try:
        client = _redis()
        client.incr(GENERATION_KEY)  # first: a set being read now is not kept
        if user_ids is None:
            user_ids = [member.decode() for member in client.smembers(INDEX_KEY)]
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
