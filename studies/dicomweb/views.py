"""DICOMweb views (PS3.18): thin — parse the request, ask selectors/services, answer.

Every view is wrapped by `dicomweb_endpoint` (authentication, UID checks, errors); every
read is restricted by accounts.permissions through studies.selectors.
"""

from __future__ import annotations

import io
import math
import mmap
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field

import pydicom
from django.conf import settings
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods
from pydicom.uid import UID, ExplicitVRLittleEndian

from accounts.permissions import may
from studies import selectors, services
from studies.dicomweb import dicomjson
from studies.dicomweb.access import DicomwebError, dicomweb_endpoint
from studies.dicomweb.multipart import (
    MultipartError,
    accept_parse,
    boundary_new,
    file_chunks,
    media_type_parse,
    multipart_parts_locate,
    multipart_stream,
)
from studies.dicomweb.pixels import (
    FrameNotAvailable,
    FrameNotDecodable,
    RenderRequest,
    TransferSyntaxNotAvailable,
    frame_numbers_check,
    frame_render,
    frames_read,
)
from studies.models import Instance
from studies.pixel_budget import DeclaredPixels, PixelBudgetExceeded, pixel_budget_check

DEFAULT_UPLOAD_MAX_BYTES = 512 * 1024 * 1024
DEFAULT_QIDO_MAX_RESULTS = 1000
THUMBNAIL_VIEWPORT = (128, 128)


# --- URLs of resources, for RetrieveURL and BulkDataURI ---------------------------------------


def _base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("dicomweb:studies")).removesuffix("/studies")


def _study_url(request, study_uid: str) -> str:
    return f"{_base_url(request)}/studies/{study_uid}"


def _series_url(request, study_uid: str, series_uid: str) -> str:
    return f"{_study_url(request, study_uid)}/series/{series_uid}"


def _instance_url(request, instance: Instance) -> str:
    series = instance.series
    return (
        f"{_series_url(request, series.study.study_instance_uid, series.series_instance_uid)}"
        f"/instances/{instance.sop_instance_uid}"
    )


# --- QIDO-RS (PS3.18 §10.6) -------------------------------------------------------------------


@dataclass
class QidoParameters:
    matches: dict[str, str] = field(default_factory=dict)
    include_all: bool = False
    include_tags: set[int] = field(default_factory=set)
    fuzzy: bool = False
    limit: int | None = None
    offset: int = 0
    ignored: list[str] = field(default_factory=list)


# limit and offset beyond this are not pages anyone can ask for; a database refuses
# integers past 64 bits (SQLite raises OverflowError), so they are answered 400 here.
QIDO_MAX_OFFSET = 2**31 - 1


def _non_negative(name: str, text: str, *, maximum: int = QIDO_MAX_OFFSET) -> int:
    """A decimal integer 0..maximum written in ASCII digits, else 400."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 12 or int(text) > maximum:
        raise DicomwebError(
            400, f"{name} must be an integer from 0 to {maximum}, not {text[:40]!r}."
        )
    return int(text)


def _qido_parameters(request: HttpRequest, *, supported: dict) -> QidoParameters:
    """PS3.18 §8.3.4: {attributeID}={value}, includefield, fuzzymatching, limit, offset."""
    parameters = QidoParameters()
    for key in request.GET:
        values = request.GET.getlist(key)
        lower = key.lower()
        if lower == "limit":
            parameters.limit = _non_negative("limit", values[-1])
        elif lower == "offset":
            parameters.offset = _non_negative("offset", values[-1])
        elif lower == "fuzzymatching":
            if values[-1].lower() not in ("true", "false"):
                raise DicomwebError(400, "fuzzymatching must be true or false.")
            parameters.fuzzy = values[-1].lower() == "true"
        elif lower == "includefield":
            for part in ",".join(values).split(","):
                if part.strip().lower() == "all":
                    parameters.include_all = True
                elif part.strip():
                    tag = dicomjson.keyword_or_tag_resolve(part)
                    if tag is None:
                        raise DicomwebError(400, f"includefield {part[:60]!r} is no attribute.")
                    parameters.include_tags.add(tag)
        else:
            tag = dicomjson.keyword_or_tag_resolve(key)
            if tag is None:
                raise DicomwebError(400, f"Unknown query parameter {key[:60]!r}.")
            keyword = dicomjson.keyword_of(tag)
            if keyword in supported:
                parameters.matches[keyword] = values[-1]
                parameters.include_tags.add(tag)
            else:
                # PS3.18 §8.3.4.3: an attribute the server cannot match on is ignored and
                # the response says so in a Warning header.
                parameters.ignored.append(keyword)
    maximum = getattr(settings, "DICOMWEB_QIDO_MAX_RESULTS", DEFAULT_QIDO_MAX_RESULTS)
    if parameters.limit is None or parameters.limit > maximum:
        parameters.limit = maximum
    return parameters


def _with_includes(
    attributes: dict,
    *,
    request: HttpRequest,
    parameters: QidoParameters,
    extra: dict,
    representative,
    level_extra,
) -> dict:
    """Add includefield attributes: from the index when kept there, else from a file."""
    if parameters.include_all:
        attributes.update(extra)
    wanted = {tag for tag in parameters.include_tags if f"{tag:08X}" not in attributes} - {
        int(k, 16) for k in extra if k in attributes
    }
    for key, value in extra.items():
        if int(key, 16) in wanted:
            attributes[key] = value
            wanted.discard(int(key, 16))
    if parameters.include_all and level_extra is not None:
        wanted |= {int(pydicom.datadict.tag_for_keyword(k)) for k in level_extra}
    if wanted or (parameters.include_all and level_extra is None):
        found = representative()
        if found is not None:
            instance, header = found
            if parameters.include_all and level_extra is None:
                # Instance level: "all" is every attribute of the instance's header.
                wanted |= {int(element.tag) for element in header}
            url = _instance_url(request, instance)
            attributes.update(
                dicomjson.header_attributes(
                    header,
                    tags=wanted - {int(k, 16) for k in attributes},
                    bulk_data_uri=lambda tag: f"{url}/bulkdata/{tag:08X}",
                )
            )
    return dict(sorted(attributes.items()))


def _representative(instance: Instance | None):
    if instance is None:
        return None
    return instance, dicomjson.header_read(selectors.instance_file_path(instance=instance))


def _qido_response(documents: list[dict], parameters: QidoParameters) -> HttpResponse:
    response = HttpResponse(
        dicomjson.json_array_stream(documents), content_type=dicomjson.DICOM_JSON
    )
    if parameters.ignored:
        response["Warning"] = (
            f'299 artefact "Matching is not supported on: {", ".join(parameters.ignored)}"'
        )
    return response


@require_http_methods(["GET", "POST"])
@dicomweb_endpoint
def studies(request: HttpRequest):
    """GET: QIDO-RS study search. POST: STOW-RS store."""
    if request.method == "POST":
        return _stow(request, study_uid=None)
    parameters = _qido_parameters(request, supported=selectors.STUDY_MATCH_FIELDS)
    found = selectors.studies_search(
        user=request.user,
        matches=parameters.matches,
        fuzzy=parameters.fuzzy,
        limit=parameters.limit,
        offset=parameters.offset,
    )
    documents = [
        _with_includes(
            dicomjson.study_attributes(
                study, retrieve_url=_study_url(request, study.study_instance_uid)
            ),
            request=request,
            parameters=parameters,
            extra=dicomjson.study_extra_attributes(study),
            representative=lambda s=study: _representative(
                Instance.objects.filter(series__study=s).first()
            ),
            level_extra=dicomjson.STUDY_LEVEL_EXTRA,
        )
        for study in found
    ]
    return _qido_response(documents, parameters)


def _series_search(request, *, study: str | None):
    parameters = _qido_parameters(request, supported=selectors.SERIES_MATCH_FIELDS)
    found = selectors.series_search(
        user=request.user,
        study_instance_uid=study,
        matches=parameters.matches,
        fuzzy=parameters.fuzzy,
        limit=parameters.limit,
        offset=parameters.offset,
    )
    documents = []
    for series in found:
        attributes = dicomjson.series_attributes(
            series,
            retrieve_url=_series_url(
                request, series.study.study_instance_uid, series.series_instance_uid
            ),
        )
        if study is None:  # a search across studies returns the study's attributes too
            attributes = {
                **dicomjson.study_attributes(
                    series.study,
                    retrieve_url=_study_url(request, series.study.study_instance_uid),
                ),
                **attributes,
            }
        documents.append(
            _with_includes(
                attributes,
                request=request,
                parameters=parameters,
                extra=dicomjson.study_extra_attributes(series.study),
                representative=lambda s=series: _representative(s.instances.first()),
                level_extra=dicomjson.SERIES_LEVEL_EXTRA,
            )
        )
    return _qido_response(documents, parameters)


def _instance_search(request, *, study: str | None, series: str | None):
    parameters = _qido_parameters(request, supported=selectors.INSTANCE_MATCH_FIELDS)
    found = selectors.instances_search(
        user=request.user,
        study_instance_uid=study,
        series_instance_uid=series,
        matches=parameters.matches,
        fuzzy=parameters.fuzzy,
        limit=parameters.limit,
        offset=parameters.offset,
    )
    documents = []
    for instance in found:
        attributes = dicomjson.instance_attributes(
            instance, retrieve_url=_instance_url(request, instance)
        )
        if series is None:
            attributes = {
                **dicomjson.series_attributes(
                    instance.series,
                    retrieve_url=_series_url(
                        request,
                        instance.series.study.study_instance_uid,
                        instance.series.series_instance_uid,
                    ),
                ),
                **attributes,
            }
        documents.append(
            _with_includes(
                attributes,
                request=request,
                parameters=parameters,
                extra={},
                representative=lambda i=instance: _representative(i),
                level_extra=None,
            )
        )
    return _qido_response(documents, parameters)


@require_GET
@dicomweb_endpoint
def series_search_all(request):
    return _series_search(request, study=None)


@require_GET
@dicomweb_endpoint
def study_series(request, *, study: str):
    return _series_search(request, study=study)


@require_GET
@dicomweb_endpoint
def instance_search_all(request):
    return _instance_search(request, study=None, series=None)


@require_GET
@dicomweb_endpoint
def study_instances(request, *, study: str):
    return _instance_search(request, study=study, series=None)


@require_GET
@dicomweb_endpoint
def series_instances(request, *, study: str, series: str):
    return _instance_search(request, study=study, series=series)


# --- WADO-RS targets: what a study, series or instance URL names ---------------------------------


def _study_instances(request, study: str) -> list[Instance]:
    found = selectors.study_locate(user=request.user, study_instance_uid=study)
    return selectors.study_instances(study=found, user=request.user)


def _series_instances(request, study: str, series: str) -> list[Instance]:
    found = selectors.series_locate(
        user=request.user, study_instance_uid=study, series_instance_uid=series
    )
    return selectors.series_instances(series=found)


def _located(request, study, series, instance) -> Instance:
    return selectors.instance_locate(
        user=request.user,
        study_instance_uid=study,
        series_instance_uid=series,
        sop_instance_uid=instance,
    )


# --- WADO-RS metadata (PS3.18 §10.4.1.1.2) ----------------------------------------------------


def _metadata_documents(request, instances: list[Instance]) -> Iterator[bytes]:
    for instance in instances:
        yield dicomjson.instance_metadata_encoded(
            instance,
            path=selectors.instance_file_path(instance=instance),
            instance_url=_instance_url(request, instance),
        )


def _metadata_response(request, instances: list[Instance]) -> StreamingHttpResponse:
    return StreamingHttpResponse(
        dicomjson.json_array_join(_metadata_documents(request, instances)),
        content_type=dicomjson.DICOM_JSON,
    )


@require_GET
@dicomweb_endpoint
def study_metadata(request, *, study: str):
    return _metadata_response(request, _study_instances(request, study))


@require_GET
@dicomweb_endpoint
def series_metadata(request, *, study: str, series: str):
    return _metadata_response(request, _series_instances(request, study, series))


@require_GET
@dicomweb_endpoint
def instance_metadata(request, *, study: str, series: str, instance: str):
    return _metadata_response(request, [_located(request, study, series, instance)])


# --- WADO-RS instances (PS3.18 §10.4.1.1.1) ---------------------------------------------------


def _accept_header(request) -> str:
    # PS3.18 §8.3.3.1: an "accept" query parameter overrides the Accept header.
    return request.GET.get("accept") or request.META.get("HTTP_ACCEPT", "") or "*/*"


def _syntax_negotiate(request, *, media_type: str, what: str) -> str:
    """The transfer syntax asked for with `media_type` (bare or inside multipart/related):
    '*' (as stored) or a UID. PS3.18 §8.7.3.5.2: the default is Explicit VR Little Endian."""
    for media in accept_parse(_accept_header(request)):
        if media.type in ("*/*", "multipart/*") or (
            media.type == "multipart/related" and media.inner_type in ("", "*/*")
        ):
            return ExplicitVRLittleEndian
        if media.type == media_type or (
            media.type == "multipart/related" and media.inner_type == media_type
        ):
            return media.transfer_syntax or ExplicitVRLittleEndian
    raise DicomwebError(406, f'{what} are available as multipart/related; type="{media_type}".')


def _instance_as(instance: Instance, *, syntax: str) -> tuple[str, Iterator[bytes]]:
    path = selectors.instance_file_path(instance=instance)
    stored = instance.transfer_syntax_uid
    if syntax in ("*", stored) or (
        syntax == ExplicitVRLittleEndian and stored == ExplicitVRLittleEndian
    ):
        return f"application/dicom; transfer-syntax={stored}", file_chunks(path)
    # Explicit VR Little Endian asked for, stored otherwise: decode honestly, per instance.
    ds = pydicom.dcmread(path)
    if UID(stored).is_compressed:
        ds.decompress()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return f"application/dicom; transfer-syntax={ExplicitVRLittleEndian}", iter([out.getvalue()])


def _instances_response(request, instances: list[Instance]) -> StreamingHttpResponse:
    syntax = _syntax_negotiate(request, media_type="application/dicom", what="Instances")
    if syntax not in ("*", ExplicitVRLittleEndian):
        unavailable = [i for i in instances if i.transfer_syntax_uid != syntax]
        if unavailable:
            raise DicomwebError(
                406,
                f"Transfer syntax {syntax} is not available; ask for transfer-syntax=* "
                f"or {ExplicitVRLittleEndian}.",
            )
    if syntax == ExplicitVRLittleEndian:
        # Decompressing happens while streaming, too late for an error status: the
        # budget is checked for every instance before the first byte goes out.
        for instance in instances:
            if UID(instance.transfer_syntax_uid).is_compressed and instance.number_of_frames:
                declared = DeclaredPixels(
                    rows=instance.rows or 0,
                    columns=instance.columns or 0,
                    samples=instance.samples_per_pixel or 1,
                    bits_allocated=instance.bits_allocated or 8,
                    frames=instance.number_of_frames,
                )
                try:
                    pixel_budget_check(declared)
                except PixelBudgetExceeded as error:
                    raise DicomwebError(
                        422, f"{instance.sop_instance_uid} cannot be decompressed: {error}"
                    ) from None
    boundary = boundary_new()

    def parts():
        for instance in instances:
            yield _instance_as(instance, syntax=syntax)

    response = StreamingHttpResponse(
        multipart_stream(parts=parts(), boundary=boundary),
        content_type=f'multipart/related; type="application/dicom"; boundary={boundary}',
    )
    return response


@require_http_methods(["GET", "POST"])
@dicomweb_endpoint
def study(request, *, study: str):
    """GET: retrieve the study's instances. POST: STOW-RS into this study."""
    if request.method == "POST":
        return _stow(request, study_uid=study)
    return _instances_response(request, _study_instances(request, study))


@require_GET
@dicomweb_endpoint
def series(request, *, study: str, series: str):
    return _instances_response(request, _series_instances(request, study, series))


@require_GET
@dicomweb_endpoint
def instance(request, *, study: str, series: str, instance: str):
    return _instances_response(request, [_located(request, study, series, instance)])


# --- WADO-RS frames and bulk data (PS3.18 §10.4.1.1.3, §10.4.1.1.5) ----------------------------


def _frame_list_parse(text: str) -> list[int]:
    numbers = []
    for part in text.split(","):
        if not (part.strip().isascii() and part.strip().isdigit()) or len(part.strip()) > 9:
            raise DicomwebError(400, f"Frame list {text[:60]!r}: frame numbers are integers.")
        number = int(part)
        if number < 1:
            raise DicomwebError(400, "Frame numbers start at 1 (PS3.18 §10.4.1.1.3).")
        numbers.append(number)
    return numbers


def _octet_parts_response(parts: list[tuple[str, bytes]]) -> HttpResponse:
    boundary = boundary_new()
    syntax = parts[0][0] if parts else ExplicitVRLittleEndian
    return StreamingHttpResponse(
        multipart_stream(
            parts=((f"application/octet-stream; transfer-syntax={s}", [data]) for s, data in parts),
            boundary=boundary,
        ),
        content_type=(
            f'multipart/related; type="application/octet-stream"; '
            f"transfer-syntax={syntax}; boundary={boundary}"
        ),
    )


@require_GET
@dicomweb_endpoint
def instance_frames(request, *, study: str, series: str, instance: str, frames: str):
    numbers = _frame_list_parse(frames)
    found = _located(request, study, series, instance)
    syntax = _syntax_negotiate(request, media_type="application/octet-stream", what="Frames")
    stored = found.transfer_syntax_uid
    if syntax not in ("*", ExplicitVRLittleEndian, stored):
        raise DicomwebError(
            406,
            f"Frames are available as {stored} (transfer-syntax=*) or {ExplicitVRLittleEndian}.",
        )
    try:
        frame_numbers_check(instance=found, numbers=numbers)
        got = frames_read(
            instance=found,
            path=selectors.instance_file_path(instance=found),
            numbers=numbers,
            accept_any_syntax=syntax != ExplicitVRLittleEndian,
        )
    except FrameNotAvailable as error:
        raise DicomwebError(404, str(error)) from None
    except TransferSyntaxNotAvailable as error:
        raise DicomwebError(406, str(error)) from None
    except (PixelBudgetExceeded, FrameNotDecodable) as error:
        raise DicomwebError(422, str(error)) from None
    return _octet_parts_response([(f.transfer_syntax_uid, f.data) for f in got])


@require_GET
@dicomweb_endpoint
def instance_bulkdata(request, *, study: str, series: str, instance: str, tag: str):
    found = _located(request, study, series, instance)
    try:
        tag_number = int(tag, 16)
    except ValueError:
        raise DicomwebError(400, f"{tag[:20]!r} is not a tag (8 hex digits).") from None
    path = selectors.instance_file_path(instance=found)
    if tag_number == 0x7FE00010:
        if found.number_of_frames == 0:
            raise DicomwebError(404, "This instance has no pixel data.")
        try:
            got = frames_read(
                instance=found,
                path=path,
                numbers=list(range(1, found.number_of_frames + 1)),
                accept_any_syntax=True,
            )
        except TransferSyntaxNotAvailable as error:
            raise DicomwebError(406, str(error)) from None
        except (PixelBudgetExceeded, FrameNotDecodable) as error:
            raise DicomwebError(422, str(error)) from None
        return _octet_parts_response([(got[0].transfer_syntax_uid, b"".join(f.data for f in got))])
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    element = next((e for e in ds.iterall() if int(e.tag) == tag_number), None)
    if element is None or not isinstance(element.value, bytes):
        raise DicomwebError(404, f"No bulk data element {tag} in this instance.")
    return _octet_parts_response([(found.transfer_syntax_uid, element.value)])


# --- WADO-RS rendered and thumbnail (PS3.18 §10.4.1.1.4, §10.4.1.1.6) -------------------------


def _render_request(request, *, thumbnail: bool) -> RenderRequest:
    media_type = None
    for media in accept_parse(_accept_header(request)):
        if media.type in ("image/jpeg", "image/png"):
            media_type = media.type
            break
        if media.type in ("*/*", "image/*"):
            media_type = "image/jpeg"  # PS3.18 §8.7.4: JPEG is the default rendered type
            break
    if media_type is None:
        raise DicomwebError(406, "Rendered images are available as image/jpeg or image/png.")
    window = None
    if request.GET.get("window"):
        parts = request.GET["window"].split(",")
        try:
            centre, width = float(parts[0]), float(parts[1])
            if not (math.isfinite(centre) and math.isfinite(width)):
                raise ValueError("not a finite number")
        except (ValueError, IndexError):
            raise DicomwebError(400, "window is centre,width[,function].") from None
        function = parts[2].strip().lower() if len(parts) > 2 else "linear"
        if function not in ("linear", "linear-exact", "sigmoid") or width <= 0:
            raise DicomwebError(400, "window function is linear, linear-exact or sigmoid.")
        window = (centre, width, function)
    viewport = THUMBNAIL_VIEWPORT if thumbnail else None
    if request.GET.get("viewport"):
        parts = request.GET["viewport"].split(",")
        try:
            viewport = (int(parts[0]), int(parts[1]))
        except (ValueError, IndexError):
            raise DicomwebError(400, "viewport is width,height.") from None
        if not (0 < viewport[0] <= 4096 and 0 < viewport[1] <= 4096):
            raise DicomwebError(400, "viewport sizes are 1 to 4096.")
    quality = 90
    if request.GET.get("quality"):
        quality = _non_negative("quality", request.GET["quality"])
        if not 1 <= quality <= 100:
            raise DicomwebError(400, "quality is 1 to 100.")
    return RenderRequest(media_type=media_type, window=window, viewport=viewport, quality=quality)


def _rendered(request, instance: Instance, *, frame_number: int, thumbnail: bool):
    render = _render_request(request, thumbnail=thumbnail)
    try:
        frame_numbers_check(instance=instance, numbers=[frame_number])
    except FrameNotAvailable as error:
        raise DicomwebError(404, str(error)) from None
    try:
        data = frame_render(
            instance=instance,
            path=selectors.instance_file_path(instance=instance),
            frame_number=frame_number,
            request=render,
        )
    except TransferSyntaxNotAvailable as error:
        raise DicomwebError(406, str(error)) from None
    except (PixelBudgetExceeded, FrameNotDecodable) as error:
        # PS3.18 §8.6.1.2 leaves the status open; 422: the request is fine, the stored
        # instance cannot be shown within this site's limits.
        raise DicomwebError(422, str(error)) from None
    return HttpResponse(data, content_type=render.media_type)


@require_GET
@dicomweb_endpoint
def instance_rendered(request, *, study: str, series: str, instance: str):
    return _rendered(
        request, _located(request, study, series, instance), frame_number=1, thumbnail=False
    )


@require_GET
@dicomweb_endpoint
def frames_rendered(request, *, study: str, series: str, instance: str, frames: str):
    numbers = _frame_list_parse(frames)
    if len(numbers) != 1:
        raise DicomwebError(400, "Render one frame at a time.")
    return _rendered(
        request,
        _located(request, study, series, instance),
        frame_number=numbers[0],
        thumbnail=False,
    )


@require_GET
@dicomweb_endpoint
def instance_thumbnail(request, *, study: str, series: str, instance: str):
    return _rendered(
        request, _located(request, study, series, instance), frame_number=1, thumbnail=True
    )


def _middle_image(instances: list[Instance]) -> Instance:
    images = [i for i in instances if i.number_of_frames]
    if not images:
        raise DicomwebError(404, "Nothing here has pixel data to show.")
    return images[len(images) // 2]


@require_GET
@dicomweb_endpoint
def series_thumbnail(request, *, study: str, series: str):
    image = _middle_image(_series_instances(request, study, series))
    return _rendered(request, image, frame_number=1, thumbnail=True)


@require_GET
@dicomweb_endpoint
def study_thumbnail(request, *, study: str):
    image = _middle_image(_study_instances(request, study))
    return _rendered(request, image, frame_number=1, thumbnail=True)


# --- STOW-RS (PS3.18 §10.5) -----------------------------------------------------------------


def _body_spool(request, *, limit: int):
    """The request body in a temporary file, refused (413) beyond `limit` bytes, whether
    or not the client declared a Content-Length."""
    declared = request.META.get("CONTENT_LENGTH")
    if declared and declared.isdigit() and int(declared) > limit:
        raise DicomwebError(413, f"The upload exceeds the limit of {limit} bytes.")
    spool = tempfile.TemporaryFile()  # noqa: SIM115 (the caller closes it in a with block)
    received = 0
    while chunk := request.read(1024 * 1024):
        received += len(chunk)
        if received > limit:
            spool.close()
            raise DicomwebError(413, f"The upload exceeds the limit of {limit} bytes.")
        spool.write(chunk)
    spool.flush()
    return spool, received


def _stow(request, *, study_uid: str | None):
    if not may(request.user, "studies.store"):
        raise DicomwebError(403, "Only educators and programme admins may store studies.")
    already = request.GET.get("already-deidentified", "").lower() == "true"
    if already and not may(request.user, "studies.store_without_deidentification"):
        raise DicomwebError(403, "Only a programme admin may store without de-identification.")
    content_type = media_type_parse(request.META.get("CONTENT_TYPE", ""))
    if content_type.type != "multipart/related":
        raise DicomwebError(415, 'STOW-RS takes multipart/related; type="application/dicom".')
    if content_type.inner_type not in ("application/dicom", ""):
        raise DicomwebError(
            415, f"Only application/dicom parts are accepted, not {content_type.inner_type}."
        )
    boundary = content_type.params.get("boundary", "").strip('"')
    if not boundary:
        raise DicomwebError(400, "The Content-Type has no boundary parameter.")
    limit = getattr(settings, "STUDY_UPLOAD_MAX_BYTES", DEFAULT_UPLOAD_MAX_BYTES)
    spool, size = _body_spool(request, limit=limit)
    with spool:
        if size == 0:
            raise DicomwebError(400, "The body is empty.")
        with mmap.mmap(spool.fileno(), 0, access=mmap.ACCESS_READ) as body:
            try:
                located = multipart_parts_locate(body=body, boundary=boundary)
            except MultipartError as error:
                raise DicomwebError(400, f"Malformed multipart body: {error}") from None
            if not located:
                raise DicomwebError(400, "The multipart body holds no instances.")
            wrong = [
                p
                for p in located
                if media_type_parse(p.content_type or "application/dicom").type
                != "application/dicom"
            ]
            files = (bytes(body[p.start : p.end]) for p in located if p not in wrong)
            outcome = services.study_store_uploaded(
                files=files,
                user=request.user,
                deidentify=not already,
                required_study_instance_uid=study_uid,
            )
    for _part in wrong:
        outcome.failed.append(
            services.FailedInstance(
                sop_class_uid="",
                sop_instance_uid="",
                failure_reason=services.FAILURE_CANNOT_UNDERSTAND,
                message="A part that is not application/dicom.",
            )
        )
    return _stow_response(request, outcome)


def _stow_response(request, outcome: services.StoreOutcome) -> HttpResponse:
    """PS3.18 §10.5.3: 200 when every instance was stored, 202 when some were, 409 when
    none was; the body lists each (Referenced / Failed SOP Sequence, Table 10.5.3-3)."""
    referenced = []
    for stored in outcome.stored:
        item = {
            "00081150": {"vr": "UI", "Value": [stored.sop_class_uid]},
            "00081155": {"vr": "UI", "Value": [stored.sop_instance_uid]},
            "00081190": {
                "vr": "UR",
                "Value": [
                    f"{_series_url(request, stored.study_instance_uid, stored.series_instance_uid)}"
                    f"/instances/{stored.sop_instance_uid}"
                ],
            },
        }
        # B000 Coercion of Data Elements: de-identification replaced identifying values.
        item["00081196"] = {"vr": "US", "Value": [0xB000]}
        referenced.append(dict(sorted(item.items())))
    failed = [
        {
            "00081150": {"vr": "UI", "Value": [f.sop_class_uid]}
            if f.sop_class_uid
            else {"vr": "UI"},
            "00081155": {"vr": "UI", "Value": [f.sop_instance_uid]}
            if f.sop_instance_uid
            else {"vr": "UI"},
            "00081197": {"vr": "US", "Value": [f.failure_reason]},
        }
        for f in outcome.failed
    ]
    document: dict[str, dict] = {}
    study_uids = sorted({s.study_instance_uid for s in outcome.stored})
    if len(study_uids) == 1:
        document["00081190"] = {"vr": "UR", "Value": [_study_url(request, study_uids[0])]}
    if failed:
        document["00081198"] = {"vr": "SQ", "Value": failed}
    if referenced:
        document["00081199"] = {"vr": "SQ", "Value": referenced}
    status = 200 if not failed else 202 if referenced else 409
    response = HttpResponse(
        b"".join(dicomjson.json_array_stream([document]))[1:-1],
        status=status,
        content_type=dicomjson.DICOM_JSON,
    )
    if outcome.failed:
        reasons = "; ".join(sorted({f.message for f in outcome.failed}))
        response["Warning"] = f'299 artefact "{reasons[:500]}"'.replace("\n", " ")
    return response


@dicomweb_endpoint
def unknown_resource(request, *, rest: str):
    raise DicomwebError(
        404, "No such DICOMweb resource (PS3.18 §10: /studies, /series, /instances and below)."
    )
