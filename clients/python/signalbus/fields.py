"""The fields of an event's instance as a plain dict, for receivers: protobuf's Struct
carries every number as a double, so integral numbers come back as int (up to 2^53,
where a double is still exact), strings, bools, None, lists and dicts as they are.

    @signalbus.receiver("post_save", sender="auth.User")
    def welcome(event):
        user = signalbus.fields(event)          # {"id": 42, "username": "alice", ...}
        if event.model_save.created and user.get("email"):
            send_mail(user["email"])
"""

_EXACT = 2 ** 53


def _plain(value):
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        number = value.number_value
        return int(number) if number.is_integer() and abs(number) <= _EXACT else number
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "struct_value":
        return struct_to_dict(value.struct_value)
    if kind == "list_value":
        return [_plain(item) for item in value.list_value.values]
    return None  # null_value, or unset


def struct_to_dict(struct):
    return {key: _plain(value) for key, value in struct.fields.items()}


def fields(event):
    """The instance fields of a model_save, model_delete or m2m_changed event, the kwargs
    of a custom signal, {} for the other kinds."""
    kind = event.WhichOneof("payload")
    if kind in ("model_save", "model_delete", "m2m_changed"):
        return struct_to_dict(getattr(event, kind).instance.fields)
    if kind == "custom":
        return struct_to_dict(event.custom.kwargs)
    return {}
