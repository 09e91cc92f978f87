"""Page types through Wagtail's admin: allowed trees, creation, copy, the review workflow."""

from __future__ import annotations

import pytest
from django.urls import reverse
from wagtail.models import Page
from wagtail.test.utils import WagtailPageTestCase
from wagtail.test.utils.form_data import inline_formset, nested_form_data, rich_text, streamfield

from accounts.models import Role
from curriculum.models import (
    CurriculumIndexPage,
    CurriculumPage,
    LessonPage,
    ModulePage,
    ModulePrerequisite,
)
from curriculum.services import (
    LEAD_EDUCATORS_GROUP,
    REVIEW_WORKFLOW_NAME,
    curriculum_index_ensure,
    review_workflow_ensure,
)
from tests.factories import UserFactory


class PageTreeTests(WagtailPageTestCase):
    def test_trees_are_constrained(self):
        self.assertAllowedParentPageTypes(CurriculumIndexPage, {Page})
        self.assertAllowedSubpageTypes(CurriculumIndexPage, {CurriculumPage})
        self.assertAllowedSubpageTypes(CurriculumPage, {ModulePage})
        self.assertAllowedSubpageTypes(ModulePage, {LessonPage})
        self.assertAllowedSubpageTypes(LessonPage, set())
        self.assertCanNotCreateAt(CurriculumPage, LessonPage)
        self.assertCanNotCreateAt(CurriculumIndexPage, ModulePage)
        self.assertCanNotCreateAt(ModulePage, ModulePage)


class AdminAuthoringTests(WagtailPageTestCase):
    @classmethod
    def setUpTestData(cls):
        cls.index = curriculum_index_ensure()
        cls.course = CurriculumPage(title="Course", slug="course")
        cls.index.add_child(instance=cls.course)
        cls.module = ModulePage(title="Module", slug="module")
        cls.course.add_child(instance=cls.module)

    def setUp(self):
        self.client.force_login(UserFactory(username="superuser", role=Role.ADMIN))

    def test_an_educator_creates_a_module_with_outcomes_through_the_admin(self):
        self.assertCanCreate(
            self.course,
            ModulePage,
            nested_form_data(
                {
                    "title": "DICOM",
                    "slug": "dicom",
                    "summary": "The information model.",
                    "estimated_minutes": "90",
                    "outcomes": inline_formset(
                        [{"text": "Read a header", "domain": "skills", "level": "III"}]
                    ),
                    "prerequisites": inline_formset([{"required_module": self.module.pk}]),
                }
            ),
        )
        created = ModulePage.objects.get(slug="dicom")
        assert created.outcomes.get().domain == "skills"
        assert created.prerequisites.get().required_module == self.module

    def test_an_educator_creates_a_lesson_with_blocks_through_the_admin(self):
        self.assertCanCreate(
            self.module,
            LessonPage,
            nested_form_data(
                {
                    "title": "Tags",
                    "slug": "tags",
                    "summary": "",
                    "estimated_minutes": "15",
                    "outcomes": inline_formset([]),
                    "body": streamfield(
                        [
                            ("paragraph", rich_text("<p>Tags have two numbers.</p>")),
                            (
                                "callout",
                                {
                                    "kind": "pitfall",
                                    "title": "Careful",
                                    "text": rich_text("<p>Spacing is not thickness.</p>"),
                                },
                            ),
                        ]
                    ),
                }
            ),
        )
        lesson = LessonPage.objects.get(slug="tags")
        assert [block.block_type for block in lesson.body] == ["paragraph", "callout"]

    def test_the_edit_forms_render(self):
        lesson = LessonPage(title="L", slug="l")
        self.module.add_child(instance=lesson)
        for page in (self.index, self.course, self.module, lesson):
            response = self.client.get(reverse("wagtailadmin_pages:edit", args=[page.pk]))
            assert response.status_code == 200, page

    def test_a_lesson_preview_renders_as_a_resident_would_see_it(self):
        lesson = LessonPage(title="Previewed", slug="previewed", summary="Draft summary")
        self.module.add_child(instance=lesson)
        response = lesson.make_preview_request()
        assert response.status_code == 200
        assert "Draft summary" in response.content.decode()

    def test_the_admin_refuses_a_lesson_directly_under_a_course(self):
        url = reverse("wagtailadmin_pages:add", args=["curriculum", "lessonpage", self.course.pk])
        response = self.client.get(url)
        assert response.status_code in {302, 403}
        assert not LessonPage.objects.child_of(self.course).exists()

    def test_copying_a_module_copies_lessons_outcomes_and_prerequisites(self):
        other = ModulePage(title="Other", slug="other")
        self.course.add_child(instance=other)
        lesson = LessonPage(title="Lesson", slug="lesson")
        self.module.add_child(instance=lesson)
        self.module.prerequisites = [ModulePrerequisite(required_module=other)]
        self.module.save()
        response = self.client.post(
            reverse("wagtailadmin_pages:copy", args=[self.module.pk]),
            {
                "new_title": "Module (2027)",
                "new_slug": "module-2027",
                "new_parent_page": self.course.pk,
                "copy_subpages": True,
                "publish_copies": False,
            },
        )
        assert response.status_code == 302
        copy = ModulePage.objects.get(slug="module-2027")
        assert copy.get_children().get().title == "Lesson"
        assert copy.prerequisites.get().required_module == other


@pytest.mark.django_db
def test_review_workflow_is_idempotent_and_lead_educators_approve(people):
    index = curriculum_index_ensure()
    workflow = review_workflow_ensure(page=index)
    assert review_workflow_ensure(page=index) == workflow
    assert workflow.name == REVIEW_WORKFLOW_NAME
    course = CurriculumPage(title="Draft course", slug="draft", live=False)
    index.add_child(instance=course)
    course.save_revision(user=people["educator"])
    assert course.get_workflow() == workflow

    state = workflow.start(course, people["educator"])
    task_state = state.current_task_state
    lead = people["admin"]
    lead.groups.add(*workflow.tasks.get().specific.groups.filter(name=LEAD_EDUCATORS_GROUP))
    assert task_state.task.specific.user_can_access_editor(course, lead)
    task_state.task.specific.on_action(task_state, lead, "approve")
    course.refresh_from_db()
    assert course.live
