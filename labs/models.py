"""Lab exercises (authored) and lab runs (the durable record of every run a resident asks for)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Coalesce
from django.db.models.lookups import LessThan
from django.utils.translation import gettext_lazy as _
from wagtail import blocks
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.admin.panels import FieldPanel
from wagtail.blocks.struct_block import StructBlockValidationError
from wagtail.fields import RichTextField, StreamField

from labs.computation import (
    TooManyNetworkPasses,
    lab_network_passes,
    model_cascade_blocks,
    network_passes_check,
    volume_model_refusal,
)
from labs.offers import (
    PerturbationOffer,
    lab_perturbation_choices,
    lab_study_choices,
    offer_from_block,
)
from runs.models import DurableRun, RunPolicy, RunStatus
from zoo.explainers.registry import EXPLAINERS, explainer_choices
from zoo.perturbations.registry import PERTURBATIONS
from zoo.registry import MODELS, UnknownModel, model_choices, model_get, model_title


class LabKind(models.TextChoices):
    RUN_AND_INSPECT = "run-and-inspect", _("Run and inspect: run a model on a study and read it")
    BREAK_IT = "break-it", _("Break it: perturb a study and watch the model's output change")
    EXPLAIN = "explain", _("Explain it: saliency maps and the weight-randomisation check")
    PROMPT = "prompt", _("Prompt it: draw a box on the study, get the model's mask")


class PerturbationOfferBlock(blocks.StructBlock):
    """One perturbation an exercise offers, with the severities residents may choose."""

    perturbation = blocks.ChoiceBlock(choices=lab_perturbation_choices)
    severity_min = blocks.FloatBlock(
        required=False, help_text=_("Lowest severity offered; empty means the perturbation's.")
    )
    severity_max = blocks.FloatBlock(
        required=False, help_text=_("Highest severity offered; empty means the perturbation's.")
    )
    severity_default = blocks.FloatBlock(required=False)

    def clean(self, value):
        cleaned = super().clean(value)
        try:
            offer = offer_from_block(cleaned)
        except ValueError as error:
            raise StructBlockValidationError(
                block_errors={"severity_max": ValidationError(str(error))}
            ) from None
        # Reading an offer clamps the default into its range; authoring one says so instead.
        default = cleaned.get("severity_default")
        if default is not None and not offer.low <= default <= offer.high:
            raise StructBlockValidationError(
                block_errors={
                    "severity_default": ValidationError(
                        _(
                            "The default severity %(default)g is outside the offered range"
                            " %(low)g to %(high)g."
                        )
                        % {"default": default, "low": offer.low, "high": offer.high}
                    )
                }
            )
        return cleaned

    class Meta:
        icon = "warning"
        label = _("Perturbation")


class LabQuestionBlock(blocks.TextBlock):
    """A free-text question shown with the result; residents' answers are kept on the run."""

    class Meta:
        icon = "help"
        label = _("Question")


class LabExerciseAdminForm(WagtailAdminModelForm):
    explainer_keys = forms.MultipleChoiceField(
        choices=explainer_choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label=_("Explainers offered"),
        help_text=_("Saliency methods computed with the run (break-it and explain labs)."),
    )


def _perturbation_fits(perturbation, modality: str) -> bool:
    """Whether the perturbation applies to the model's modality (CR and DX are one kind of
    image: a projection radiograph)."""
    radiograph = {"CR", "DX"}
    modalities = set(perturbation.modalities)
    return modality in modalities or (modality in radiograph and bool(modalities & radiograph))


class LabExercise(models.Model):
    """What an educator authors: the kind of lab, its model, study, offers and questions.

    `perturbations` (the offers) and `questions` are the authored parts a resident sees;
    `perturbation_key`/`severity_default`/`severity_max` are the columns from before
    exercises offered several perturbations. Migration 0003 turned each of them into an
    offer; they are kept only so older content code that creates an exercise with one
    perturbation still works (`offers` reads them when no offer is authored).
    """

    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=32, choices=LabKind.choices, default=LabKind.BREAK_IT)
    instructions = RichTextField(blank=True, features=["bold", "italic", "ol", "ul", "link"])
    model_key = models.CharField(max_length=64, choices=model_choices)
    study_key = models.CharField(max_length=64, choices=lab_study_choices)
    slice_default = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=_("Image of the study shown first (1 = first); empty means the middle one."),
    )
    perturbations = StreamField(
        [("perturbation", PerturbationOfferBlock())],
        blank=True,
        use_json_field=True,
        help_text=_("Break-it labs: what residents may do to the image, and how hard."),
    )
    explainer_keys = models.JSONField(default=list, blank=True)
    questions = StreamField(
        [("question", LabQuestionBlock())],
        blank=True,
        use_json_field=True,
        help_text=_("Asked under the result; each resident's answers are kept with the run."),
    )
    perturbation_key = models.CharField(
        max_length=64, choices=lab_perturbation_choices, blank=True, default=""
    )
    severity_default = models.FloatField(default=50.0)
    severity_max = models.FloatField(null=True, blank=True)
    is_published = models.BooleanField(default=True)

    base_form_class = LabExerciseAdminForm
    panels = [
        FieldPanel("title"),
        FieldPanel("kind"),
        FieldPanel("instructions"),
        FieldPanel("model_key"),
        FieldPanel("study_key"),
        FieldPanel("slice_default"),
        FieldPanel("perturbations"),
        FieldPanel("explainer_keys"),
        FieldPanel("questions"),
        FieldPanel("is_published"),
    ]

    class Meta:
        ordering = ("title",)

    def __str__(self) -> str:
        # Choosers list exercises by this: several share a title pattern, so the kind, model
        # and study tell them apart (display names, not keys).
        return (
            f"{self.title} — {self.get_kind_display()} · {self.get_model_key_display()}"
            f" · {self.get_study_key_display()}"
        )

    def get_model_key_display(self) -> str:
        """The model's title. A zoo model's comes from the registry: the field's choices
        would ask every model source (a query for the uploaded models) each time a lab
        block or a duration names its model."""
        if self.model_key in MODELS:
            return MODELS[self.model_key].title
        return self._get_FIELD_display(self._meta.get_field("model_key"))

    def clean(self) -> None:
        """Refuse settings a run could not meet: explainers and the randomisation check
        whose passes through the network exceed settings.LAB_RUN_MAX_NETWORK_PASSES (the
        run would hit its time limit every time), said in the author's terms."""
        super().clean()
        try:
            model = model_get(self.model_key)
        except UnknownModel:
            return  # the model field reports it
        wrong = [
            offer.perturbation.title
            for offer in self.offers
            if not _perturbation_fits(offer.perturbation, model.modality)
        ]
        if wrong:
            raise ValidationError(
                {
                    "perturbations": _("%(titles)s cannot change a %(modality)s image.")
                    % {"titles": ", ".join(wrong), "modality": model.modality}
                }
            )
        if model.input_spec.dimensions != 2:
            # A volume model (deepbet) runs on the whole series: no maps, no attacks.
            adversarial = [offer.key for offer in self.offers if offer.is_adversarial]
            if self.kind == LabKind.EXPLAIN or self.explainer_keys or adversarial:
                raise ValidationError({"model_key": volume_model_refusal(model)})
        keys = [key for key in self.explainer_keys or [] if key in EXPLAINERS]
        if not keys:
            return
        sanity_check = self.kind == LabKind.EXPLAIN
        estimate = lab_network_passes(
            explainer_keys=keys,
            perturbed=self.kind == LabKind.BREAK_IT or bool(self.offers),
            sanity_check=sanity_check,
            cascade_blocks=model_cascade_blocks(model) if sanity_check else 0,
        )
        try:
            network_passes_check(estimate, limit=settings.LAB_RUN_MAX_NETWORK_PASSES)
        except TooManyNetworkPasses as error:
            raise ValidationError({"explainer_keys": str(error)}) from None

    @property
    def is_runnable(self) -> bool:
        return self.is_published

    @property
    def offers(self) -> list[PerturbationOffer]:
        """The perturbations residents may choose, each with its severity range."""
        authored = []
        for block in self.perturbations:
            try:
                authored.append(offer_from_block(block.value))
            except ValueError:
                # A perturbation removed from the library since the exercise was written:
                # the exercise offers the others rather than breaking the lesson.
                continue
        if authored:
            return authored
        if self.perturbation_key:
            return [
                offer_from_block(
                    {
                        "perturbation": self.perturbation_key,
                        "severity_max": self.severity_max,
                        "severity_default": self.severity_default,
                    }
                )
            ]
        return []

    def offer(self, key: str) -> PerturbationOffer | None:
        return next((offer for offer in self.offers if offer.key == key), None)

    @property
    def perturbation(self):
        """The first offer's perturbation (what the lesson explains first)."""
        offers = self.offers
        return offers[0].perturbation if offers else None

    @property
    def severity_range(self) -> tuple[float, float]:
        offers = self.offers
        return (offers[0].low, offers[0].high) if offers else (0.0, 0.0)

    @property
    def explainers(self) -> list:
        return [EXPLAINERS[key] for key in self.explainer_keys if key in EXPLAINERS]

    @property
    def question_prompts(self) -> list[tuple[str, str]]:
        """(stable id, prompt) per question; the id keys the resident's answer."""
        return [(block.id, str(block.value)) for block in self.questions]

    @property
    def needs_perturbation(self) -> bool:
        return self.kind == LabKind.BREAK_IT

    @property
    def offers_perturbation(self) -> bool:
        """Break-it labs, and explain or prompt labs with an offer (the original and the
        perturbed image side by side)."""
        return self.needs_perturbation or (
            self.kind in (LabKind.EXPLAIN, LabKind.PROMPT) and bool(self.offers)
        )

    @property
    def perturbation_optional(self) -> bool:
        """A prompt lab may run on the original alone: the box is the experiment there."""
        return self.kind == LabKind.PROMPT


# Lab runs are durable runs (runs.models); the names below are kept for the code that
# imports them from here.
LabRunStatus = RunStatus


def lab_run_output_path(run: LabRun, filename: str) -> str:
    return f"lab-runs/{run.pk}/{filename}"


class LabRun(DurableRun):
    """One run of one exercise by one person. The row, not the broker message, is the record."""

    exercise = models.ForeignKey(LabExercise, on_delete=models.PROTECT, related_name="runs")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lab_runs"
    )
    lesson = models.ForeignKey(
        "wagtailcore.Page", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    parameters = models.JSONField(default=dict)
    metrics = models.JSONField(default=dict, blank=True)
    # What the result page shows besides the metrics: predictions, saliency and sanity-check
    # tables (labs.computation.LabResult.summary), and the files the run wrote, by name.
    summary = models.JSONField(default=dict, blank=True)
    outputs = models.JSONField(default=dict, blank=True)
    # The resident's answers to the exercise's questions: {question id: {"prompt", "answer"}};
    # the prompt is kept so an answer still reads right after the educator edits a question.
    answers = models.JSONField(default=dict, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    original_image = models.FileField(upload_to=lab_run_output_path, blank=True)
    perturbed_image = models.FileField(upload_to=lab_run_output_path, blank=True)
    original_overlay = models.FileField(upload_to=lab_run_output_path, blank=True)
    perturbed_overlay = models.FileField(upload_to=lab_run_output_path, blank=True)

    class Meta(DurableRun.Meta):
        pass

    def __str__(self) -> str:
        return f"Lab run {self.pk} ({self.get_status_display()})"

    @classmethod
    def run_policy(cls) -> RunPolicy:
        """Single runs wait on settings.LAB_RUN_QUEUE ("interactive" on CPU hosts, "gpu"
        where residents' workers have CUDA); one resident has at most
        LAB_RUN_MAX_RUNNING_PER_USER computing at once, the others wait in the queue."""
        return RunPolicy(
            compute="labs.services.lab_run_compute",
            queue=settings.LAB_RUN_QUEUE,
            max_attempts=settings.LAB_RUN_MAX_ATTEMPTS,
            soft_limit_seconds=settings.LAB_RUN_SOFT_TIME_LIMIT_SECONDS,
            hard_limit_seconds=settings.LAB_RUN_HARD_TIME_LIMIT_SECONDS,
            claim_condition=_running_below_personal_limit,
            waiting_message=_(
                "Waiting: your other run is still running; this one starts when it finishes."
            ),
            waits_for=lambda ended: models.Q(user_id=ended.user_id),
        )

    @property
    def output_fields(self) -> tuple[str, ...]:
        return ("original_image", "perturbed_image", "original_overlay", "perturbed_overlay")

    # Names a person reads (keys are for URLs and code): what the page says the run used.
    @property
    def perturbation_title(self) -> str:
        key = self.parameters.get("perturbation_key", "")
        perturbation = PERTURBATIONS.get(key)
        return perturbation.title if perturbation else key

    @property
    def model_title(self) -> str:
        return model_title(self.parameters.get("model_key", ""))

    @property
    def study_title(self) -> str:
        key = self.parameters.get("study_key", "")
        return dict(lab_study_choices()).get(key, key)


def _running_below_personal_limit(stale_before):
    """Claim gate: fewer of this person's other runs live-RUNNING than the limit allows."""
    others_running = (
        LabRun.objects.filter(
            user_id=models.OuterRef("user_id"),
            status=RunStatus.RUNNING,
            heartbeat_at__gte=stale_before,
        )
        .exclude(pk=models.OuterRef("pk"))
        .order_by()
        .values("user_id")
        .annotate(count=models.Count("pk"))
        .values("count")
    )
    running = Coalesce(models.Subquery(others_running), models.Value(0))
    return LessThan(running, settings.LAB_RUN_MAX_RUNNING_PER_USER)


class UploadedModelStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for validation")
    VALID = "valid", _("Validated")
    INVALID = "invalid", _("Refused")


class UploadedModel(models.Model):
    """An educator's TorchScript model and its spec; usable in labs once VALID."""

    title = models.CharField(max_length=200)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="uploaded_models"
    )
    archive = models.FileField(upload_to="zoo-uploads/")
    archive_sha256 = models.CharField(max_length=64)
    spec = models.JSONField()
    status = models.CharField(
        max_length=16, choices=UploadedModelStatus.choices, default=UploadedModelStatus.PENDING
    )
    validation_message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    validated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return self.title

    @property
    def zoo_key(self) -> str:
        return f"upload-{self.pk}"
