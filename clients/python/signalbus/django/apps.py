"""The AppConfig of signalbus.django. Its label is "signalbus_django" so that it cannot
clash with Django's own packages; ready() checks the SIGNALBUS setting and connects the
signal handlers, and a change of the setting (override_settings) reconnects them."""
from django.apps import AppConfig


class SignalbusConfig(AppConfig):
    name = "signalbus.django"
    label = "signalbus_django"
    verbose_name = "signalbus"

    def ready(self):
        from django.test.signals import setting_changed

        from signalbus.django import conf, handlers, publishing

        handlers.connect(conf.get())

        def on_setting_changed(setting, **kwargs):
            if setting != "SIGNALBUS":
                return
            conf.reset()
            publishing.reset()
            handlers.disconnect()
            handlers.connect(conf.get())

        setting_changed.connect(on_setting_changed, dispatch_uid="signalbus.django.setting_changed", weak=False)
