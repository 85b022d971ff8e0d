#!/usr/bin/env python3
"""Small helpers for scripts/servers.sh (standard library only).

Every network call here goes to 127.0.0.1 and has a timeout.

Subcommands:
  ports N                                    print N free TCP ports on 127.0.0.1
  wait URL TIMEOUT PID                       wait until URL answers any HTTP status
  s3-bucket ENDPOINT BUCKET                  create a bucket with a plain path-style PUT
  azure-container BLOB_URL ACCOUNT KEY NAME  create a container (SharedKey-signed PUT)
  gcs-bucket ENDPOINT BUCKET                 create a bucket through the JSON API
  gcs-seed ENDPOINT BUCKET                   upload the seed objects listed in SEED
  gcs-service-account ENDPOINT PATH          write the service-account file object_store reads
  seed-list                                  print the seed objects as NAME:SIZE:SHA256 lines
"""

import base64
import datetime
import hashlib
import hmac
import json
import os
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

HTTP_TIMEOUT = 10

# Never route loopback traffic through a proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _seed_objects():
    """The objects seeded into the fake-gcs-server bucket.

    Keep in sync with the comment in scripts/servers.sh; the Rust tests assert
    these names and contents.
      seerstore-seed/small.txt      b"hello from seerstore\\n" (21 bytes)
      seerstore-seed/empty          b"" (0 bytes)
      seerstore-seed/L0/000001.sst  1048576 bytes, byte i == i % 251
      seerstore-seed/L0/000002.sst  4096 bytes, bytes(range(256)) * 16
      seerstore-seed/L00/x          b"x" (1 byte)
    """
    return [
        ("seerstore-seed/small.txt", b"hello from seerstore\n"),
        ("seerstore-seed/empty", b""),
        ("seerstore-seed/L0/000001.sst", bytes(i % 251 for i in range(1024 * 1024))),
        ("seerstore-seed/L0/000002.sst", bytes(range(256)) * 16),
        ("seerstore-seed/L00/x", b"x"),
    ]


def _request(method, url, body=None, headers=None, timeout=HTTP_TIMEOUT):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with _OPENER.open(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def _expect(status, body, ok, what):
    if status not in ok:
        text = body.decode("utf-8", "replace")[:2000]
        sys.exit(f"{what}: HTTP {status}: {text}")


def cmd_ports(count):
    socks, ports = [], []
    for _ in range(int(count)):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    print(" ".join(str(p) for p in ports))


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by the shell) counts as dead.
    try:
        with open(f"/proc/{pid}/stat", "r", encoding="ascii", errors="replace") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def cmd_wait(url, timeout, pid):
    deadline = time.monotonic() + float(timeout)
    pid = int(pid)
    last = "no attempt"
    while time.monotonic() < deadline:
        if not _alive(pid):
            sys.exit(f"process {pid} exited before {url} answered")
        try:
            status, _ = _request("GET", url, timeout=2)
            return  # any HTTP answer means the server is up
        except (OSError, urllib.error.URLError) as err:
            last = str(err)
        time.sleep(0.2)
    sys.exit(f"{url} did not answer within {timeout} s (last error: {last})")


def cmd_s3_bucket(endpoint, bucket):
    status, body = _request("PUT", f"{endpoint}/{bucket}", body=b"")
    _expect(status, body, (200,), f"create bucket {bucket}")


def _azure_shared_key(method, url, account, key, headers):
    """Authorization header value for the Blob service's SharedKey scheme."""
    parsed = urllib.parse.urlsplit(url)
    std = [
        "Content-Encoding",
        "Content-Language",
        "Content-Length",
        "Content-MD5",
        "Content-Type",
        "Date",
        "If-Modified-Since",
        "If-Match",
        "If-None-Match",
        "If-Unmodified-Since",
        "Range",
    ]
    lower = {k.lower(): v for k, v in headers.items()}
    values = []
    for name in std:
        v = lower.get(name.lower(), "")
        if name == "Content-Length" and v == "0":
            v = ""
        values.append(v)
    ms = sorted((k, v.strip()) for k, v in lower.items() if k.startswith("x-ms-"))
    canon_headers = "".join(f"{k}:{v}\n" for k, v in ms)
    canon_resource = f"/{account}{parsed.path}"
    query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
    for k in sorted(query, key=str.lower):
        canon_resource += f"\n{k.lower()}:{','.join(sorted(query[k]))}"
    to_sign = method + "\n" + "\n".join(values) + "\n" + canon_headers + canon_resource
    digest = hmac.new(base64.b64decode(key), to_sign.encode("utf-8"), hashlib.sha256).digest()
    return f"SharedKey {account}:{base64.b64encode(digest).decode('ascii')}"


def cmd_azure_container(blob_url, account, key, container):
    url = f"{blob_url}/{account}/{container}?restype=container"
    headers = {
        "x-ms-date": datetime.datetime.now(datetime.timezone.utc).strftime(
            "%a, %d %b %Y %H:%M:%S GMT"
        ),
        "x-ms-version": "2021-08-06",
        "Content-Length": "0",
        # Set explicitly: urllib would add a form Content-Type, which is signed.
        "Content-Type": "application/octet-stream",
    }
    headers["Authorization"] = _azure_shared_key("PUT", url, account, key, headers)
    status, body = _request("PUT", url, body=b"", headers=headers)
    _expect(status, body, (201,), f"create container {container}")


def cmd_gcs_bucket(endpoint, bucket):
    body = json.dumps({"name": bucket}).encode()
    status, resp = _request(
        "POST",
        f"{endpoint}/storage/v1/b",
        body=body,
        headers={"Content-Type": "application/json"},
    )
    _expect(status, resp, (200,), f"create bucket {bucket}")


def cmd_gcs_seed(endpoint, bucket):
    for name, data in _seed_objects():
        q = urllib.parse.urlencode({"uploadType": "media", "name": name})
        url = f"{endpoint}/upload/storage/v1/b/{urllib.parse.quote(bucket, safe='')}/o?{q}"
        status, resp = _request(
            "POST", url, body=data, headers={"Content-Type": "application/octet-stream"}
        )
        _expect(status, resp, (200,), f"upload {name}")
        got = json.loads(resp)
        if int(got.get("size", -1)) != len(data):
            sys.exit(f"upload {name}: server reports size {got.get('size')}, sent {len(data)}")


def cmd_gcs_service_account(endpoint, path):
    doc = {
        "gcs_base_url": endpoint,
        "disable_oauth": True,
        "client_email": "",
        "private_key": "",
        "private_key_id": "",
    }
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def cmd_seed_list():
    for name, data in _seed_objects():
        print(f"{name}:{len(data)}:{hashlib.sha256(data).hexdigest()}")


COMMANDS = {
    "ports": (cmd_ports, 1),
    "wait": (cmd_wait, 3),
    "s3-bucket": (cmd_s3_bucket, 2),
    "azure-container": (cmd_azure_container, 4),
    "gcs-bucket": (cmd_gcs_bucket, 2),
    "gcs-seed": (cmd_gcs_seed, 2),
    "gcs-service-account": (cmd_gcs_service_account, 2),
    "seed-list": (cmd_seed_list, 0),
}


def main(argv):
    if len(argv) < 2 or argv[1] not in COMMANDS:
        sys.exit(__doc__)
    func, nargs = COMMANDS[argv[1]]
    if len(argv) - 2 != nargs:
        sys.exit(f"{argv[1]} takes {nargs} argument(s)\n{__doc__}")
    func(*argv[2:])


if __name__ == "__main__":
    main(sys.argv)
