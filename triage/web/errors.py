"""Pages that say what went wrong, in the service's words (never a stack trace)."""

from fastapi import Request
from fastapi.responses import HTMLResponse

from triage.web.pages import render

TITLES = {
    403: "You cannot use this page",
    404: "Page not found",
    409: "The referral has changed",
    422: "There is a problem",
}
EXPLAINED = {
    403: "Your role does not use this page. Use the menu to go to your own pages.",
    404: "If you typed the web address, check it is correct. A referral you may not see is "
    "not found either.",
}


def error_page(request: Request, status_code: int, message: str | None = None) -> HTMLResponse:
    return render(
        request,
        "errors/error.html",
        None,
        status_code=status_code,
        heading=TITLES.get(status_code, "Sorry, there is a problem with the service"),
        message=EXPLAINED.get(status_code, message or "Try again later."),
        detail=message if status_code in (403, 409, 422) else None,
    )
