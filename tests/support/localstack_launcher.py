"""LocalStack's S3 on the host, as tests/support/s3server.py runs it: `python
tests/support/localstack_launcher.py PORT` in LocalStack's own venv (Python 3.13+, Makefile's
`.venv-localstack`), never imported by the suite.

Two changes to LocalStack, both in this process only:
- an access log line per request, `"PUT /bucket/key?query HTTP/1.1" 200`, the shape
  werkzeug prints for moto, so S3Server.requests() reads either server;
- a thaw delay: with GLACIER_TEST_THAW_SECONDS=N > 0 a RestoreObject keeps the object
  `ongoing-request="true"` for N seconds (GET refused with InvalidObjectState, another
  restore answered 409 RestoreAlreadyInProgress), as Deep Archive does for 12-48 hours.
  LocalStack itself thaws at once.
It prints "Running on http://127.0.0.1:PORT" once its gateway is ready, as werkzeug does.
"""

import functools
import os
import sys
import threading
import time


def access_log(_chain, context, response):
    request = context.request
    target = request.environ.get("RAW_URI") or (
        request.path + (f"?{request.query_string.decode()}" if request.query_string else ""))
    print(f'127.0.0.1 - - "{request.method} {target} HTTP/1.1" {response.status_code} -',
          flush=True)


def with_access_log():
    from localstack.aws.app import LocalstackAwsGateway
    created = LocalstackAwsGateway.__init__

    def __init__(self, *args, **kwargs):
        created(self, *args, **kwargs)
        self.response_handlers.append(access_log)
    LocalstackAwsGateway.__init__ = __init__


def with_thaw_delay(seconds: float):
    from localstack.aws.api import CommonServiceException
    from localstack.aws.api.s3 import InvalidObjectState
    from localstack.services.s3.provider import S3Provider
    thawing: dict[tuple, float] = {}  # (bucket, key, version) -> when the thaw ends
    restore, get = S3Provider.restore_object, S3Provider.get_object

    def ongoing(where) -> bool:
        return thawing.get(where, 0) > time.monotonic()

    def stored(provider, context, bucket, key, version):
        _, found = provider._get_cross_account_bucket(context, bucket)
        return found.get_object(key=key, version_id=version, http_method="GET")

    @functools.wraps(restore)  # keeps LocalStack's @handler marks: how it dispatches
    def restore_object(self, context, bucket, key, version_id=None, *args, **kwargs):
        where = (bucket, key, version_id)
        if ongoing(where):
            raise CommonServiceException("RestoreAlreadyInProgress",
                                         "Object restore is already in progress", 409, True)
        answer = restore(self, context, bucket, key, version_id, *args, **kwargs)
        s3_object = stored(self, context, bucket, key, version_id)
        done = s3_object.restore
        thawing[where] = time.monotonic() + seconds
        s3_object.restore = 'ongoing-request="true"'
        threading.Timer(seconds, lambda: setattr(s3_object, "restore", done)).start()
        return answer

    @functools.wraps(get)
    def get_object(self, context, request):
        if ongoing((request["Bucket"], request["Key"], request.get("VersionId"))):
            raise InvalidObjectState("The operation is not valid for the object's "
                                     "storage class", StorageClass="DEEP_ARCHIVE")
        return get(self, context, request)
    S3Provider.restore_object, S3Provider.get_object = restore_object, get_object


def say_when_ready(port: int):
    from localstack.runtime import events
    events.infra_ready.wait()
    print(f"Running on http://127.0.0.1:{port}", flush=True)


def main():
    port = int(sys.argv[1])
    os.environ.update({
        "GATEWAY_LISTEN": f"127.0.0.1:{port}", "SERVICES": "s3", "EAGER_SERVICE_LOADING": "1",
        "DNS_ADDRESS": "0",  # no DNS server of its own (it would want port 53)
        "SKIP_SSL_CERT_DOWNLOAD": "1", "DISABLE_EVENTS": "1",
        "LOCALSTACK_HOST": f"127.0.0.1:{port}"})
    with_access_log()
    thaw = float(os.environ.get("GLACIER_TEST_THAW_SECONDS") or 0)
    if thaw > 0:
        with_thaw_delay(thaw)
    threading.Thread(target=say_when_ready, args=(port,), daemon=True).start()
    from localstack.runtime.main import main as run
    run()


if __name__ == "__main__":
    main()
