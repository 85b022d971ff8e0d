"""moto's S3 server, with each object write made atomic.

moto 5 checks a PUT's `If-Match` / `If-None-Match` and then stores the
object as two steps of a threaded server, with no lock between them
(moto/s3/responses.py, `put_object`): two racing conditional PUTs of one
key can both pass the check, which S3 never allows. Compare-and-swap tests
(object_store's own concurrent `put_opts` counter among them) then lose
increments now and then, by moto's race and not the client's.

This launcher holds one lock around moto's handling of each object-level
PUT, POST and DELETE. The request body is read before (in
`setup_class`), so a slow upload does not hold it; reads never take it.
Everything else is moto's own `moto_server` entry point, with the same
arguments.
"""

import sys
import threading

from moto.s3.responses import S3Response
from moto.server import main

_WRITES = threading.Lock()
_key_response = S3Response._key_response


def _atomic_key_response(self, request, full_url):
    if request.method in ("PUT", "POST", "DELETE"):
        with _WRITES:
            return _key_response(self, request, full_url)
    return _key_response(self, request, full_url)


S3Response._key_response = _atomic_key_response

if __name__ == "__main__":
    sys.argv[0] = "moto_server"
    sys.exit(main())
