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

        import importlib

        from django.core.exceptions import ImproperlyConfigured

        from signalbus.django import conf, handlers, publishing, relay_thread

        config = conf.get()
        for module in config.receivers:
            try:
                importlib.import_module(module)
            except ImportError as error:
                raise ImproperlyConfigured("SIGNALBUS['RECEIVERS']: cannot import %r: %s" % (module, error)) from None
        handlers.connect(config)

        def on_setting_changed(setting, **kwargs):
            if setting != "SIGNALBUS":
                return
            conf.reset()
            publishing.reset()
            relay_thread.stop_all(0)
            handlers.disconnect()
            handlers.connect(conf.get())

        setting_changed.connect(on_setting_changed, dispatch_uid="signalbus.django.setting_changed", weak=False)
