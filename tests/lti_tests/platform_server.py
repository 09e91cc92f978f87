"""An LTI 1.3 platform (an LMS's side of LTI), built on lti1p3platform, for the tests.

Run by tests/lti_tests/lms.py with the interpreter of its own virtualenv (it imports
nothing of Artefact's, nor Django): `python platform_server.py CONFIG.json`. It listens on
loopback and plays what an LMS does:

    GET  /start?...            an LMS page's "open the activity": 302 to the tool's OIDC login
    GET  /authorize?...        the OIDC authorisation endpoint: answers the form that posts
                               the signed id_token to the tool (a browser submits it)
    GET  /jwks                 the platform's public keys
    POST /token                client-credentials grant (the tool's signed JWT assertion)
    .../lineitems[/<id>[/scores|/results]]   Assignment and Grade Services 2.0
    GET  /contexts/<id>/memberships          Names and Role Provisioning Services 2.0
    POST /deep-link-return     receives and verifies the tool's LtiDeepLinkingResponse
    GET  /_received            what it received (scores, content items, errors) as JSON
    POST /_sign                signs a test's claims with the platform's key
"""

from __future__ import annotations

import html
import json
import sys
import threading
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from jwcrypto.jwk import JWK
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.membership import Context
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.oidc_login import OIDCLoginAbstract
from lti1p3platform.registration import Registration
from lti1p3platform.request import Request
from lti1p3platform.score import UpdateScoreStatus
from lti1p3platform.service_connector import (
    AssignmentsGradesService,
    NamesRoleProvisioningService,
)

CONFIG = json.loads(Path(sys.argv[1]).read_text())
PORT = CONFIG["port"]
BASE = f"http://127.0.0.1:{PORT}"
LOCK = threading.Lock()
RECEIVED: dict = {"scores": [], "content_items": [], "tokens": 0, "errors": [], "launches": []}
LAUNCHES: dict[str, dict] = {}  # lti_message_hint -> what the LMS page asked to launch
LINEITEMS: dict[str, dict] = {}  # line item id -> line item
MEMBERS: list[dict] = CONFIG.get("members", [])

_key = JWK.generate(kty="RSA", size=2048)
PRIVATE_PEM = _key.export_to_pem(private_key=True, password=None).decode()
PUBLIC_PEM = _key.export_to_pem().decode()


def registration() -> Registration:
    tool = CONFIG["tool"]
    return (
        Registration()
        .set_iss(BASE)
        .set_client_id(tool["client_id"])
        .set_deployment_id(tool["deployment_id"])
        .set_oidc_login_url(tool["oidc_login_url"])
        .set_launch_url(tool["launch_url"])
        .set_deeplink_launch_url(tool["launch_url"])
        .set_tool_key_set_url(tool["jwks_url"])
        .set_platform_public_key(PUBLIC_PEM)
        .set_platform_private_key(PRIVATE_PEM)
    )


class PlatformConf(LTI1P3PlatformConfAbstract):
    def init_platform_config(self, **kwargs):
        pass

    def get_registration_by_params(self, **kwargs):
        return registration()


class HttpRequest(Request):
    def build_metadata(self, handler):
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        content_type = handler.headers.get("Content-Type", "")
        form, data = {}, None
        if "json" in content_type and body:
            data = json.loads(body)
        elif body:
            form = dict(parse_qsl(body.decode()))
        return {
            "method": handler.command,
            "form_data": form,
            "get_data": dict(parse_qsl(parts.query)),
            "headers": dict(handler.headers),
            "content_type": content_type,
            "path": parts.path,
            "json": data,
        }


class Login(OIDCLoginAbstract):
    def set_lti_message_hint(self, **kwargs):
        self._lti_message_hint = kwargs["hint"]

    def get_redirect(self, url):
        return url


class Launch(LTIAdvantageMessageLaunchAbstract):
    def prepare_launch(self, preflight_response):
        spec = LAUNCHES[preflight_response["lti_message_hint"]]
        if spec.get("login_hint") != preflight_response.get("login_hint"):
            raise ValueError("login_hint does not match")
        context = spec.get("context", "course-1")
        self.set_user_data(
            spec["user"],
            spec["roles"],
            full_name=spec.get("name"),
            email_address=spec.get("email"),
        )
        self.set_launch_context_claim(context, context_title=f"LMS course {context}")
        if spec.get("target_link_uri"):
            self.set_launch_url(spec["target_link_uri"])
        if spec.get("custom"):
            self.set_custom_parameters_claim(spec["custom"])
        lineitems_url = f"{BASE}/contexts/{context}/lineitems"
        self.set_nrps(f"{BASE}/contexts/{context}/memberships")
        if spec["kind"] == "deeplink":
            self.set_dl(f"{BASE}/deep-link-return", title="Add content")
            self.set_ags(lineitems_url)
            return
        self.set_resource_link_claim(spec.get("resource_link", "link-1"))
        lineitem = spec.get("lineitem")
        self.set_ags(lineitems_url, f"{lineitems_url}/{lineitem}" if lineitem else None)

    def render_launch_form(self, launch_data, **kwargs):
        return launch_data


class Grades(AssignmentsGradesService):
    def find_lineitems(self, page=1, limit=None, **filters):
        items = [
            item
            for item in LINEITEMS.values()
            if all(item.get(k) == v for k, v in filters.items() if k in ("resourceId", "tag"))
        ]
        return {"content": items, "has_next": False}

    def find_lineitem(self, line_item_id):
        return LINEITEMS[line_item_id.rsplit("/", 1)[-1]]

    def create_lineitem(self, creation_data):
        item_id = uuid.uuid4().hex[:8]
        item = {**creation_data, "id": f"{self.ags.lineitems_url}/{item_id}"}
        LINEITEMS[item_id] = item
        return item

    def update_lineitem(self, update_data):
        LINEITEMS[update_data["id"].rsplit("/", 1)[-1]].update(update_data)
        return update_data

    def delete_lineitem(self, line_item_id):
        LINEITEMS.pop(line_item_id, None)

    def update_score(self, line_item_id, score):
        with LOCK:
            RECEIVED["scores"].append({"lineitem": line_item_id, **score})
        return UpdateScoreStatus.SUCCESS

    def get_results(self, line_item_id, page=1, limit=None, user_id=None):
        scores = [s for s in RECEIVED["scores"] if s["lineitem"] == line_item_id]
        return {"content": scores, "has_next": False}


class Roster(NamesRoleProvisioningService):
    def __init__(self, request, platform_config, context_memberships_url, context_id):
        super().__init__(request, platform_config, context_memberships_url)
        self.context_id = context_id

    def get_member_data_page(self, page=1, limit=None, role=None, since=None, **kwargs):
        return {"content": [dict(m) for m in MEMBERS], "has_next": False}

    def get_context_by_id(self):
        return Context(
            id=self.context_id, label=self.context_id, title=f"LMS course {self.context_id}"
        )


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format, *args):
        sys.stderr.write("platform: " + (format % args) + "\n")

    def answer(self, code, body, content_type="application/json", headers=None):
        data = body if isinstance(body, bytes) else body.encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def answer_service(self, response):
        body = response.result
        if isinstance(body, dict) and "content" in body:
            body = body["content"]
        if not 200 <= response.code < 300:
            body = {"error": response.message}
        self.answer(response.code, json.dumps(body), response.media_type)

    def do_GET(self):
        self.route()

    def do_POST(self):
        self.route()

    def do_PUT(self):
        self.route()

    def do_DELETE(self):
        self.route()

    def route(self):
        try:
            self._route()
        except Exception as error:
            with LOCK:
                RECEIVED["errors"].append(f"{self.command} {self.path}: {error!r}")
            traceback.print_exc()
            self.answer(400, json.dumps({"error": repr(error)}))

    def _route(self):
        request = HttpRequest(self)
        path = request.path
        parts = [p for p in path.split("/") if p]
        conf = PlatformConf()
        conf.get_registration()
        if path == "/jwks":
            return self.answer(200, json.dumps(conf.get_jwks()))
        if path == "/_received":
            with LOCK:
                return self.answer(200, json.dumps(RECEIVED, default=str))
        if path == "/start":
            spec = dict(request.get_data)
            spec["roles"] = spec["roles"].split(",")
            spec["custom"] = json.loads(spec["custom"]) if spec.get("custom") else None
            hint = uuid.uuid4().hex
            spec["login_hint"] = spec["user"]
            LAUNCHES[hint] = spec
            login = Login(request, conf)
            login.set_lti_message_hint(hint=hint)
            if spec.get("target_link_uri"):
                login.set_launch_url(spec["target_link_uri"])
            return self.answer(302, "", headers={"Location": login.initiate_login(spec["user"])})
        if path == "/authorize":
            launch = Launch(request, conf)
            data = launch.lti_launch()
            with LOCK:
                RECEIVED["launches"].append(LAUNCHES[request.get_data["lti_message_hint"]]["kind"])
            form = (
                f'<form method="post" action="{html.escape(data["launch_url"])}">'
                f'<input type="hidden" name="id_token" value="{data["id_token"]}">'
                f'<input type="hidden" name="state" value="{html.escape(data["state"])}">'
                "</form>"
            )
            return self.answer(200, form, "text/html")
        if path == "/_sign":
            # A test's own message signed with this platform's key: the refused-launch tests
            # (expired, wrong nonce, unknown deployment) need a correctly signed bad message.
            claims = request.json
            return self.answer(
                200, json.dumps({"jwt": conf.get_registration().platform_encode_and_sign(claims)})
            )
        if path == "/token":
            return self.answer(200, json.dumps(conf.get_access_token(request.form_data)))
        if path == "/deep-link-return":
            items = conf.validate_deeplinking_resp(request.form_data)
            with LOCK:
                RECEIVED["content_items"].extend(items)
            return self.answer(200, "<p>Content added.</p>", "text/html")
        if len(parts) >= 3 and parts[0] == "contexts":
            context = parts[1]
            if parts[2] == "memberships":
                roster = Roster(request, conf, f"{BASE}/contexts/{context}/memberships", context)
                return self.answer_service(roster.handle_resp(roster.handle_get_members))
            if parts[2] == "lineitems":
                lineitems_url = f"{BASE}/contexts/{context}/lineitems"
                if len(parts) == 3:
                    grades = Grades(request, conf, lineitems_url)
                    handler = (
                        grades.handle_create_lineitem
                        if request.method == "POST"
                        else grades.handle_get_lineitems
                    )
                    return self.answer_service(grades.handle_resp(handler))
                item_id = parts[3]
                grades = Grades(request, conf, lineitems_url, f"{lineitems_url}/{item_id}")
                if len(parts) == 5 and parts[4] == "scores":
                    return self.answer_service(
                        grades.handle_resp(grades.handle_update_score, line_item_id=item_id)
                    )
                if len(parts) == 5 and parts[4] == "results":
                    return self.answer_service(
                        grades.handle_resp(grades.handle_get_results, line_item_id=item_id)
                    )
                return self.answer_service(
                    grades.handle_resp(grades.handle_get_lineitem, line_item_id=item_id)
                )
        return self.answer(404, json.dumps({"error": "not found"}))


if __name__ == "__main__":
    for item_id in CONFIG.get("lineitems", []):
        LINEITEMS[item_id] = {
            "id": f"{BASE}/contexts/course-1/lineitems/{item_id}",
            "label": item_id,
            "scoreMaximum": 100,
        }
    server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
    print(f"platform listening on {BASE}", flush=True)
    server.serve_forever()
