#!/usr/bin/env python3
"""Smoke check of the servers started by scripts/servers.sh.

Run it as `scripts/servers.sh smoke` (it reads target/test-servers/env.sh).
Uses boto3 from the moto virtualenv for S3 (SigV4) and the standard library
for Azurite and fake-gcs-server. Talks to 127.0.0.1 only.
"""

import email.utils
import hashlib
import json
import os
import sys
import urllib.parse
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import servers_helper as helper  # noqa: E402

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402

FAILURES = []


def check(what, cond, detail=""):
    print(f"  {'ok  ' if cond else 'FAIL'} {what}{'' if cond else ' ' + detail}")
    if not cond:
        FAILURES.append(what)


def s3(prefix):
    env = os.environ
    name = prefix.lower()
    print(f"{name}: {env[f'SEERSTORE_TEST_{prefix}_ENDPOINT']}")
    client = boto3.client(
        "s3",
        endpoint_url=env[f"SEERSTORE_TEST_{prefix}_ENDPOINT"],
        aws_access_key_id=env[f"SEERSTORE_TEST_{prefix}_ACCESS_KEY_ID"],
        aws_secret_access_key=env[f"SEERSTORE_TEST_{prefix}_SECRET_ACCESS_KEY"],
        region_name=env[f"SEERSTORE_TEST_{prefix}_REGION"],
        config=Config(
            s3={"addressing_style": "path"},
            signature_version="s3v4",
            retries={"max_attempts": 1},
            connect_timeout=5,
            read_timeout=30,
            proxies={},
        ),
    )
    bucket = env[f"SEERSTORE_TEST_{prefix}_BUCKET"]
    data = bytes(range(256)) * 40
    client.put_object(Bucket=bucket, Key="smoke/a.bin", Body=data)
    client.put_object(Bucket=bucket, Key="smoke/dir/b.bin", Body=b"b")
    got = client.get_object(Bucket=bucket, Key="smoke/a.bin")["Body"].read()
    check("put/get", got == data)
    got = client.get_object(Bucket=bucket, Key="smoke/a.bin", Range="bytes=10-19")["Body"].read()
    check("range get", got == data[10:20], repr(got))
    keys = [
        o["Key"]
        for o in client.list_objects_v2(Bucket=bucket, Prefix="smoke/").get("Contents", [])
    ]
    check("list", sorted(keys) == ["smoke/a.bin", "smoke/dir/b.bin"], repr(keys))
    resp = client.list_objects_v2(Bucket=bucket, Prefix="smoke/", Delimiter="/")
    prefixes = [p["Prefix"] for p in resp.get("CommonPrefixes", [])]
    keys = [o["Key"] for o in resp.get("Contents", [])]
    check("list with delimiter", keys == ["smoke/a.bin"] and prefixes == ["smoke/dir/"],
          repr((keys, prefixes)))
    head = client.head_object(Bucket=bucket, Key="smoke/a.bin")
    check("head", head["ContentLength"] == len(data))

    part1 = b"p" * (5 * 1024 * 1024)
    part2 = b"q" * 1000
    up = client.create_multipart_upload(Bucket=bucket, Key="smoke/multi.bin")
    etags = []
    for n, body in ((1, part1), (2, part2)):
        r = client.upload_part(Bucket=bucket, Key="smoke/multi.bin", PartNumber=n,
                               UploadId=up["UploadId"], Body=body)
        etags.append({"PartNumber": n, "ETag": r["ETag"]})
    client.complete_multipart_upload(Bucket=bucket, Key="smoke/multi.bin",
                                     UploadId=up["UploadId"],
                                     MultipartUpload={"Parts": etags})
    got = client.get_object(Bucket=bucket, Key="smoke/multi.bin")["Body"].read()
    check("multipart upload", got == part1 + part2)

    client.copy_object(Bucket=bucket, Key="smoke/copy.bin",
                       CopySource={"Bucket": bucket, "Key": "smoke/a.bin"})
    got = client.get_object(Bucket=bucket, Key="smoke/copy.bin")["Body"].read()
    check("copy", got == data)

    for key in ("smoke/a.bin", "smoke/dir/b.bin", "smoke/multi.bin", "smoke/copy.bin"):
        client.delete_object(Bucket=bucket, Key=key)
    left = client.list_objects_v2(Bucket=bucket, Prefix="smoke/").get("KeyCount", 0)
    check("delete", left == 0, repr(left))


def azurite():
    env = os.environ
    base = env["SEERSTORE_TEST_AZURITE_ENDPOINT"]
    account = env["SEERSTORE_TEST_AZURITE_ACCOUNT"]
    key = env["SEERSTORE_TEST_AZURITE_KEY"]
    container = env["SEERSTORE_TEST_AZURITE_CONTAINER"]
    print(f"azurite: {base}")

    def call(method, path_query, body=None, extra=None):
        url = f"{base}/{container}{path_query}"
        headers = {
            "x-ms-date": email.utils.formatdate(usegmt=True),
            "x-ms-version": "2021-08-06",
            "Content-Type": "application/octet-stream",
        }
        if body is not None:
            headers["Content-Length"] = str(len(body))
        headers.update(extra or {})
        headers["Authorization"] = helper._azure_shared_key(method, url, account, key, headers)
        return helper._request(method, url, body=body, headers=headers)

    data = b"azure!" * 1000
    status, body = call("PUT", "/smoke/a.bin", data, {"x-ms-blob-type": "BlockBlob"})
    check("put", status == 201, f"{status} {body[:300]!r}")
    status, body = call("GET", "/smoke/a.bin")
    check("get", status == 200 and body == data, str(status))
    status, body = call("GET", "/smoke/a.bin", extra={"Range": "bytes=6-11"})
    check("range get", status == 206 and body == data[6:12], f"{status} {body[:50]!r}")
    status, body = call("GET", "?restype=container&comp=list&prefix=smoke/")
    names = [e.text for e in ET.fromstring(body).iter("Name")] if status == 200 else []
    check("list", names == ["smoke/a.bin"], f"{status} {names}")
    status, body = call("DELETE", "/smoke/a.bin")
    check("delete", status == 202, str(status))


def gcs():
    env = os.environ
    base = env["SEERSTORE_TEST_GCS_ENDPOINT"]
    bucket = env["SEERSTORE_TEST_GCS_BUCKET"]
    print(f"fake-gcs-server: {base}")
    expected = {}
    for entry in env["SEERSTORE_TEST_GCS_SEEDED"].split():
        name, size, sha = entry.split(":")
        expected[name] = (int(size), sha)
    q = urllib.parse.urlencode({"prefix": env["SEERSTORE_TEST_GCS_SEED_PREFIX"] + "/"})
    status, body = helper._request("GET", f"{base}/storage/v1/b/{bucket}/o?{q}")
    items = {o["name"]: int(o["size"]) for o in json.loads(body).get("items", [])}
    check("list (JSON API)", items == {n: s for n, (s, _) in expected.items()}, repr(items))
    for name, (size, sha) in expected.items():
        # object_store reads objects at {base_url}/{bucket}/{name}
        status, data = helper._request("GET", f"{base}/{bucket}/{urllib.parse.quote(name)}")
        check(f"get {name}", status == 200 and hashlib.sha256(data).hexdigest() == sha,
              f"{status} {len(data)}")
    status, data = helper._request(
        "GET", f"{base}/{bucket}/seerstore-seed/L0/000001.sst", headers={"Range": "bytes=251-260"}
    )
    check("range get", status == 206 and data == bytes(range(10)), f"{status} {data!r}")


def main():
    s3("MOTO")
    s3("S3S")
    azurite()
    gcs()
    if FAILURES:
        sys.exit(f"{len(FAILURES)} check(s) failed: {', '.join(FAILURES)}")
    print("all smoke checks passed")


if __name__ == "__main__":
    main()
