"""The Event envelope: building one per signal, completing what the publisher fills in
(id, source, publisher id, sequence, time, ordering key) and the rules the broker checks,
so a bad event fails in the caller with a clear message (core/codec.cc in C++). The
limits mirror core/include/signalbus/core/codec.h; core/testdata/envelope_cases.tsv holds
the cases both languages are tested against."""
import math
import re

from signalbus import ulid
from signalbus.errors import InvalidEvent
from signalbus.masking import mask_credentials
from signalbus.proto import SCHEMA_VERSION, event_pb2
from signalbus.topics import MAX_TOPIC_BYTES, validate_sender, validate_signal

Event = event_pb2.Event

# Django's signals with a payload of their own; every other name travels as `custom`.
PAYLOAD_FOR_SIGNAL = {
    "pre_save": "model_save",
    "post_save": "model_save",
    "pre_delete": "model_delete",
    "post_delete": "model_delete",
    "m2m_changed": "m2m_changed",
    "user_logged_in": "user_session",
    "user_logged_out": "user_session",
    "user_login_failed": "login_failed",
}

M2M_ACTIONS = {
    "pre_add": event_pb2.M2MChanged.PRE_ADD,
    "post_add": event_pb2.M2MChanged.POST_ADD,
    "pre_remove": event_pb2.M2MChanged.PRE_REMOVE,
    "post_remove": event_pb2.M2MChanged.POST_REMOVE,
    "pre_clear": event_pb2.M2MChanged.PRE_CLEAR,
    "post_clear": event_pb2.M2MChanged.POST_CLEAR,
}

_MAX_SAFE_INT = 2**53

# The envelope's limits (kMax... in codec.h).
MAX_VALUE_NESTING = 24  # objects and arrays in an instance's fields or custom kwargs; {} is 1
MAX_PUBLISHER_ID_BYTES = 128
MAX_SOURCE_BYTES = 128
MAX_ORDERING_KEY_BYTES = 1024
MIN_TIMESTAMP_SECONDS = -62_135_596_800  # 0001-01-01T00:00:00Z
MAX_TIMESTAMP_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z
_PUBLISHER_ID_RE = re.compile(r"[A-Za-z0-9._:-]*\Z")


def payload_for(signal):
    return PAYLOAD_FOR_SIGNAL.get(signal, "custom")


def json_safe(value):
    """`value` as something a google.protobuf.Struct holds without loss: integers beyond
    2^53 and non-finite floats become text; tuples and sets become lists; other objects
    their str()."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value if -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((json_safe(v) for v in value), key=str)
    return str(value)


def make_instance(model, pk, fields=None):
    """An Instance: model label, pk as text ("" for None), fields as JSON values."""
    instance = event_pb2.Instance(model=model or "", pk="" if pk is None else str(pk))
    if fields:
        instance.fields.update(json_safe(dict(fields)))
    return instance


def make_request_meta(request):
    """RequestMeta from a dict (method, path, remote_addr, user_agent) or None."""
    if request is None:
        return None
    if isinstance(request, event_pb2.RequestMeta):
        return request
    meta = event_pb2.RequestMeta()
    for name in ("method", "path", "remote_addr", "user_agent"):
        value = request.get(name)
        if value:
            setattr(meta, name, str(value))
    return meta


def make_origin(origin):
    """DeleteOrigin from None, a DeleteOrigin, a (model, pk) pair, or a dict with model,
    pk and is_queryset."""
    if origin is None or isinstance(origin, event_pb2.DeleteOrigin):
        return origin
    if isinstance(origin, (tuple, list)):
        model, pk = origin
        return event_pb2.DeleteOrigin(model=model, pk="" if pk is None else str(pk))
    pk = origin.get("pk")
    return event_pb2.DeleteOrigin(
        model=origin.get("model", ""), pk="" if pk is None else str(pk), is_queryset=bool(origin.get("is_queryset"))
    )


def model_save(signal, sender, pk, fields=None, created=False, raw=False, using="default", update_fields=None):
    event = Event(signal=signal, sender=sender)
    save = event.model_save
    save.instance.CopyFrom(make_instance(sender, pk, fields))
    save.created = bool(created)
    save.raw = bool(raw)
    save.using = using or ""
    if update_fields is not None:
        save.update_fields.names.extend(sorted(str(name) for name in update_fields))
    return event


def model_delete(signal, sender, pk, fields=None, using="default", origin=None):
    event = Event(signal=signal, sender=sender)
    delete = event.model_delete
    delete.instance.CopyFrom(make_instance(sender, pk, fields))
    delete.using = using or ""
    origin = make_origin(origin)
    if origin is not None:
        delete.origin.CopyFrom(origin)
    return event


def m2m_changed(sender, action, instance_model, pk, fields=None, reverse=False, model="", pk_set=None, using="default"):
    if action not in M2M_ACTIONS:
        raise InvalidEvent("m2m_changed action %r is not one of %s" % (action, ", ".join(M2M_ACTIONS)))
    event = Event(signal="m2m_changed", sender=sender)
    change = event.m2m_changed
    change.action = M2M_ACTIONS[action]
    change.instance.CopyFrom(make_instance(instance_model, pk, fields))
    change.reverse = bool(reverse)
    change.model = model or ""
    change.pk_set.extend(sorted(str(p) for p in (pk_set or ())))
    change.using = using or ""
    return event


def user_session(signal, sender, user_pk=None, username="", request=None):
    event = Event(signal=signal, sender=sender)
    session = event.user_session
    session.SetInParent()
    if user_pk is not None:
        session.user.model = sender
        session.user.pk = str(user_pk)
    session.username = username or ""
    meta = make_request_meta(request)
    if meta is not None:
        session.request.CopyFrom(meta)
    return event


def login_failed(sender, credentials, request=None):
    event = Event(signal="user_login_failed", sender=sender)
    failed = event.login_failed
    failed.SetInParent()
    for name, value in mask_credentials(credentials or {}).items():
        failed.credentials[name] = value
    meta = make_request_meta(request)
    if meta is not None:
        failed.request.CopyFrom(meta)
    return event


def custom(sender, signal, kwargs=None, pk=None):
    if payload_for(signal) != "custom":
        raise InvalidEvent("'%s' is a Django signal; use its own helper, not custom()" % signal)
    event = Event(signal=signal, sender=sender)
    event.custom.SetInParent()
    if kwargs:
        event.custom.kwargs.update(json_safe(dict(kwargs)))
    event.custom.pk = "" if pk is None else str(pk)
    return event


def primary_key_of(event):
    kind = event.WhichOneof("payload")
    if kind == "model_save":
        return event.model_save.instance.pk
    if kind == "model_delete":
        return event.model_delete.instance.pk
    if kind == "m2m_changed":
        return event.m2m_changed.instance.pk
    if kind == "user_session":
        return event.user_session.user.pk
    if kind == "custom":
        return event.custom.pk
    return ""


def ordering_key_for(sender, pk):
    """"auth.User:42": events with one key are handled in publish order."""
    return "%s:%s" % (sender, pk) if pk else sender


def complete(event, source, publisher_id, sequence, now_ns):
    """Fills whatever the caller left unset (an event id already set is kept), masks
    credentials, and validates. Modifies `event` in place."""
    if not event.schema_version:
        event.schema_version = SCHEMA_VERSION
    if not event.event_id:
        event.event_id = ulid.new_ulid(now_ns // 1_000_000)
    if not event.source:
        event.source = source
    if not event.publisher_id:
        event.publisher_id = publisher_id
    event.sequence = sequence
    if not event.HasField("occurred_at"):
        event.occurred_at.seconds = now_ns // 1_000_000_000
        event.occurred_at.nanos = now_ns % 1_000_000_000
    kind = event.WhichOneof("payload")
    if kind == "model_save" and not event.model_save.instance.model:
        event.model_save.instance.model = event.sender
    if kind == "model_delete" and not event.model_delete.instance.model:
        event.model_delete.instance.model = event.sender
    if not event.ordering_key:
        event.ordering_key = ordering_key_for(event.sender, primary_key_of(event))
    if kind == "login_failed":
        masked = mask_credentials(dict(event.login_failed.credentials))
        event.login_failed.credentials.clear()
        event.login_failed.credentials.update(masked)
    validate(event)


def validate_publisher_id(publisher_id):
    """Raises InvalidEvent unless `publisher_id` is at most 128 bytes of ASCII letters,
    digits and . _ : - (empty is allowed: a fire-and-forget publisher)."""
    if len(publisher_id.encode()) > MAX_PUBLISHER_ID_BYTES:
        raise InvalidEvent("publisher_id is %d bytes, over the limit of %d"
                           % (len(publisher_id.encode()), MAX_PUBLISHER_ID_BYTES))
    if not _PUBLISHER_ID_RE.match(publisher_id):
        raise InvalidEvent("publisher_id %r has a character other than ASCII letters, digits and . _ : -"
                           % publisher_id[:64])


def _check_length(what, text, limit):
    size = len(text.encode())
    if size > limit:
        raise InvalidEvent("%s is %d bytes, over the limit of %d" % (what, size, limit))


def _struct_too_deep(struct, level=1):
    if level > MAX_VALUE_NESTING:
        return True
    return any(_value_too_deep(value, level) for value in struct.fields.values())


def _value_too_deep(value, level):
    """`level`: the depth of the object or array holding `value`."""
    kind = value.WhichOneof("kind")
    if kind == "struct_value":
        return _struct_too_deep(value.struct_value, level + 1)
    if kind == "list_value":
        return level + 1 > MAX_VALUE_NESTING or any(_value_too_deep(v, level + 1) for v in value.list_value.values)
    return False


def _nested_values(event):
    """(name, Struct) of the JSON values the event's payload carries, if any."""
    kind = event.WhichOneof("payload")
    if kind in ("model_save", "model_delete", "m2m_changed"):
        return "%s.instance.fields" % kind, getattr(event, kind).instance.fields
    if kind == "custom":
        return "custom.kwargs", event.custom.kwargs
    return None, None


def validate(event):
    """Raises InvalidEvent naming the first rule `event` breaks (the broker's rules)."""
    if event.schema_version != SCHEMA_VERSION:
        raise InvalidEvent("schema_version %d is not supported (want %d)" % (event.schema_version, SCHEMA_VERSION))
    if not ulid.is_valid_ulid(event.event_id):
        raise InvalidEvent("event_id %r is not a ULID" % event.event_id[:64])
    validate_sender(event.sender)
    validate_signal(event.signal)
    if len(event.sender.encode()) + 1 + len(event.signal.encode()) > MAX_TOPIC_BYTES:
        raise InvalidEvent("topic is longer than 255 bytes")
    validate_publisher_id(event.publisher_id)
    _check_length("source", event.source, MAX_SOURCE_BYTES)
    _check_length("ordering_key", event.ordering_key, MAX_ORDERING_KEY_BYTES)
    if event.HasField("occurred_at"):
        seconds, nanos = event.occurred_at.seconds, event.occurred_at.nanos
        if not MIN_TIMESTAMP_SECONDS <= seconds <= MAX_TIMESTAMP_SECONDS:
            raise InvalidEvent("occurred_at (%d s) is outside 0001-01-01T00:00:00Z..9999-12-31T23:59:59Z" % seconds)
        if not 0 <= nanos <= 999_999_999:
            raise InvalidEvent("occurred_at.nanos %d is outside 0..999999999" % nanos)
    want = payload_for(event.signal)
    have = event.WhichOneof("payload")
    if have != want:
        raise InvalidEvent("signal %s needs a %s payload, got %s" % (event.signal, want, have or "none"))
    if have == "model_save":
        if event.signal == "pre_save" and event.model_save.created:
            raise InvalidEvent("pre_save cannot have created=true")
        _check_instance_model(event.model_save.instance, event.sender)
    elif have == "model_delete":
        _check_instance_model(event.model_delete.instance, event.sender)
    elif have == "m2m_changed" and event.m2m_changed.action == event_pb2.M2MChanged.ACTION_UNSPECIFIED:
        raise InvalidEvent("m2m_changed needs an action")
    name, values = _nested_values(event)
    if values is not None and _struct_too_deep(values):
        raise InvalidEvent("%s nest deeper than %d levels of objects and arrays (the limit for JSON values in an event)"
                           % (name, MAX_VALUE_NESTING))


def _check_instance_model(instance, sender):
    if instance.model and instance.model != sender:
        raise InvalidEvent("instance.model '%s' differs from sender '%s'" % (instance.model[:64], sender))


def topic_of(event):
    return event.sender + "/" + event.signal
