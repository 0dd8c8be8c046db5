"""Credential masking for user_login_failed, with Django's rule (django.views.debug's
cleanse setting): a name containing API, TOKEN, KEY, SECRET, PASS or SIGNATURE, in any
case, has its value replaced before anything leaves the process."""
import re

MASKED_VALUE = "********************"
_SECRET_NAME = re.compile("API|TOKEN|KEY|SECRET|PASS|SIGNATURE", re.IGNORECASE)


def is_secret_name(name):
    return bool(_SECRET_NAME.search(str(name)))


def mask_credentials(credentials):
    """A copy of `credentials` (name -> value) with every secret-looking value masked and
    every value as text."""
    return {
        str(name): MASKED_VALUE if is_secret_name(name) else ("" if value is None else str(value))
        for name, value in credentials.items()
    }
