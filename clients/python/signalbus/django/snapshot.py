"""What a Django object looks like on the bus: an instance's concrete fields as JSON values
(taken when the signal fires), its pk as text, a request's method, path, address and
user agent (never cookies or headers wholesale), and a deletion's origin."""
import base64
import datetime
import decimal
import uuid

from django.utils.duration import duration_iso_string

from signalbus.envelope import json_safe, make_instance


def label_of(model):
    """"auth.User" for a model class or instance."""
    return model._meta.label


def pk_text(instance):
    pk = instance.pk
    return "" if pk is None else str(pk)


def json_value(value):
    """A field value as JSON: dates and times in ISO 8601, durations as ISO 8601 durations,
    Decimals and UUIDs as text, bytes as base64, files by name; see envelope.json_safe for
    the rest (large integers as text)."""
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return duration_iso_string(value)
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if hasattr(value, "name") and hasattr(value, "storage"):  # a FieldFile
        return value.name or None
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    return json_safe(value)


def instance_fields(instance, exclude=frozenset()):
    """The concrete fields of `instance` by attname (a foreign key as "customer_id"), as
    JSON values. Deferred fields are left out: loading them would query the database
    (and fail after a delete)."""
    deferred = instance.get_deferred_fields()
    fields = {}
    for field in instance._meta.concrete_fields:
        if field.attname in deferred or field.name in exclude or field.attname in exclude:
            continue
        fields[field.attname] = json_value(field.value_from_object(instance))
    return fields


def snapshot(instance, exclude_by_label):
    """The envelope's Instance for a model instance."""
    label = label_of(instance)
    return make_instance(label, pk_text(instance), instance_fields(instance, exclude_by_label.get(label, ())))


def request_meta(request):
    """{"method", "path", "remote_addr", "user_agent"} of an HttpRequest, or None."""
    if request is None:
        return None
    meta = getattr(request, "META", {}) or {}
    return {
        "method": getattr(request, "method", "") or "",
        "path": getattr(request, "path", "") or "",
        "remote_addr": meta.get("REMOTE_ADDR", ""),
        "user_agent": meta.get("HTTP_USER_AGENT", ""),
    }


def delete_origin(origin):
    """Django >= 4.1 passes `origin` (the instance or QuerySet whose delete() started it)."""
    if origin is None:
        return None
    if hasattr(origin, "_meta"):
        return {"model": label_of(origin), "pk": pk_text(origin)}
    model = getattr(origin, "model", None)
    if model is not None:
        return {"model": label_of(model), "is_queryset": True}
    return None
