"""An sftp server that fails one folder: run by `sshfs -o passive` over pipes.

    python sftp_eio.py NAME    (stdin, stdout: the sftp channel of sshfs)

It starts the system's sftp-server and passes every packet through, except an
SSH_FXP_OPENDIR of a path whose last part is NAME: that gets a status with a code no
sftp version defines, which sshfs (sftp_error_to_errno) turns into EIO, as a failing
disk on the far side would. So a real FUSE mount lists that folder with
"Input/output error" and everything else as it is.
"""

import struct
import subprocess
import sys
import threading

SFTP_SERVER = "/usr/lib/openssh/sftp-server"
OPENDIR, STATUS = 11, 101
UNDEFINED_CODE = 99  # sshfs maps any code it does not know to EIO


def read_packet(stream) -> bytes | None:
    head = stream.read(4)
    if len(head) < 4:
        return None
    body = stream.read(struct.unpack(">I", head)[0])
    return head + body


def failing_status(packet: bytes, name: bytes) -> bytes | None:
    """The reply to this packet if it opens the folder NAME, else None."""
    if packet[4] != OPENDIR:
        return None
    request_id, length = struct.unpack(">II", packet[5:13])
    path = packet[13:13 + length]
    if path.rstrip(b"/").rpartition(b"/")[2] != name:
        return None
    text = b"injected I/O error"
    body = struct.pack(">BII", STATUS, request_id, UNDEFINED_CODE)
    body += struct.pack(">I", len(text)) + text + struct.pack(">I", 0)
    return struct.pack(">I", len(body)) + body


def main() -> None:
    name = sys.argv[1].encode()
    server = subprocess.Popen([SFTP_SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    to_client, from_client = sys.stdout.buffer, sys.stdin.buffer
    lock = threading.Lock()

    def replies():
        while (packet := read_packet(server.stdout)) is not None:
            with lock:
                to_client.write(packet)
                to_client.flush()

    threading.Thread(target=replies, daemon=True).start()
    while (packet := read_packet(from_client)) is not None:
        reply = failing_status(packet, name)
        if reply is None:
            server.stdin.write(packet)
            server.stdin.flush()
            continue
        with lock:
            to_client.write(reply)
            to_client.flush()
    server.stdin.close()
    server.wait()


if __name__ == "__main__":
    main()
