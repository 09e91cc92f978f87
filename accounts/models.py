"""Who uses Artefact: one role per person, cohorts of residents, enrolment in courses."""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    RESIDENT = "resident", _("Resident")
    EDUCATOR = "educator", _("Educator")
    EXAMINER = "examiner", _("Examiner")
    ADMIN = "admin", _("Programme admin")


class User(AbstractUser):
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.RESIDENT)
    # Set only by the demo set-up, so that demo accounts can be found and never mistaken
    # for real people (and refused outright under production settings).
    is_demo = models.BooleanField(default=False, editable=False)

    class Meta:
        ordering = ("username",)

    def __str__(self) -> str:
        return self.get_full_name() or self.username


class Cohort(models.Model):
    """A group of residents who take the same courses together (e.g. "Residents 2026")."""

    name = models.CharField(max_length=120, unique=True)
    members = models.ManyToManyField(User, related_name="cohorts", blank=True)
    courses = models.ManyToManyField(
        "wagtailcore.Page",
        related_name="cohorts",
        blank=True,
        help_text=_("Curriculum pages every member of this cohort is enrolled in."),
    )

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class Enrolment(models.Model):
    """One person's enrolment in one course (a Curriculum page)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="enrolments")
    course = models.ForeignKey(
        "wagtailcore.Page", on_delete=models.CASCADE, related_name="enrolments"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("user", "course"), name="unique_enrolment"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.course}"


class ExternalIdentity(models.Model):
    """A person as an OpenID Connect provider knows them: (issuer, subject) is the only key
    single sign-on looks up (OIDC Core §5.7: `sub` is unique and never reassigned within an
    issuer; e-mail addresses and user names are neither)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="external_identities")
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    last_sign_in_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("issuer", "subject"), name="unique_external_identity"),
        ]
        verbose_name_plural = "external identities"

    def __str__(self) -> str:
        return f"{self.user} at {self.issuer}"
