"""/dicomweb/... routes (PS3.18 §10: resources of the Studies Service)."""

from django.urls import path, re_path, register_converter

from studies.dicomweb import views


class UidSegmentConverter:
    """Any one path segment: the view checks it against the strict UID pattern and answers
    400 with a clear message, rather than the resolver answering a bare 404."""

    regex = "[^/]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(UidSegmentConverter, "uid")

STUDY = "studies/<uid:study>"
SERIES = f"{STUDY}/series/<uid:series>"
INSTANCE = f"{SERIES}/instances/<uid:instance>"

app_name = "dicomweb"
urlpatterns = [
    path("studies", views.studies, name="studies"),
    path("series", views.series_search_all, name="series_search"),
    path("instances", views.instance_search_all, name="instance_search"),
    path(STUDY, views.study, name="study"),
    path(f"{STUDY}/metadata", views.study_metadata, name="study_metadata"),
    path(f"{STUDY}/thumbnail", views.study_thumbnail, name="study_thumbnail"),
    path(f"{STUDY}/series", views.study_series, name="study_series"),
    path(f"{STUDY}/instances", views.study_instances, name="study_instances"),
    path(SERIES, views.series, name="series"),
    path(f"{SERIES}/metadata", views.series_metadata, name="series_metadata"),
    path(f"{SERIES}/thumbnail", views.series_thumbnail, name="series_thumbnail"),
    path(f"{SERIES}/instances", views.series_instances, name="series_instances"),
    path(INSTANCE, views.instance, name="instance"),
    path(f"{INSTANCE}/metadata", views.instance_metadata, name="instance_metadata"),
    path(f"{INSTANCE}/rendered", views.instance_rendered, name="instance_rendered"),
    path(f"{INSTANCE}/thumbnail", views.instance_thumbnail, name="instance_thumbnail"),
    path(f"{INSTANCE}/frames/<str:frames>", views.instance_frames, name="instance_frames"),
    path(f"{INSTANCE}/frames/<str:frames>/rendered", views.frames_rendered, name="frames_rendered"),
    path(f"{INSTANCE}/bulkdata/<str:tag>", views.instance_bulkdata, name="instance_bulkdata"),
    # Anything else under /dicomweb/ (an unknown resource, a UID with an encoded slash).
    re_path(r"^(?P<rest>.*)$", views.unknown_resource, name="unknown_resource"),
]
