from accounts.permissions import navigation_for


def role(request):
    """Expose the navigation the current user may use, so templates never test roles."""
    return {"nav_items": navigation_for(request.user)}
