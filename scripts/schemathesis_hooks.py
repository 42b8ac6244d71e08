"""Schemathesis hooks: how to send the media types it has no serializer for."""
import schemathesis


@schemathesis.serializer("message/rfc822")
def rfc822(ctx, value):
    """The e-mail adapter's raw RFC 5322 body: whatever text the case generated."""
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8")
