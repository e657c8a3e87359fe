"""A proxy that changes one request on its way to S3, as a bad cable, a broken NIC or
a meddling middlebox would: flip a byte of an UploadPart's body, change the full-object
CRC64NVME a CompleteMultipartUpload (or a PUT) declares, or add a wrong Content-MD5 to
a bag's PUT. Everything else passes as it is (tests/support/proxy.py). AWS refuses each
(BadDigest, InvalidRequest); moto stores them."""

import base64
import hashlib

from tests.support.proxy import LoopbackProxy

ZERO_CRC = base64.b64encode(bytes(8)).decode()  # the CRC64NVME of no bag of ours
EMPTY_MD5 = base64.b64encode(hashlib.md5(b"").digest()).decode()


def flip_part_byte(method, path, headers, body):
    if method == "PUT" and "partNumber=" in path and body:
        middle = len(body) // 2
        return {}, body[:middle] + bytes([body[middle] ^ 0xFF]) + body[middle + 1:]
    return None


def wrong_full_crc(method, path, headers, body):
    completes = method == "POST" and "uploadId=" in path
    puts_bag = method == "PUT" and path.split("?")[0].endswith(".tar") and \
        "partNumber=" not in path
    if (completes or puts_bag) and "x-amz-checksum-crc64nvme" in headers:
        return {"x-amz-checksum-crc64nvme": ZERO_CRC}, body
    return None


def wrong_md5(method, path, headers, body):
    if method == "PUT" and path.split("?")[0].endswith(".tar") and body:
        return {"Content-MD5": EMPTY_MD5}, body
    return None


class TamperProxy(LoopbackProxy):
    """Tampers with the first request `tamper` picks (it returns the headers to set and
    the body, or None to pass the request on as it is); `tampered` names it."""

    def __init__(self, upstream_port: int, tamper):
        super().__init__(upstream_port, tamper=tamper)
