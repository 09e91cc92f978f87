"""Answers one request asks for again and again, remembered for that request only.

Serving a lesson asks "which courses is this user enrolled in?" from the access hook, the
page's own permissions and its quiz and lab blocks; each asking read the enrolment tables.
`remembered` keeps such an answer in a dictionary that RequestMemoMiddleware makes for
each request and drops when the request ends, so no answer outlives the request that
read it. Outside a request (commands, workers, tests calling rules directly) nothing is
remembered. A change to enrolments or cohorts during the request forgets everything
(`request_memo_forget`, connected in AccountsConfig.ready), so a request that enrols a
user and then asks sees the enrolment.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")

_request_memo: ContextVar[dict | None] = ContextVar("artefact_request_memo", default=None)


class RequestMemoMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _request_memo.set({})
        try:
            return self.get_response(request)
        finally:
            _request_memo.reset(token)


def remembered(key: Hashable, compute: Callable[[], T]) -> T:
    """compute(), asked once per request for each key (every time outside a request)."""
    memo = _request_memo.get()
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]


def request_memo_forget(**_signal_kwargs) -> None:
    """Forget what this request remembered (something it depends on changed)."""
    memo = _request_memo.get()
    if memo is not None:
        memo.clear()
