"""The HTTP front of the local SageMaker: SageMaker's JSON 1.1 protocol on 127.0.0.1.

A request is `POST /` with `X-Amz-Target: SageMaker.<Operation>` and a JSON body (AWS JSON 1.1 protocol,
as boto3's and the Go SDK's SageMaker clients send it). The endpoint operations are answered here, and
Application Auto Scaling's tag operations (`AnyScaleFrontendService.<Operation>`, see autoscaling.py); every
other request, of any service, is forwarded unchanged to the moto server and its answer returned
unchanged, so models, endpoint configurations, S3, CloudWatch and Application Auto Scaling live in moto.
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

from tritonform.localsagemaker import autoscaling, runtime
from tritonform.localsagemaker.api import ApiError
from tritonform.localsagemaker.service import LocalSageMaker

LOG = logging.getLogger("tritonform.localsagemaker")
TARGET_PREFIX = "SageMaker."
TAG_OPERATIONS = {"AddTags", "ListTags", "DeleteTags"}
# Hop-by-hop headers (RFC 9110 section 7.6.1) are not forwarded; Content-Length is recomputed.
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection",
              "content-length"}  # fmt: skip
# The region is the third part of the credential scope in a Signature Version 4 Authorization header.
CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([a-z0-9-]+)/")
TIMELINE_ROUTE = "/_localsagemaker/timeline/"
# InvokeEndpoint, SageMaker Runtime API Reference: POST /endpoints/EndpointName/invocations.
INVOCATIONS = re.compile(r"/endpoints/([a-zA-Z0-9-]{1,63})/invocations")
FORWARD_TIMEOUT_S = 60


def region_of(authorization: str | None) -> str:
    match = CREDENTIAL_SCOPE.search(authorization or "")
    return match.group(1) if match else "us-east-1"


class Handler(BaseHTTPRequestHandler):
    server: LocalServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        LOG.debug("%s " + format, self.address_string(), *args)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        # One request per connection, as the moto server behind answers: a client reusing an idle
        # connection the server is about to drop failed intermittently (Terraform's Go SDK).
        self.send_header("Connection", "close")
        self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: object, extra: list[tuple[str, str]] | None = None) -> None:
        body = json.dumps(payload).encode()
        self._send(status, body, [("Content-Type", "application/x-amz-json-1.1"), *(extra or [])])

    def do_POST(self) -> None:
        body = self._body()
        invocation = INVOCATIONS.fullmatch(self.path)
        if invocation is not None:
            reply = runtime.invoke(self.server.sagemaker, invocation.group(1), body,
                                   self.headers.get("X-Amzn-SageMaker-Target-Variant"))  # fmt: skip
            self._send(reply.status, reply.body, reply.headers)
            return
        target = self.headers.get("X-Amz-Target", "")
        if target.startswith(autoscaling.TARGET_PREFIX):
            self._autoscaling(target.removeprefix(autoscaling.TARGET_PREFIX), body)
            return
        operation = target.removeprefix(TARGET_PREFIX) if target.startswith(TARGET_PREFIX) else ""
        service = self.server.sagemaker
        handler = service.operations().get(operation)
        request: dict[str, object] = {}
        if handler is not None or operation in TAG_OPERATIONS:
            try:
                parsed = json.loads(body or b"{}")
            except ValueError:
                self._error(ApiError("SerializationException", "the request body is not JSON"))
                return
            request = parsed if isinstance(parsed, dict) else {}
        owner = service.owns(request.get("ResourceArn")) if operation in TAG_OPERATIONS else None
        if handler is None and owner is None:
            self._forward(body)
            return
        try:
            if owner is not None:
                answer = service.tags(operation, owner, request)
            else:
                assert handler is not None
                answer = handler(region_of(self.headers.get("Authorization")), request)
        except ApiError as err:
            self._error(err)
            return
        except Exception as err:  # answered as AWS answers its own failures, and logged
            LOG.exception("%s failed", operation)
            self._error(ApiError("InternalFailure", f"{type(err).__name__}: {err}", 500))
            return
        self._json(200, answer)

    def _error(self, err: ApiError) -> None:
        self._send(err.status, err.body(), [("Content-Type", "application/x-amz-json-1.1"),
                                            ("x-amzn-ErrorType", err.code)])  # fmt: skip

    def _autoscaling(self, operation: str, body: bytes) -> None:
        """Application Auto Scaling: the tag operations answered here, the rest forwarded (autoscaling.py)."""
        if operation not in autoscaling.TAG_OPERATIONS | autoscaling.WATCHED_OPERATIONS:
            self._forward(body)
            return
        tags, region = self.server.scaling_tags, region_of(self.headers.get("Authorization"))
        try:
            parsed = json.loads(body or b"{}")
            request = parsed if isinstance(parsed, dict) else {}
        except ValueError:
            request = {}
        try:
            if operation in autoscaling.TAG_OPERATIONS:
                self._json(200, tags.answer(operation, request))
                return
            arn = tags.target_arn(region, request) if operation == "DeregisterScalableTarget" else None
            relayed = self._relay(body)
            if relayed is None:
                return
            status, headers, answer = relayed
            if status == 200 and operation == "RegisterScalableTarget":
                registered = json.loads(answer or b"{}")
                tags.registered(request, registered if isinstance(registered, dict) else {})
            elif status == 200:
                tags.deregistered(region, request, arn)
        except ApiError as err:
            self._error(err)
            return
        except Exception as err:  # answered as AWS answers its own failures, and logged
            LOG.exception("%s failed", operation)
            self._error(ApiError("InternalFailure", f"{type(err).__name__}: {err}", 500))
            return
        self._send(status, answer, [(k, v) for k, v in headers if k.lower() != "content-length"])

    def do_GET(self) -> None:
        if self.path.startswith(TIMELINE_ROUTE):
            # Not an AWS operation: the stand-in's record of the last operation on an endpoint, for tests.
            name = self.path.removeprefix(TIMELINE_ROUTE)
            with self.server.sagemaker.lock:
                endpoint = self.server.sagemaker.endpoints.get(name)
                events = [event.as_dict() for event in endpoint.timeline] if endpoint else None
            if events is None:
                self._json(404, {"message": f"no endpoint {name}"})
            else:
                self._json(200, {"EndpointName": name, "Timeline": events})
            return
        self._forward(self._body())

    def do_PUT(self) -> None:
        self._forward(self._body())

    def do_DELETE(self) -> None:
        self._forward(self._body())

    def do_HEAD(self) -> None:
        self._forward(b"")

    def _forward(self, body: bytes) -> None:
        """Send the request to moto as it came (method, path, headers, body) and its answer back as it came."""
        relayed = self._relay(body)
        if relayed is None:
            return
        status, headers, answer = relayed
        if self.command == "HEAD":  # no body; the Content-Length is the one moto gave
            self.send_response(status)
            for key, value in headers:
                self.send_header(key, value)
            self.send_header("Connection", "close")
            self.close_connection = True
            self.end_headers()
            return
        self._send(status, answer, [(k, v) for k, v in headers if k.lower() != "content-length"])

    def _relay(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes] | None:
        """moto's answer to the request as it came: status, headers (hop-by-hop ones left out, but the
        Content-Length), body; None once a 503 has been answered because moto did not answer."""
        moto = urlparse(self.server.moto_url)
        connection = http.client.HTTPConnection(moto.hostname or "127.0.0.1", moto.port, timeout=FORWARD_TIMEOUT_S)
        try:
            connection.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for key, value in self.headers.items():
                if key.lower() not in HOP_BY_HOP:
                    connection.putheader(key, value)
            connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
            answer = response.read()
            headers = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP - {"content-length"}]
        except OSError as err:
            self._error(ApiError("ServiceUnavailable", f"the moto server did not answer: {err}", 503))
            return None
        finally:
            connection.close()
        return response.status, headers, answer


class LocalServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, moto_url: str, sagemaker: LocalSageMaker) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.moto_url = moto_url
        self.sagemaker = sagemaker
        self.scaling_tags = autoscaling.ScalingTags(sagemaker.backing)


def serve(server: LocalServer, lifetime_s: float) -> None:
    """Serve until `lifetime_s` real seconds have passed (bounded in time), then stop every operation."""
    timer = threading.Timer(lifetime_s, server.shutdown)
    timer.daemon = True
    timer.start()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        timer.cancel()
        server.sagemaker.stop_all()
        server.server_close()
