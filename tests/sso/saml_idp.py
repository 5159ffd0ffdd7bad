"""A SAML 2.0 identity provider for the SSO tests, built on pysaml2's IdP (`saml2.server.Server`), on 127.0.0.1.

    python tests/sso/saml_idp.py CONFIG.json

CONFIG.json: {"port", "key_file", "cert_file", "sp_metadata_file", "people": {login: {"password", "attributes"}}}.
Endpoints: /metadata (the IdP's metadata), /sso/redirect (HTTP-Redirect binding: shows a login form), /sso/login
(checks the password, answers with a signed assertion through the HTTP-POST binding). Attributes are sent with
their friendly names (uid, mail, givenName, sn, displayName, isMemberOf) in the URI name format, as OIDs.
Prints "ready <base url>" once listening.
"""

from __future__ import annotations

import html
import json
import secrets
import shutil
import sys
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, make_server

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.metadata import entity_descriptor
from saml2.saml import NAME_FORMAT_URI, NAMEID_FORMAT_PERSISTENT, NameID
from saml2.server import Server
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

PASSWORD_CLASS = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"


def build_server(config: dict[str, Any]) -> Server:
    base = f"http://127.0.0.1:{config['port']}"
    idp_config = IdPConfig()
    idp_config.load({
        "entityid": f"{base}/metadata",
        "service": {"idp": {
            "name": "Outcomedesk test IdP",
            "endpoints": {"single_sign_on_service": [(f"{base}/sso/redirect", BINDING_HTTP_REDIRECT)]},
            "policy": {"default": {"lifetime": {"minutes": 15}, "attribute_restrictions": None,
                                   "name_form": NAME_FORMAT_URI}},
            "name_id_format": [NAMEID_FORMAT_PERSISTENT],
            "want_authn_requests_signed": False,
        }},
        "key_file": config["key_file"],
        "cert_file": config["cert_file"],
        "metadata": {"local": [config["sp_metadata_file"]]},
        "xmlsec_binary": shutil.which("xmlsec1") or "/usr/bin/xmlsec1",
    })
    return Server(config=idp_config)


def login_form(key: str, error: str = "") -> str:
    alert = f'<p role="alert">{html.escape(error)}</p>' if error else ""
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>SAML IdP sign-in</title></head>
<body><h1>SAML IdP sign-in</h1>{alert}<form method="post" action="/sso/login">
<input type="hidden" name="key" value="{html.escape(key)}">
<label for="username">SAML username</label> <input id="username" name="username" autocomplete="off">
<label for="password">SAML password</label> <input id="password" name="password" type="password">
<button type="submit">Sign in to the SAML IdP</button></form></body></html>"""


def make_app(config: dict[str, Any]) -> Any:
    server = build_server(config)
    people: dict[str, dict[str, Any]] = config["people"]
    pending: dict[str, tuple[Any, str]] = {}

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        path = environ["PATH_INFO"]

        def respond(status: str, body: str, content_type: str = "text/html; charset=utf-8") -> list[bytes]:
            start_response(status, [("Content-Type", content_type)])
            return [body.encode()]

        if path == "/metadata":
            return respond("200 OK", str(entity_descriptor(server.config)), "application/samlmetadata+xml")
        if path == "/sso/redirect":
            query = parse_qs(environ.get("QUERY_STRING", ""))
            if "SAMLRequest" not in query:
                return respond("400 Bad Request", "SAMLRequest is missing", "text/plain")
            request = server.parse_authn_request(query["SAMLRequest"][0], BINDING_HTTP_REDIRECT)
            key = secrets.token_urlsafe(16)
            pending[key] = (request.message, query.get("RelayState", [""])[0])
            return respond("200 OK", login_form(key))
        if path == "/sso/login" and environ["REQUEST_METHOD"] == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            form = parse_qs(environ["wsgi.input"].read(length).decode())
            key = form.get("key", [""])[0]
            if key not in pending:
                return respond("400 Bad Request", "unknown or used sign-in request", "text/plain")
            login, password = form.get("username", [""])[0], form.get("password", [""])[0]
            person = people.get(login)
            if person is None or person["password"] != password:
                return respond("200 OK", login_form(key, "Wrong username or password"))
            message, relay_state = pending.pop(key)
            sp_entity_id = message.issuer.text
            acs = server.config.metadata.assertion_consumer_service(sp_entity_id, BINDING_HTTP_POST)[0]["location"]
            response = server.create_authn_response(
                identity=person["attributes"], in_response_to=message.id, destination=acs,
                sp_entity_id=sp_entity_id, name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text=person["name_id"]),
                authn={"class_ref": PASSWORD_CLASS}, sign_response=True, sign_assertion=True,
                sign_alg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256,  # the SP refuses SHA-1 signatures
            )
            binding = server.apply_binding(BINDING_HTTP_POST, str(response), acs, relay_state, response=True)
            return respond("200 OK", binding["data"])
        return respond("404 Not Found", "not found", "text/plain")

    return app


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def main() -> None:
    with open(sys.argv[1]) as handle:
        config = json.load(handle)
    httpd = make_server("127.0.0.1", config["port"], make_app(config), handler_class=QuietHandler)
    print(f"ready http://127.0.0.1:{config['port']}", flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    main()
