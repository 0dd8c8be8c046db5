"""A receiver defined inside a function: its qualname holds "<locals>", which no group
name may, so the worker asks for a uid."""
import signalbus


def make():
    @signalbus.receiver("post_save", sender="auth.User")
    def inner(event):
        pass


make()
