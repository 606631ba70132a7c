"""Runs PyPI's mongoeco (pinned to 4.11.0) as a MongoDB wire-protocol server for the tests:
`python mongoeco-server.py PORT [USER:PASSWORD]`, in memory, MongoDB 7.0 dialect, on 127.0.0.1;
with USER:PASSWORD, every connection must authenticate as that user of `admin` (SCRAM-SHA-256, as
real deployments require).

mongoeco has no command-line entry point, and three of its wire replies trip the Rust driver. They
are patched here, on mongoeco's private names; if a name is missing (another version), this stops
at once instead of serving wrong answers. To report upstream:

1. Integer command fields sent as BSON int64 (the Rust driver sends `limit`, `skip`, `batchSize`,
   `maxTimeMS` and `getMore`'s cursor id so) reach mongoeco's command compiler wrapped in its
   `BsonInt64`/`BsonInt32` scalars and fail its `isinstance(value, int)` checks ("wire find limit
   must be a non-negative integer", "wire getMore cursor id must be an integer"). They are
   unwrapped before the command is compiled.
2. Failure replies built without a `code` make the Rust driver fail on the reply itself ("missing
   field `code`"). Such replies get code 2 (BadValue).
3. `cursor.id` is encoded as int32 when it fits; the Rust driver requires int64. It is encoded as
   int64.
"""

import asyncio
import sys

import mongoeco
import mongoeco.wire as wire
from mongoeco.core.bson_scalars import BsonInt32, BsonInt64
from mongoeco.wire import executor as wire_executor
from mongoeco.wire import proxy as wire_proxy

VERSION = "4.11.0"
INTEGER_FIELDS = ("limit", "skip", "batchSize", "maxTimeMS", "ntoreturn", "getMore")


def require(owner, name):
    if not hasattr(owner, name):
        sys.exit(f"mongoeco-server: mongoeco {VERSION} has no {owner.__name__}.{name}; patches do not apply")
    return getattr(owner, name)


def patch():
    installed = getattr(mongoeco, "__version__", None)
    if installed not in (None, VERSION):
        sys.exit(f"mongoeco-server: patches are for mongoeco {VERSION}, found {installed}")

    executor_class = require(wire_executor, "WireCommandExecutor")
    build_context = require(executor_class, "_build_request_context")

    def build_context_with_plain_integers(self, body, *args, **kwargs):
        if isinstance(body, dict):
            for field in INTEGER_FIELDS:
                value = body.get(field)
                if isinstance(value, BsonInt64 | BsonInt32):
                    body[field] = value.value
        return build_context(self, body, *args, **kwargs)

    executor_class._build_request_context = build_context_with_plain_integers

    encode_response = require(wire_proxy, "encode_op_msg_response")

    def encode_response_for_the_rust_driver(document, **kwargs):
        if isinstance(document, dict):
            if document.get("ok") in (0, 0.0) and "code" not in document:
                document = {**document, "code": 2, "codeName": "BadValue"}
            cursor = document.get("cursor")
            if isinstance(cursor, dict) and type(cursor.get("id")) is int:
                document = {**document, "cursor": {**cursor, "id": BsonInt64(cursor["id"])}}
        return encode_response(document, **kwargs)

    wire_proxy.encode_op_msg_response = encode_response_for_the_rust_driver


async def main(port, credentials=None):
    server_class = require(wire, "AsyncMongoEcoProxyServer")
    options = {}
    if credentials:
        from mongoeco.wire.auth import WireAuthUser

        user, _, password = credentials.partition(":")
        options["auth_users"] = (WireAuthUser(user, password, "admin"),)
    server = server_class(host="127.0.0.1", port=port, mongodb_dialect="7.0", **options)
    await server.start()
    print(f"mongoeco {VERSION} listening on 127.0.0.1:{port}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    patch()
    asyncio.run(main(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else None))
