"""A real Django project for the tests: auth, sessions, an app of its own (accounts, with
an Order model and a custom signal) and signalbus.django."""
